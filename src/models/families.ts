/**
 * The closed registry of model families: for each, the role it fills, the params its manifest entry takes, what its
 * graph must have beyond what the entry declares, and how it becomes the face pipeline's model of that role. A family
 * missing any of these does not compile (each row is made by `family`, which types its contract and factory against
 * its params schema); the manifest accepts exactly the families listed here.
 */
import { z } from 'zod';
import { antiSpoofClassifier } from '../face/antispoof.js';
import type { DetectorFamily } from '../face/detector.js';
import { scrfdFamily } from '../face/detector-scrfd.js';
import { ultrafaceFamily } from '../face/detector-ultraface.js';
import { yunetFamily } from '../face/detector-yunet.js';
import { arcfaceEmbedder } from '../face/embedder.js';
import { landmarker68 } from '../face/landmarks.js';
import type { AntiSpoofModel, DetectorModel, EmbedderModel, FaceModels, LandmarkerModel } from '../face/roles.js';
import type { ModelInputSpec } from '../face/sampling.js';
import type { ValueInfo } from './inference-protocol.js';

const point = z.tuple([z.number(), z.number()]);

const inputSpec = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().positive()).length(4),
  layout: z.literal('NCHW'),
  channelOrder: z.enum(['RGB', 'BGR', 'GRAY']),
  mean: z.array(z.number()).min(1).max(3),
  std: z.array(z.number().refine((v) => v !== 0, 'std must not be 0')).min(1).max(3),
}) satisfies z.ZodType<ModelInputSpec>;

const outputSpec = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().positive()),
});

const npmSource = z.object({
  npmPackage: z.string().min(1),
  npmVersion: z.string().min(1),
  integrity: z.string().startsWith('sha512-'),
  path: z.string().min(1),
});

const modelId = z.string().regex(/^[A-Za-z0-9_.-]+$/);

/** The fields every model has besides its id and family, in the order the manifest lists them; `params` is its family's. */
const envelope = {
  file: z.string().regex(/^[A-Za-z0-9_.-]+\.onnx$/, 'a file name inside the models directory'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().positive(),
  version: z.string().min(1),
  source: z.union([npmSource, z.string().min(1)]),
  licence: z.string().min(1),
  input: inputSpec,
  outputs: z.array(outputSpec).min(1),
};

/** What a family's entry holds: the common fields and its params. */
export type FamilyEntry<P extends z.ZodRawShape> = { id: string; family: string } & z.output<z.ZodObject<typeof envelope>> & { params: z.output<z.ZodObject<P>> };

/** What the runtime reports of a loaded graph. */
export interface GraphSignature {
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
}

/** The face pipeline's model of each role, as a family builds it. */
export interface RoleModels {
  detector: DetectorModel;
  landmarker: LandmarkerModel;
  embedder: EmbedderModel;
  antiSpoof: AntiSpoofModel;
}

export type Role = keyof RoleModels;

interface FamilyRow<R extends Role, P extends z.ZodRawShape> {
  role: R;
  params: P;
  /** Problems of the graph for this family's pre/post-processing (output layout, sizes); empty when it fits. */
  contract(entry: FamilyEntry<P>, graph: GraphSignature): string[];
  create(entry: FamilyEntry<P>): RoleModels[R];
  /** A detector that gives no alignment points: the manifest must assign a landmarker. */
  needsLandmarker?: true;
}

const family = <R extends Role, P extends z.ZodRawShape>(row: FamilyRow<R, P>): FamilyRow<R, P> => row;

/** How every detector family searches an image (see src/face/detector.ts DetectionParams). */
const detection = {
  scoreThreshold: z.number().gt(0).lt(1),
  confidentScore: z.number().gt(0).lte(1),
  verificationScore: z.number().gt(0).lt(1),
  verificationContexts: z.array(z.number().gt(1)).min(1),
  paddingMargin: z.number().gt(0),
  nmsIouThreshold: z.number().gt(0).lt(1),
  reliableFaceHeight: z.number().positive(),
};

const strides = z.array(z.number().int().positive()).min(1);

const detectorModel = (entry: FamilyEntry<typeof detection>, decoder: DetectorFamily): DetectorModel => ({
  id: entry.id,
  input: entry.input,
  params: entry.params,
  fit: decoder.fit,
  decode: decoder.decode,
});

const elements = (shape: ReadonlyArray<number | string>): number => shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);

