import type { DetectorEntry } from '../models/manifest.js';
import type { Raster } from '../media/raster.js';
import { type Affine, type Box, boxArea, intersectionArea, iou, type Point } from './geometry.js';
import { type Border, type Rect, sampleToTensor } from './sampling.js';

export interface Detection {
  box: Box;
  score: number;
  /** Five points in the ArcFace template's order (eyes, nose tip, mouth corners; image left first), if the detector gives them. */
  keypoints?: Point[];
}

/** How a region of the image fills the detector's input: stretched to it, or scaled to fit at the top left. */
export type Fit = 'stretch' | 'letterbox';

/** Where a region lands in the detector's input; `toImage` maps input pixel coordinates back to the image. */
export interface Placement {
  mapping: Affine;
  toImage: (x: number, y: number) => Point;
}

export function placeRegion(region: Rect, inputWidth: number, inputHeight: number, fit: Fit): Placement {
  const scaleX = fit === 'stretch' ? inputWidth / region.width : Math.min(inputWidth / region.width, inputHeight / region.height);
  const scaleY = fit === 'stretch' ? inputHeight / region.height : scaleX;
  return {
    mapping: [1 / scaleX, 0, region.x + 0.5 / scaleX - 0.5, 0, 1 / scaleY, region.y + 0.5 / scaleY - 0.5],
    toImage: (x, y) => [region.x + x / scaleX, region.y + y / scaleY],
  };
}

/** Candidates in the detector's input pixel coordinates, as a family decodes them from the model's outputs. */
export interface InputDetection {
  box: Box;
  score: number;
  keypoints?: Point[];
}

export function toImageDetection(candidate: InputDetection, placement: Placement): Detection {
  const [x1, y1] = placement.toImage(candidate.box.x1, candidate.box.y1);
  const [x2, y2] = placement.toImage(candidate.box.x2, candidate.box.y2);
  return {
    score: candidate.score,
    box: { x1, y1, x2, y2 },
    ...(candidate.keypoints ? { keypoints: candidate.keypoints.map(([x, y]) => placement.toImage(x, y)) } : {}),
  };
}

/** What a detector family knows: how its input is filled, and how its outputs become candidates. */
export interface DetectorFamily {
  fit: Fit;
  /** Candidates scoring at least `threshold`, in input pixel coordinates; filtered before anything else is computed. */
  decode(outputs: Record<string, Float32Array>, threshold: number): InputDetection[];
  /** Problems of the graph's outputs for this family (names, shapes); empty when it fits. */
  contractProblems(outputs: readonly { name: string; shape: ReadonlyArray<number | string> }[]): string[];
}

/** The detector's input tensor for `region`; outside the image per `border`. */
export function detectorInput(raster: Raster, placement: Placement, model: DetectorEntry, border: Border): Float32Array {
  return sampleToTensor(raster, placement.mapping, model.input, border);
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
