import type { DetectorEntry } from '../models/manifest.js';
import type { Raster } from '../media/raster.js';
import { type Box, boxArea, intersectionArea, iou } from './geometry.js';
import { type Border, type Rect, resizeMapping, sampleToTensor } from './sampling.js';

export interface Detection {
  box: Box;
  score: number;
}

/** Runs the detector on one tensor and returns its raw outputs by name. */
export type DetectorRun = (input: Float32Array) => Promise<Record<string, Float32Array>>;

/** The detector's input: `region` of the image stretched to the input size; outside the image per `border`. */
export function detectorInput(raster: Raster, region: Rect, model: DetectorEntry, border: Border): Float32Array {
  const [, , height, width] = model.input.shape as [number, number, number, number];
  return sampleToTensor(raster, resizeMapping(region, width, height), model.input, border);
}

/**
 * UltraFace outputs: `scores` [N,2] (background, face) and `boxes` [N,4] corners normalised to the input. Candidates
 * under the threshold are dropped before anything else, so the cost is in the few that remain, not the thousands.
 */
export function decodeUltraface(scores: Float32Array, boxes: Float32Array, region: Rect, scoreThreshold: number): Detection[] {
  const detections: Detection[] = [];
  const count = scores.length / 2;
  for (let i = 0; i < count; i++) {
    const score = scores[2 * i + 1]!;
    if (score < scoreThreshold) continue;
    detections.push({
      score,
      box: {
        x1: region.x + boxes[4 * i]! * region.width,
        y1: region.y + boxes[4 * i + 1]! * region.height,
        x2: region.x + boxes[4 * i + 2]! * region.width,
        y2: region.y + boxes[4 * i + 3]! * region.height,
      },
    });
  }
  return detections;
}

/**
 * Greedy non-maximum suppression, best score first. A box is also dropped when most of it lies inside a better
 * one: a face cut by a tile edge yields such a partial box, whose IoU with the whole face stays low.
 */
export function nonMaxSuppression(detections: readonly Detection[], iouThreshold: number, containment = 0.7): Detection[] {
  const sorted = [...detections].sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const candidate of sorted) {
    const area = boxArea(candidate.box);
    if (area <= 0) continue;
    const suppressed = kept.some(
      (k) => iou(k.box, candidate.box) > iouThreshold || intersectionArea(k.box, candidate.box) / area > containment,
    );
    if (!suppressed) kept.push(candidate);
  }
  return kept;
}

/**
 * Regions the detector looks at: the whole image, and for images much larger than the detector's input a 2×2 grid
 * of overlapping tiles, where faces too small for the whole-image pass become large enough to find.
 */
export function tileRegions(width: number, height: number, overlap = 0.2): Rect[] {
  const tileWidth = (width * (1 + overlap)) / 2;
  const tileHeight = (height * (1 + overlap)) / 2;
  const regions: Rect[] = [];
  for (const y of [0, height - tileHeight]) {
    for (const x of [0, width - tileWidth]) regions.push({ x, y, width: tileWidth, height: tileHeight });
  }
  return regions;
}

export const fullRegion = (raster: Raster): Rect => ({ x: 0, y: 0, width: raster.width, height: raster.height });

/**
 * The image centred on a canvas `margin` times its size on each side. A face that fills the photo (a tight crop) is
 * larger than anything the detector was trained to find; on the canvas it has the proportions of a portrait.
 */
export function paddedRegion(raster: Raster, margin: number): Rect {
  return {
    x: -raster.width * margin,
    y: -raster.height * margin,
    width: raster.width * (1 + 2 * margin),
    height: raster.height * (1 + 2 * margin),
  };
}

/**
 * A window around a candidate face, `contextScale` times its height and of the detector's aspect ratio, in which the
 * detector looks again: at this scale a real face is found again, most false boxes of the whole-image pass are not.
 */
export function verificationRegion(box: Box, contextScale: number, inputAspect: number): Rect {
  const height = (box.y2 - box.y1) * contextScale;
  const width = height * inputAspect;
  return { x: (box.x1 + box.x2) / 2 - width / 2, y: (box.y1 + box.y2) / 2 - height / 2, width, height };
}