/** The graph's first declared output: the one a landmarker, embedder or classifier answers with. */
const firstOutput = (entry: FamilyEntry<z.ZodRawShape>, graph: GraphSignature): ValueInfo | undefined =>
  graph.outputs.find((o) => o.name === entry.outputs[0]?.name);

/** Cosine → score anchors: cosines strictly increasing, scores increasing from 0 to 1, ending at cosine 1. */
const scoreCalibration = z
  .array(z.tuple([z.number().min(-1).max(1), z.number().min(0).max(1)]))
  .min(2)
  .refine((anchors) => anchors.every(([c, s], i) => i === 0 || (c > anchors[i - 1]![0] && s >= anchors[i - 1]![1])), 'anchors must increase')
  .refine((anchors) => anchors.at(-1)![0] === 1 && anchors.at(-1)![1] === 1, 'the last anchor must be [1, 1]');

export const families = {
  /** UltraFace (Linzaer's, and the bundled fr_detect): outputs `scores` [1,N,2] and `boxes` [1,N,4]. */
  'detector.ultraface': family({
    role: 'detector',
    params: detection,
    contract: (entry, graph) => ultrafaceFamily(entry).contractProblems(graph.outputs),
    create: (entry) => detectorModel(entry, ultrafaceFamily(entry)),
    needsLandmarker: true,
  }),
  /** YuNet (libfacedetection / OpenCV): cls, obj, bbox and kps outputs per stride, five landmarks. */
  'detector.yunet': family({
    role: 'detector',
    params: { ...detection, strides },
    contract: (entry, graph) => yunetFamily(entry).contractProblems(graph.outputs),
    create: (entry) => detectorModel(entry, yunetFamily(entry)),
  }),
  /**
   * SCRFD as InsightFace exports it: scores, then box distances, then landmark offsets, one output per stride each,
   * in the order of `outputs`; `anchorsPerLocation` anchors per grid cell.
   */
  'detector.scrfd': family({
    role: 'detector',
    params: { ...detection, strides, anchorsPerLocation: z.number().int().positive() },
    contract: (entry, graph) => scrfdFamily(entry).contractProblems(graph.outputs),
    create: (entry) => detectorModel(entry, scrfdFamily(entry)),
  }),
  /** The 68 points of iBUG 300-W as (x, y) fractions of a crop `cropScale` times the face box. */
  'landmarker.68': family({
    role: 'landmarker',
    params: { cropScale: z.number().positive() },
    contract: (entry, graph) => {
      const output = firstOutput(entry, graph);
      return output && elements(output.shape) === 136 ? [] : ['a 68-point landmarker has one output of 136 values (x, y per point)'];
    },
    create: landmarker68,
  }),
  /** An ArcFace-style embedder of a 112×112 face aligned onto `alignmentTemplate`. */
  'embedder.arcface': family({
    role: 'embedder',
    params: { alignmentTemplate: z.array(point).length(5), scoreCalibration },
    contract: (entry, graph) => {
      const problems: string[] = [];
      if (entry.input.shape[2] !== 112 || entry.input.shape[3] !== 112) problems.push('an ArcFace-style embedder takes a 112×112 aligned face');
      const output = firstOutput(entry, graph);
      if (!output || elements(output.shape) < 64) problems.push('an embedder has one output of at least 64 values');
      return problems;
    },
    create: arcfaceEmbedder,
  }),
  /** Any anti-spoof classifier of a face crop (see src/face/antispoof.ts AntiSpoofParams). */
  'antispoof.classifier': family({
    role: 'antiSpoof',
    params: {
      cropScale: z.number().positive(),
      liveClassIndex: z.number().int().nonnegative(),
      faceBox: z.enum(['square', 'detected', 'square-on-longer-side']).default('square'),
      cropMode: z.enum(['shrink-to-fit', 'reflect', 'constant']).default('shrink-to-fit'),
      cropFill: z.number().min(0).max(255).default(0),
    },
    contract: (entry, graph) => {
      const output = firstOutput(entry, graph);
      return output && elements(output.shape) > entry.params.liveClassIndex ? [] : [`the classifier's output has no class ${entry.params.liveClassIndex} (liveClassIndex)`];
    },
    create: antiSpoofClassifier,
  }),
};

