import { type Box, boxHeight, boxWidth } from './geometry.js';
import { contextCrop } from './landmarks.js';
import type { AntiSpoofFace, AntiSpoofModel, AntiSpoofRegion } from './roles.js';
import { type ModelInputSpec, resizeMapping, sampleView } from './sampling.js';
import type { ImageView } from '../media/raster.js';

/**
 * Any anti-spoof classifier of a face crop, fed as it was trained: a face box — `square` (as tall as the detection,
 * centred, clipped to the image: the bundled model's), `detected` (the detector's box), or `square-on-longer-side`
 * (a square on the detection's longer side, not clipped) — enlarged `cropScale` times about its centre; where that
 * crop leaves the image, `cropMode` says what it holds: `shrink-to-fit` shrinks and shifts the crop to stay inside
 * (Silent-Face's CropImage), `reflect` mirrors the image (BORDER_REFLECT_101), `constant` fills `cropFill`. Then
 * resized to the input (colour order and value range from `input`), softmax over the output, class `liveClassIndex`
 * = live.
 */
export interface AntiSpoofParams {
  cropScale: number;
  liveClassIndex: number;
  faceBox: 'square' | 'detected' | 'square-on-longer-side';
  cropMode: 'shrink-to-fit' | 'reflect' | 'constant';
  cropFill: number;
}

export interface AntiSpoofSpec {
  id: string;
  input: ModelInputSpec;
  outputs: readonly { name: string }[];
  params: AntiSpoofParams;
}


function cropBox(face: AntiSpoofFace, model: Pick<AntiSpoofSpec, 'params'>): Box {
  switch (model.params.faceBox) {
    case 'square':
      return face.faceBox;
    case 'detected':
      return face.detection.box;
    case 'square-on-longer-side': {
      const { box } = face.detection;
      const half = Math.max(boxWidth(box), boxHeight(box)) / 2;
      const [cx, cy] = [(box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2];
      return { x1: cx - half, y1: cy - half, x2: cx + half, y2: cy + half };
    }
  }
}

/** The region the model sees, and what its part outside the image holds. */
export function antiSpoofCrop(face: AntiSpoofFace, model: Pick<AntiSpoofSpec, 'params'>, imageWidth: number, imageHeight: number): AntiSpoofRegion {
  const box = cropBox(face, model);
  const { cropScale, cropMode, cropFill } = model.params;
  if (cropMode === 'shrink-to-fit') return { crop: contextCrop(box, cropScale, imageWidth, imageHeight), border: 'replicate' };
  const [width, height] = [boxWidth(box) * cropScale, boxHeight(box) * cropScale];
  const crop = { x: (box.x1 + box.x2) / 2 - width / 2, y: (box.y1 + box.y2) / 2 - height / 2, width, height };
  return { crop, border: cropMode === 'reflect' ? 'reflect' : { fill: cropFill } };
}

/** The anti-spoof model's input: its crop of the face (see antiSpoofCrop), resized, in its colour order and range. */
export function antiSpoofInput(view: ImageView, { crop, border }: AntiSpoofRegion, model: Pick<AntiSpoofSpec, 'input'>): Float32Array {
  const [, , height, width] = model.input.shape as [number, number, number, number];
  return sampleView(view, resizeMapping(crop, width, height), model.input, border);
}

export function softmax(logits: Float32Array): Float64Array {
  const max = Math.max(...logits);
  const exps = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

/** Probability of an attack: everything the classifier does not call live. */
export function attackProbability(logits: Float32Array, model: Pick<AntiSpoofSpec, 'id' | 'params'>): number {
  const live = softmax(logits)[model.params.liveClassIndex];
  if (live === undefined) throw new RangeError(`model ${model.id} has no class ${model.params.liveClassIndex}`);
  return 1 - live;
}

/** Several anti-spoof models vote by the mean of their attack probabilities. */
export function ensembleAttackProbability(probabilities: readonly number[]): number {
  if (probabilities.length === 0) throw new RangeError('no anti-spoof model');
  return probabilities.reduce((a, b) => a + b, 0) / probabilities.length;
}

export function antiSpoofClassifier(model: AntiSpoofSpec): AntiSpoofModel {
  const output = model.outputs[0]!.name;
  return {
    id: model.id,
    input: model.input,
    crop: (face, imageWidth, imageHeight) => antiSpoofCrop(face, model, imageWidth, imageHeight),
    tensor: (view, region) => antiSpoofInput(view, region, model),
    attackProbability: (outputs) => attackProbability(outputs[output]!, model),
  };
}
