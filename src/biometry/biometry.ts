import { aboutItem, ServiceError } from '../errors.js';
import { chooseFace, type FaceChoice, type FaceChoicePolicy, relevantFaceHeight } from '../face/choice.js';
import type { Detection } from '../face/detector.js';
import { DegenerateFaceError } from '../face/geometry.js';
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

/** What a sample shows: its faces, tallest first, and which of them it is about. */
export interface SampleFaces {
  image: EncodedImage;
  faces: Detection[];
  choice: FaceChoice<Detection>;
}

/**
 * The use cases of the biometry area. Inputs are positional; a failure about one input carries its position as
 * `item` (see FailureContext): the probe is item 0, the other input or the k-th 1:N candidate item 1 or k.
 */
export interface Biometry {
  /** Finds the sample's faces and chooses its subject, as every method that takes an image does. */
  findFaces(image: Uint8Array): Promise<SampleFaces>;
  /** The L2-normalised embedding of the one person a sample shows. */
  describeSample(image: Uint8Array): Promise<Float32Array>;
  extract(image: Uint8Array): Promise<Buffer>;
  compare(template1: Uint8Array, template2: Uint8Array): Match;
  verify(image: Uint8Array, template: Uint8Array): Promise<Match & { template: Buffer }>;
  extractAndCompare(image1: Uint8Array, image2: Uint8Array): Promise<Match>;
  /** One match per candidate, in their order. */
  compareN(template: Uint8Array, templates: readonly Uint8Array[]): Match[];
  verifyN(image: Uint8Array, templates: readonly Uint8Array[]): Promise<Match[]>;
  extractAndCompareN(image: Uint8Array, images: readonly Uint8Array[]): Promise<Match[]>;
}

/** Scores go out with 4 decimals: enough for any threshold, and identical templates read exactly 1. */
const roundScore = (score: number): number => Math.round(score * 1e4) / 1e4;

/** Runs `work` on input `item`, placing a failure it raises at that item. */
async function onItem<T>(item: number, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw aboutItem(error, item);
  }
}

function onItemSync<T>(item: number, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw aboutItem(error, item);
  }
}

/** The first candidate of a 1:N request is input 1, after the probe. */
const FIRST_CANDIDATE = 1;

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
      if (error instanceof DegenerateFaceError) throw new ServiceError('template-not-extracted', 'the face could not be aligned');
      throw error;
    }
  }

  /** Templates laid end to end in one matrix, so that 1:N matching is one pass over contiguous memory. */
  function templateMatrix(templates: readonly Uint8Array[]): Float32Array {
    const matrix = new Float32Array(templates.length * dimension);
    templates.forEach((template, index) => {
      onItemSync(FIRST_CANDIDATE + index, () => decodeTemplateInto(template, deps.templateModel, matrix, index * dimension));
    });
    return matrix;
  }

  function singleTemplate(bytes: Uint8Array, item: number): Float32Array {
    const values = new Float32Array(dimension);
    onItemSync(item, () => decodeTemplateInto(bytes, deps.templateModel, values, 0));
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

  function matchAll(probe: Float32Array, matrix: Float32Array, count: number): Match[] {
    return timedSync(observe, 'match', () => Array.from({ length: count }, (_, index) => match(dot(probe, matrix, index * dimension))));
  }

  const describeItem = (image: Uint8Array, item: number): Promise<Float32Array> => onItem(item, () => describeSample(image));

  return {
    findFaces,
    describeSample,
    extract: async (image) => encodeTemplate(await describeItem(image, 0), deps.templateModel),
    compare: (template1, template2) => matchOne(singleTemplate(template1, 0), singleTemplate(template2, 1)),
    async verify(image, template) {
      const reference = singleTemplate(template, 1);
      const embedding = await describeItem(image, 0);
      return { ...matchOne(embedding, reference), template: encodeTemplate(embedding, deps.templateModel) };
    },
    async extractAndCompare(image1, image2) {
      const [first, second] = await Promise.all([describeItem(image1, 0), describeItem(image2, 1)]);
      return matchOne(first, second);
    },
    compareN: (template, templates) => matchAll(singleTemplate(template, 0), templateMatrix(templates), templates.length),
    async verifyN(image, templates) {
      const matrix = templateMatrix(templates);
      return matchAll(await describeItem(image, 0), matrix, templates.length);
    },
    async extractAndCompareN(image, images) {
      const probe = await describeItem(image, 0);
      const matrix = new Float32Array(images.length * dimension);
      for (const [index, candidate] of images.entries()) {
        matrix.set(await describeItem(candidate, FIRST_CANDIDATE + index), index * dimension);
      }
      return matchAll(probe, matrix, images.length);
    },
  };
}