export type FamilyName = keyof typeof families;
type Families = typeof families;

/** The manifest entry of a model of family F (distributes over a union of families). */
export type EntryOf<F extends FamilyName> = F extends FamilyName ? FamilyEntry<Families[F]['params']> & { family: F } : never;
export type ModelEntry = EntryOf<FamilyName>;
export type FamilyOfRole<R extends Role> = { [F in FamilyName]: Families[F]['role'] extends R ? F : never }[FamilyName];
export type RoleEntry<R extends Role> = EntryOf<FamilyOfRole<R>>;

const entrySchemas = (Object.keys(families) as FamilyName[]).map((name) =>
  z.object({ id: modelId, family: z.literal(name), ...envelope, params: z.object(families[name].params) }),
);

/**
 * The schema of a manifest entry: one per family, told apart by `family`. TypeScript cannot follow a list built from
 * the table to the union of its entries; each schema in it is its own family's.
 */
export const modelEntrySchema = z.discriminatedUnion('family', [entrySchemas[0]!, ...entrySchemas.slice(1)]) as unknown as z.ZodType<ModelEntry>;

/**
 * A row of the table seen through an entry of its family. A row is only ever handed entries of its own family (the
 * manifest's discriminant), which TypeScript cannot correlate across the union by itself.
 */
function rowOf(entry: ModelEntry): FamilyRow<Role, z.ZodRawShape> {
  return families[entry.family] as unknown as FamilyRow<Role, z.ZodRawShape>;
}

export const roleOf = (family: FamilyName): Role => families[family].role;

export const needsLandmarker = (family: FamilyName): boolean => families[family].needsLandmarker === true;

/** What every input must be: as many channels as its colour order has, one mean and std or one per channel. */
function inputProblems(entry: ModelEntry): string[] {
  const channels = entry.input.shape[1];
  const wanted = entry.input.channelOrder === 'GRAY' ? 1 : 3;
  const problems = channels === wanted ? [] : [`input has ${channels} channels, ${entry.input.channelOrder} needs ${wanted}`];
  if (entry.input.mean.length !== 1 && entry.input.mean.length !== wanted) problems.push(`mean and std need 1 or ${wanted} values`);
  return problems;
}

/** Problems of a graph for its entry's family, beyond the input and outputs the entry declares; empty when it fits. */
export function contractProblems(entry: ModelEntry, graph: GraphSignature): string[] {
  return [...inputProblems(entry), ...rowOf(entry).contract(entry, graph)];
}

const create = <R extends Role>(entry: RoleEntry<R>): RoleModels[R] => rowOf(entry).create(entry) as RoleModels[R];

/** The manifest's models of each role, as the face pipeline runs them. */
export interface ModelRoles {
  detector: RoleEntry<'detector'>;
  /** Without one, alignment uses the five points the detector gives (YuNet, SCRFD). */
  landmarker: RoleEntry<'landmarker'> | undefined;
  embedder: RoleEntry<'embedder'>;
  antiSpoof: RoleEntry<'antiSpoof'>[];
}

/** The face pipeline's models, each built by its family from its entry. */
export function faceModels(roles: ModelRoles): FaceModels {
  return {
    detector: create<'detector'>(roles.detector),
    landmarker: roles.landmarker && create<'landmarker'>(roles.landmarker),
    embedder: create<'embedder'>(roles.embedder),
    antiSpoof: roles.antiSpoof.map((entry) => create<'antiSpoof'>(entry)),
  };
}
