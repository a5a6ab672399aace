import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

const point = z.tuple([z.number(), z.number()]);

const inputSpec = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().positive()).length(4),
  layout: z.literal('NCHW'),
  channelOrder: z.enum(['RGB', 'BGR', 'GRAY']),
  mean: z.array(z.number()).min(1).max(3),
  std: z.array(z.number().refine((v) => v !== 0, 'std must not be 0')).min(1).max(3),
});

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

/** A manifest entry of one model family: the fields every model has, in the order the manifest lists them. */
function entry<F extends string, P extends z.ZodRawShape>(family: F, params: P) {
  return z.object({
    id: z.string().regex(/^[A-Za-z0-9_.-]+$/),
    family: z.literal(family),
    file: z.string().regex(/^[A-Za-z0-9_.-]+\.onnx$/, 'a file name inside the models directory'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().positive(),
    version: z.string().min(1),
    source: z.union([npmSource, z.string().min(1)]),
    licence: z.string().min(1),
    input: inputSpec,
    outputs: z.array(outputSpec).min(1),
    params: z.object(params),
  });
}

/** How every detector family searches an image (see src/face/pipeline.ts findFaces). */
const detection = {
  /** Candidates below this score are discarded. */
  scoreThreshold: z.number().gt(0).lt(1),
  /** Candidates at or above this score are faces; those below must be found again in a verification window. */
  confidentScore: z.number().gt(0).lte(1),
  verificationScore: z.number().gt(0).lt(1),
  /**
   * Heights of the verification windows, in face heights: a weak candidate must be found again in each. A real face
   * is found again at every scale; the false boxes of a detector (an animal's face, a texture) at one at most.
   */
  verificationContexts: z.array(z.number().gt(1)).min(1),
  /** Margin of the canvas used when no confident face is found, as a share of the image size per side. */
  paddingMargin: z.number().gt(0),
  nmsIouThreshold: z.number().gt(0).lt(1),
  /**
   * Height, in detector input pixels, down to which one pass finds every face (measured with
   * tools/detector-recall.ts): the service searches tiles only where smaller faces could matter.
   */
  reliableFaceHeight: z.number().positive(),
};

const strides = z.array(z.number().int().positive()).min(1);

/** UltraFace (Linzaer's, and the bundled fr_detect): outputs `scores` [1,N,2] and `boxes` [1,N,4], image stretched. */
const detectorUltraface = entry('detector.ultraface', detection);

/** YuNet (libfacedetection / OpenCV): cls, obj, bbox and kps outputs per stride, five landmarks, image letterboxed. */
const detectorYunet = entry('detector.yunet', { ...detection, strides });

/**
 * SCRFD as InsightFace exports it: scores, then box distances, then landmark offsets, one output per stride each,
 * in the order of `outputs`; `anchorsPerLocation` anchors per grid cell; image letterboxed at the top left.
 */
const detectorScrfd = entry('detector.scrfd', { ...detection, strides, anchorsPerLocation: z.number().int().positive() });

const landmarker68 = entry('landmarker.68', { cropScale: z.number().positive() });

/** Cosine → score anchors: cosines strictly increasing, scores increasing from 0 to 1, ending at cosine 1. */
const scoreCalibration = z
  .array(z.tuple([z.number().min(-1).max(1), z.number().min(0).max(1)]))
  .min(2)
  .refine((anchors) => anchors.every(([c, s], i) => i === 0 || (c > anchors[i - 1]![0] && s >= anchors[i - 1]![1])), 'anchors must increase')
  .refine((anchors) => anchors.at(-1)![0] === 1 && anchors.at(-1)![1] === 1, 'the last anchor must be [1, 1]');

const embedderArcface = entry('embedder.arcface', { alignmentTemplate: z.array(point).length(5), scoreCalibration });

/**
 * Any anti-spoof classifier of a face crop, fed as it was trained: a face box — `square` (as tall as the detection,
 * centred, clipped to the image: the bundled model's), `detected` (the detector's box), or `square-on-longer-side`
 * (a square on the detection's longer side, not clipped) — enlarged `cropScale` times about its centre; where that
 * crop leaves the image, `cropMode` says what it holds: `shrink-to-fit` shrinks and shifts the crop to stay inside
 * (Silent-Face's CropImage), `reflect` mirrors the image (BORDER_REFLECT_101), `constant` fills `cropFill`. Then
 * resized to the input (colour order and value range from `input`), softmax over the output, class `liveClassIndex`
 * = live.
 */
const antispoofClassifier = entry('antispoof.classifier', {
  cropScale: z.number().positive(),
  liveClassIndex: z.number().int().nonnegative(),
  faceBox: z.enum(['square', 'detected', 'square-on-longer-side']).default('square'),
  cropMode: z.enum(['shrink-to-fit', 'reflect', 'constant']).default('shrink-to-fit'),
  cropFill: z.number().min(0).max(255).default(0),
});

const modelEntry = z.discriminatedUnion('family', [
  detectorUltraface,
  detectorYunet,
  detectorScrfd,
  landmarker68,
  embedderArcface,
  antispoofClassifier,
]);

const manifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    pipeline: z.object({
      detector: z.string(),
      /** Without a landmarker, alignment uses the five points the detector gives (YuNet, SCRFD). */
      landmarker: z.string().optional(),
      embedder: z.string(),
      antiSpoof: z.array(z.string()).min(1),
    }),
    models: z.array(modelEntry).min(1),
  })
  .superRefine((manifest, ctx) => {
    const ids = new Set<string>();
    for (const model of manifest.models) {
      if (ids.has(model.id)) ctx.addIssue({ code: 'custom', message: `duplicate model id "${model.id}"` });
      ids.add(model.id);
      if (model.input.mean.length !== model.input.std.length) {
        ctx.addIssue({ code: 'custom', message: `model "${model.id}": mean and std differ in length` });
      }
    }
    const byId = new Map(manifest.models.map((m) => [m.id, m]));
    const requireRole = (role: string, id: string, familyPrefix: string): void => {
      const model = byId.get(id);
      if (!model) ctx.addIssue({ code: 'custom', message: `pipeline.${role} names "${id}", which is not in models` });
      else if (!model.family.startsWith(familyPrefix)) {
        ctx.addIssue({ code: 'custom', message: `pipeline.${role} "${id}" is a ${model.family}, not a ${familyPrefix}` });
      }
    };
    requireRole('detector', manifest.pipeline.detector, 'detector.');
    if (manifest.pipeline.landmarker !== undefined) requireRole('landmarker', manifest.pipeline.landmarker, 'landmarker.');
    else if (byId.get(manifest.pipeline.detector)?.family === 'detector.ultraface') {
      ctx.addIssue({ code: 'custom', message: 'pipeline.landmarker is required: an UltraFace detector gives no landmarks to align with' });
    }
    requireRole('embedder', manifest.pipeline.embedder, 'embedder.');
    for (const id of manifest.pipeline.antiSpoof) requireRole('antiSpoof', id, 'antispoof.');
  });

