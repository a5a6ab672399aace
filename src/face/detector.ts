import type { Rect } from '../media/raster.js';
import { type Affine, type Box, boxArea, intersectionArea, iou, type Point } from './geometry.js';

export interface Detection {
  box: Box;
  score: number;
  /** Five points in the ArcFace template's order (eyes, nose tip, mouth corners; image left first), if the detector gives them. */
  keypoints?: Point[];
}

/** How a region of the image fills the detector's input: stretched to it, or scaled to fit at the top left. */
export type Fit = 'stretch' | 'letterbox';

/**
 * Where a region lands in the detector's input: `mapping` takes input pixels to image coordinates, `toImage` maps
 * input coordinates back to the image, `scaleX` and `scaleY` are input pixels per image pixel.
 */
export interface Placement {
  mapping: Affine;
  toImage: (x: number, y: number) => Point;
  scaleX: number;
  scaleY: number;
}

export function placeRegion(region: Rect, inputWidth: number, inputHeight: number, fit: Fit): Placement {
  const scaleX = fit === 'stretch' ? inputWidth / region.width : Math.min(inputWidth / region.width, inputHeight / region.height);
  const scaleY = fit === 'stretch' ? inputHeight / region.height : scaleX;
  return {
    mapping: [1 / scaleX, 0, region.x + 0.5 / scaleX - 0.5, 0, 1 / scaleY, region.y + 0.5 / scaleY - 0.5],
    toImage: (x, y) => [region.x + x / scaleX, region.y + y / scaleY],
    scaleX,
    scaleY,
  };
}

/** Input pixels per image pixel along the direction the region is shrunk least: the density a view must match. */
export function inputScale(region: Rect, inputWidth: number, inputHeight: number, fit: Fit): number {
  const placement = placeRegion(region, inputWidth, inputHeight, fit);
  return Math.max(placement.scaleX, placement.scaleY);
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

/** How the pipeline searches an image with a detector (see src/face/pipeline.ts findFaces); the manifest sets them. */
export interface DetectionParams {
  /** Candidates below this score are discarded. */
  scoreThreshold: number;
  /** Candidates at or above this score are faces; those below must be found again in a verification window. */
  confidentScore: number;
  verificationScore: number;
  /**
   * Heights of the verification windows, in face heights: a weak candidate must be found again in each. A real face
   * is found again at every scale; the false boxes of a detector (an animal's face, a texture) at one at most.
   */
  verificationContexts: readonly number[];
  /** Margin of the canvas used when no confident face is found, as a share of the image size per side. */
  paddingMargin: number;
  nmsIouThreshold: number;
  /**
   * Height, in detector input pixels, down to which one pass finds every face (measured with
   * tools/detector-recall.ts): the service searches tiles only where smaller faces could matter.
   */
  reliableFaceHeight: number;
}

/** What a detector family knows: how its input is filled, and how its outputs become candidates. */
export interface DetectorFamily {
  fit: Fit;
  /** Candidates scoring at least `threshold`, in input pixel coordinates; filtered before anything else is computed. */
  decode(outputs: Record<string, Float32Array>, threshold: number): InputDetection[];
  /** Problems of the graph's outputs for this family (names, shapes); empty when it fits. */
  contractProblems(outputs: readonly { name: string; shape: ReadonlyArray<number | string> }[]): string[];
}

/** Most of a box lying inside another makes it the same face: a face cut by a tile edge yields such a partial box. */
const CONTAINMENT = 0.7;

/** `candidate` is `kept`'s face again: they overlap by more than `iouThreshold`, or most of candidate lies in kept. */
export function sameFace(kept: Box, candidate: Box, iouThreshold: number): boolean {
  return iou(kept, candidate) > iouThreshold || intersectionArea(kept, candidate) / boxArea(candidate) > CONTAINMENT;
}

/** Greedy non-maximum suppression, best score first; boxes of no area are dropped. */
export function nonMaxSuppression(detections: readonly Detection[], iouThreshold: number): Detection[] {
  const sorted = [...detections].sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const candidate of sorted) {
    if (boxArea(candidate.box) <= 0) continue;
    if (!kept.some((k) => sameFace(k.box, candidate.box, iouThreshold))) kept.push(candidate);
  }
  return kept;
}

/** A grid of overlapping regions covering an image, and the smallest face a pass over each finds for certain. */
export interface TileGrid {
  regions: Rect[];
  /** Image pixels: faces at least this tall are found by the pass over some region. */
  reliableHeight: number;
}

/**
 * The cheapest grid of overlapping tiles over which one pass each finds every face down to `wanted` image pixels,
 * or, when no grid of at most `maxTiles` reaches it, the grid of at most `maxTiles` that comes closest; undefined
 * when no grid finds smaller faces than the whole-image pass, which is reliable from `wholeReliable` pixels. Tiles
 * overlap by `wholeReliable`, so that every face shorter than that lies whole inside one of them.
 */
export function tileGrid(
  image: { width: number; height: number },
  detector: { inputWidth: number; inputHeight: number; fit: Fit; reliableFaceHeight: number },
  wanted: number,
  wholeReliable: number,
  maxTiles: number,
): TileGrid | undefined {
  const overlap = wholeReliable;
  let best: TileGrid | undefined;
  for (let count = 2; count <= maxTiles; count++) {
    for (let columns = 1; columns <= count; columns++) {
      if (count % columns !== 0) continue;
      const rows = count / columns;
      const tileWidth = Math.min(image.width, (image.width + (columns - 1) * overlap) / columns);
      const tileHeight = Math.min(image.height, (image.height + (rows - 1) * overlap) / rows);
      const density = placeRegion({ x: 0, y: 0, width: tileWidth, height: tileHeight }, detector.inputWidth, detector.inputHeight, detector.fit).scaleY;
      const reliableHeight = detector.reliableFaceHeight / density;
      // Enlarging a tile beyond its own pixels shows the detector no more of a face.
      if (density > 1 || reliableHeight >= (best?.reliableHeight ?? wholeReliable)) continue;
      const along = (size: number, tile: number, n: number): number[] => Array.from({ length: n }, (_, i) => (n === 1 ? 0 : (i * (size - tile)) / (n - 1)));
      const regions = along(image.height, tileHeight, rows).flatMap((y) => along(image.width, tileWidth, columns).map((x) => ({ x, y, width: tileWidth, height: tileHeight })));
      best = { regions, reliableHeight };
    }
    if (best && best.reliableHeight <= wanted) return best;
  }
  return best;
}

/**
 * The image centred on a canvas `margin` times its size on each side. A face that fills the photo (a tight crop) is
 * larger than anything the detector was trained to find; on the canvas it has the proportions of a portrait.
 */
export function paddedRegion(raster: { width: number; height: number }, margin: number): Rect {
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
