import { clientName, ServiceError } from '../errors.js';
import { chooseFace, type FaceChoice, type FaceChoicePolicy, relevantFaceHeight } from '../face/choice.js';
import type { Detection } from '../face/detector.js';
import type { FacePipeline } from '../face/pipeline.js';
import { type DecodeLimits, type EncodedImage, openImage } from '../media/image.js';
import { ignoreStages, type StageObserver, timedSync } from '../observability/stages.js';
import { type CalibrationAnchors, type Decision, type DecisionThresholds, decide, scoreFromCosine } from './score.js';
import { decodeTemplateInto, encodeTemplate, type TemplateModel } from './template.js';

export interface BiometryDeps {
  pipeline: FacePipeline;
  observe?: StageObserver;
  decodeLimits: DecodeLimits;
  faceChoice: FaceChoicePolicy;
  templateModel: TemplateModel;
  calibration: CalibrationAnchors;
  thresholds: DecisionThresholds;
}

export interface Match {
  score: number;
  decision: Decision;
}

export interface NamedMatch extends Match {
  filename: string;
}

/** A template or image of a 1:N request, named by the filename its part carried. */
export interface Named {
  filename: string;
  bytes: Uint8Array;
}

/** What a sample shows: its faces, tallest first, and which of them it is about. */
export interface SampleFaces {
  image: EncodedImage;
  faces: Detection[];
  choice: FaceChoice<Detection>;
}

export interface Biometry {
  /** Finds the sample's faces and chooses its subject, as every method that takes an image does. */
  findFaces(image: Uint8Array): Promise<SampleFaces>;
  /** The L2-normalised embedding of the one person a sample shows. */
  describeSample(image: Uint8Array): Promise<Float32Array>;
  extract(image: Uint8Array): Promise<Buffer>;
  compare(template1: Uint8Array, template2: Uint8Array): Match;
  verify(image: Uint8Array, template: Uint8Array): Promise<Match & { template: Buffer }>;
  extractAndCompare(image1: Uint8Array, image2: Uint8Array): Promise<Match>;
  compareN(template: Uint8Array, templates: readonly Named[]): NamedMatch[];
  verifyN(image: Uint8Array, templates: readonly Named[]): Promise<NamedMatch[]>;
  extractAndCompareN(image: Uint8Array, images: readonly Named[]): Promise<NamedMatch[]>;
}

/** Scores go out with 4 decimals: enough for any threshold, and identical templates read exactly 1. */
const roundScore = (score: number): number => Math.round(score * 1e4) / 1e4;

/** Names the item a failure is about, keeping its kind (and so its error code). */
function about(item: string, error: unknown): unknown {
  return error instanceof ServiceError ? new ServiceError(error.kind, error.detail ? `${item}: ${error.detail}` : item) : error;
}

export function createBiometry(deps: BiometryDeps): Biometry {
  const dimension = deps.templateModel.dimension;
  const observe = deps.observe ?? ignoreStages;

  async function findFaces(bytes: Uint8Array): Promise<SampleFaces> {
    const image = await openImage(bytes, deps.decodeLimits, observe);
    const faces = await deps.pipeline.detect(image, relevantFaceHeight(deps.faceChoice, image));
    return { image, faces, choice: chooseFace(faces, image, deps.faceChoice) };
  }

  async function describeSample(bytes: Uint8Array): Promise<Float32Array> {
    const { image: sample, choice } = await findFaces(bytes);
    if (choice.kind === 'none') throw new ServiceError('no-face');
    if (choice.kind === 'several') throw new ServiceError('multiple-faces', `${choice.count} faces of comparable prominence`);
    const face = await deps.pipeline.locate(sample, choice.face, ['embed']);
    try {
      return await deps.pipeline.embed(sample, face);
    } catch (error) {
      if (error instanceof RangeError) throw new ServiceError('template-not-extracted', 'the face could not be aligned');
      throw error;
    }
  }

  /** Templates laid end to end in one matrix, so that 1:N matching is one pass over contiguous memory. */
  function templateMatrix(templates: readonly Named[]): Float32Array {
    const matrix = new Float32Array(templates.length * dimension);
    templates.forEach((template, index) => {
      try {
        decodeTemplateInto(template.bytes, deps.templateModel, matrix, index * dimension);
      } catch (error) {
        throw about(`template ${index + 1} ("${clientName(template.filename)}")`, error);
      }
    });
    return matrix;
  }

  function singleTemplate(bytes: Uint8Array, part: string): Float32Array {
    const values = new Float32Array(dimension);
    try {
      decodeTemplateInto(bytes, deps.templateModel, values, 0);
    } catch (error) {
      throw about(`part "${part}"`, error);
    }
    return values;
  }

  function match(cosine: number): Match {
    const score = roundScore(scoreFromCosine(cosine, deps.calibration));
    return { score, decision: decide(score, deps.thresholds) };
  }

  function dot(a: Float32Array, b: Float32Array, offset = 0): number {
    let sum = 0;
    for (let i = 0; i < dimension; i++) sum += a[i]! * b[offset + i]!;
    return sum;
  }

  const matchOne = (a: Float32Array, b: Float32Array): Match => timedSync(observe, 'match', () => match(dot(a, b)));

  function matchAll(probe: Float32Array, matrix: Float32Array, names: readonly Named[]): NamedMatch[] {
    return timedSync(observe, 'match', () => names.map((named, index) => ({ filename: named.filename, ...match(dot(probe, matrix, index * dimension)) })));
  }

  async function describeNamed(image: Uint8Array, name: string): Promise<Float32Array> {
    try {
      return await describeSample(image);
    } catch (error) {
      throw about(name, error);
    }
  }

  return {
    findFaces,
    describeSample,
    extract: async (image) => encodeTemplate(await describeSample(image), deps.templateModel),
    compare: (template1, template2) => matchOne(singleTemplate(template1, 'bio_feature'), singleTemplate(template2, 'bio_template')),
    async verify(image, template) {
      const reference = singleTemplate(template, 'bio_template');
      const embedding = await describeSample(image);
      return { ...matchOne(embedding, reference), template: encodeTemplate(embedding, deps.templateModel) };
    },
    async extractAndCompare(image1, image2) {
      const [first, second] = await Promise.all([describeNamed(image1, 'sample_1'), describeNamed(image2, 'sample_2')]);
      return matchOne(first, second);
    },
    compareN: (template, templates) => matchAll(singleTemplate(template, 'template_1'), templateMatrix(templates), templates),
    async verifyN(image, templates) {
      const matrix = templateMatrix(templates);
      return matchAll(await describeSample(image), matrix, templates);
    },
    async extractAndCompareN(image, images) {
      const probe = await describeNamed(image, 'sample_1');
      const matrix = new Float32Array(images.length * dimension);
      for (const [index, named] of images.entries()) {
        matrix.set(await describeNamed(named.bytes, `sample ${index + 1} ("${clientName(named.filename)}")`), index * dimension);
      }
      return matchAll(probe, matrix, images);
    },
  };
}
