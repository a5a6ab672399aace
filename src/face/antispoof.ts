import type { Box } from './geometry.js';
import { contextCrop } from './landmarks.js';
import { resizeMapping, sampleView } from './sampling.js';
import type { ImageView, Rect } from '../media/raster.js';
import type { AntiSpoofEntry } from '../models/manifest.js';

/**
 * The crop a model reads: the face box it was trained on (the square box, or the box as detected) enlarged by its
 * crop scale, kept inside the image.
 */
export function antiSpoofCrop(image: { width: number; height: number }, squareBox: Box, detectedBox: Box, model: AntiSpoofEntry): Rect {
  const box = model.params.faceBox === 'square' ? squareBox : detectedBox;
  return contextCrop(box, model.params.cropScale, image.width, image.height);
}

/** The anti-spoof model's input: its crop, resized. */
export function antiSpoofInput(view: ImageView, crop: Rect, model: AntiSpoofEntry): Float32Array {
  const [, , height, width] = model.input.shape as [number, number, number, number];
  return sampleView(view, resizeMapping(crop, width, height), model.input, 'replicate');
}

export function softmax(logits: Float32Array): Float64Array {
  const max = Math.max(...logits);
  const exps = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

/** Probability of an attack: everything the classifier does not call live. */
export function attackProbability(logits: Float32Array, model: AntiSpoofEntry): number {
  const live = softmax(logits)[model.params.liveClassIndex];
  if (live === undefined) throw new RangeError(`model ${model.id} has no class ${model.params.liveClassIndex}`);
  return 1 - live;
}

/** Several anti-spoof models vote by the mean of their attack probabilities. */
export function ensembleAttackProbability(probabilities: readonly number[]): number {
  if (probabilities.length === 0) throw new RangeError('no anti-spoof model');
  return probabilities.reduce((a, b) => a + b, 0) / probabilities.length;
}
