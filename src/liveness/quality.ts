import type { Box, Point } from '../face/geometry.js';
import { greyPatchSpec, resizeMapping, sampleView } from '../face/sampling.js';
import type { ImageView } from '../media/raster.js';

/** Faces are compared for sharpness at one size, so that a larger face does not look sharper for being larger. */
const SHARPNESS_SIZE = 96;
const greyPatch = greyPatchSpec('sharpness', SHARPNESS_SIZE);

/** Variance of the Laplacian of the face, resampled to 96×96 grey: higher is sharper (focus, motion blur). */
export function faceSharpness(view: ImageView, faceBox: Box): number {
  const region = { x: faceBox.x1, y: faceBox.y1, width: faceBox.x2 - faceBox.x1, height: faceBox.y2 - faceBox.y1 };
  const grey = sampleView(view, resizeMapping(region, SHARPNESS_SIZE, SHARPNESS_SIZE), greyPatch, 'replicate');
  let sum = 0;
  let sumOfSquares = 0;
  let count = 0;
  for (let y = 1; y < SHARPNESS_SIZE - 1; y++) {
    for (let x = 1; x < SHARPNESS_SIZE - 1; x++) {
      const i = y * SHARPNESS_SIZE + x;
      const laplacian = grey[i - 1]! + grey[i + 1]! + grey[i - SHARPNESS_SIZE]! + grey[i + SHARPNESS_SIZE]! - 4 * grey[i]!;
      sum += laplacian;
      sumOfSquares += laplacian * laplacian;
      count++;
    }
  }
  const mean = sum / count;
  return sumOfSquares / count - mean * mean;
}

/**
 * 1 for a face looking straight at the camera, falling towards 0 as it turns (the nose drifts from the middle of
 * the eyes) or tilts (the eye line leaves the horizontal). Five points: eyes, nose, mouth corners.
 */
export function frontality(fivePoints: readonly Point[]): number {
  const [leftEye, rightEye, nose] = fivePoints as [Point, Point, Point];
  const dx = rightEye[0] - leftEye[0];
  const dy = rightEye[1] - leftEye[1];
  const eyeDistance = Math.hypot(dx, dy);
  if (eyeDistance === 0) return 0;
  const yaw = Math.abs(nose[0] - (leftEye[0] + rightEye[0]) / 2) / eyeDistance;
  const roll = Math.abs(Math.atan2(dy, dx));
  return Math.max(0, 1 - 2 * yaw) * Math.max(0, Math.cos(roll));
}

export interface ShotQuality {
  sharpness: number;
  frontality: number;
  faceHeight: number;
}

/**
 * The best shot of a sequence: the frame maximising sharpness × frontality × face size, sharpness and size taken
 * relative to the best of the sequence. -1 when there is no frame.
 */
export function bestShotIndex(shots: readonly ShotQuality[]): number {
  const sharpest = Math.max(...shots.map((s) => s.sharpness));
  const largest = Math.max(...shots.map((s) => s.faceHeight));
  let best = -1;
  let bestValue = -1;
  shots.forEach((shot, index) => {
    const value = (sharpest > 0 ? shot.sharpness / sharpest : 1) * shot.frontality * (largest > 0 ? shot.faceHeight / largest : 1);
    if (value > bestValue) {
      bestValue = value;
      best = index;
    }
  });
  return best;
}