export type ModelManifest = z.infer<typeof manifestSchema>;
export type ModelEntry = z.infer<typeof modelEntry>;
export type ModelInputSpec = z.infer<typeof inputSpec>;
export type DetectorEntry = z.infer<typeof detectorUltraface> | z.infer<typeof detectorYunet> | z.infer<typeof detectorScrfd>;
export type UltrafaceEntry = z.infer<typeof detectorUltraface>;
export type YunetEntry = z.infer<typeof detectorYunet>;
export type ScrfdEntry = z.infer<typeof detectorScrfd>;
export type LandmarkerEntry = z.infer<typeof landmarker68>;
export type EmbedderEntry = z.infer<typeof embedderArcface>;
export type AntiSpoofEntry = z.infer<typeof antispoofClassifier>;
export type NpmSource = z.infer<typeof npmSource>;

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export function parseManifest(json: unknown, origin: string): ModelManifest {
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  - ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ManifestError(`${origin} is not a valid model manifest:\n${problems.join('\n')}`);
  }
  return result.data;
}

export async function readManifest(modelsDir: string): Promise<ModelManifest> {
  const file = path.join(modelsDir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ManifestError(`cannot read model manifest ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(`model manifest ${file} is not JSON: ${(error as Error).message}`);
  }
  return parseManifest(json, file);
}

export interface PipelineModels {
  detector: DetectorEntry;
  landmarker: LandmarkerEntry | undefined;
  embedder: EmbedderEntry;
  antiSpoof: AntiSpoofEntry[];
}

/** The models of each pipeline role; parseManifest has already checked that every role names a model of its family. */
export function pipelineModels(manifest: ModelManifest): PipelineModels {
  const find = <F extends ModelEntry['family']>(id: string, family: F): Extract<ModelEntry, { family: F }> => {
    const model = manifest.models.find((m) => m.id === id);
    if (model?.family !== family) throw new ManifestError(`model "${id}" is not a ${family} model`);
    return model as Extract<ModelEntry, { family: F }>;
  };
  const detector = manifest.models.find((m) => m.id === manifest.pipeline.detector);
  if (!detector?.family.startsWith('detector.')) throw new ManifestError(`model "${manifest.pipeline.detector}" is not a detector`);
  const landmarker = manifest.pipeline.landmarker;
  return {
    detector: detector as DetectorEntry,
    landmarker: landmarker === undefined ? undefined : find(landmarker, 'landmarker.68'),
    embedder: find(manifest.pipeline.embedder, 'embedder.arcface'),
    antiSpoof: manifest.pipeline.antiSpoof.map((id) => find(id, 'antispoof.classifier')),
  };
}
