import type { EmbedderEntry } from '../models/manifest.js';
import type { Raster } from '../media/raster.js';
import { type Affine, invertAffine, type Point, similarityTransform } from './geometry.js';
import { sampleToTensor } from './sampling.js';

/** The transform taking the image onto the embedder's aligned face (five points onto its template). */
export function alignmentTransform(fivePoints: readonly Point[], model: EmbedderEntry): Affine {
  return similarityTransform(fivePoints, model.params.alignmentTemplate);
}

/** The aligned face crop as the embedder's input: inverse-mapped bilinear warp, black outside the image. */
export function embedderInput(raster: Raster, imageToAligned: Affine, model: EmbedderEntry): Float32Array {
  return sampleToTensor(raster, invertAffine(imageToAligned), model.input, { fill: 0 });
}

export function l2Normalise(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  const norm = Math.sqrt(sum);
  if (!(norm > 0) || !Number.isFinite(norm)) throw new RangeError('embedding has no direction');
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]! / norm;
  return out;
}
