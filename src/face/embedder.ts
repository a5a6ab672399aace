import type { ImageView, Rect } from '../media/raster.js';
import { type Affine, applyAffine, DegenerateFaceError, invertAffine, type Point, similarityTransform } from './geometry.js';
import type { EmbedderModel } from './roles.js';
import { type ModelInputSpec, sampleView } from './sampling.js';

/** An ArcFace-style embedder: a face aligned by a similarity transform of five points onto `alignmentTemplate`. */
export interface ArcfaceSpec {
  id: string;
  input: ModelInputSpec;
  outputs: readonly { name: string }[];
  params: { alignmentTemplate: readonly Point[] };
}

/** The transform taking the image onto the embedder's aligned face (five points onto its template). */
export function alignmentTransform(fivePoints: readonly Point[], model: Pick<ArcfaceSpec, 'params'>): Affine {
  return similarityTransform(fivePoints, model.params.alignmentTemplate);
}

/**
 * The aligned face crop as the embedder's input: inverse-mapped bilinear warp, black outside the image; `mirrored`
 * flips it left to right (the mirror image of the aligned face).
 */
export function embedderInput(view: ImageView, imageToAligned: Affine, model: Pick<ArcfaceSpec, 'input'>, mirrored = false): Float32Array {
  const [a, b, c, d, e, f] = invertAffine(imageToAligned);
  const flip = model.input.shape[3]! - 1;
  const alignedToImage: Affine = mirrored ? [-a, b, a * flip + c, -d, e, d * flip + f] : [a, b, c, d, e, f];
  return sampleView(view, alignedToImage, model.input, { fill: 0 });
}

/** The part of the image the aligned face is sampled from: the bounding box of the input's corners, one pixel wider. */
export function alignedFootprint(imageToAligned: Affine, model: Pick<ArcfaceSpec, 'input'>): Rect {
  const [, , height, width] = model.input.shape as [number, number, number, number];
  const toImage = invertAffine(imageToAligned);
  const corners = [applyAffine(toImage, [0, 0]), applyAffine(toImage, [width, 0]), applyAffine(toImage, [0, height]), applyAffine(toImage, [width, height])];
  const xs = corners.map(([x]) => x);
  const ys = corners.map(([, y]) => y);
  const x = Math.min(...xs) - 1;
  const y = Math.min(...ys) - 1;
  return { x, y, width: Math.max(...xs) + 1 - x, height: Math.max(...ys) + 1 - y };
}

export function l2Normalise(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  const norm = Math.sqrt(sum);
  if (!(norm > 0) || !Number.isFinite(norm)) throw new DegenerateFaceError('embedding has no direction');
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]! / norm;
  return out;
}

export function arcfaceEmbedder(model: ArcfaceSpec): EmbedderModel {
  const output = model.outputs[0]!.name;
  return {
    id: model.id,
    input: model.input,
    alignment: (fivePoints) => alignmentTransform(fivePoints, model),
    footprint: (imageToAligned) => alignedFootprint(imageToAligned, model),
    tensor: (view, imageToAligned, mirrored) => embedderInput(view, imageToAligned, model, mirrored),
    embedding: (outputs) => outputs[output]!,
  };
}
