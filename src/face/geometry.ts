export type Point = readonly [number, number];

/** Axis-aligned box in pixel coordinates of the image it was found in. */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** 2×3 affine matrix [a, b, c, d, e, f]: x' = a·x + b·y + c, y' = d·x + e·y + f. */
export type Affine = readonly [number, number, number, number, number, number];

export const boxWidth = (b: Box): number => b.x2 - b.x1;
export const boxHeight = (b: Box): number => b.y2 - b.y1;
export const boxArea = (b: Box): number => Math.max(0, boxWidth(b)) * Math.max(0, boxHeight(b));

export function intersectionArea(a: Box, b: Box): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  return w > 0 && h > 0 ? w * h : 0;
}

export function iou(a: Box, b: Box): number {
  const inter = intersectionArea(a, b);
  const union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * A face that cannot be described: landmarks that collapse to one point, a transform with no inverse, an embedding
 * with no direction. Raised for what a photo holds, never for a programming error, so that callers can refuse the
 * sample without blaming the client for a fault of ours.
 */
export class DegenerateFaceError extends Error {
  override readonly name = 'DegenerateFaceError';
}

export function applyAffine(m: Affine, p: Point): Point {
  return [m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (Math.abs(det) < 1e-12) throw new DegenerateFaceError('affine transform is not invertible');
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/**
 * Least-squares similarity transform (rotation, uniform scale, translation; never a reflection) taking `from` onto
 * `to`: Umeyama's estimate, which in 2-D has this closed form.
 */
export function similarityTransform(from: readonly Point[], to: readonly Point[]): Affine {
  const n = from.length;
  if (n < 2 || to.length !== n) throw new RangeError('similarity transform needs two or more point pairs');
  let mfx = 0;
  let mfy = 0;
  let mtx = 0;
  let mty = 0;
  for (let i = 0; i < n; i++) {
    mfx += from[i]![0];
    mfy += from[i]![1];
    mtx += to[i]![0];
    mty += to[i]![1];
  }
  mfx /= n;
  mfy /= n;
  mtx /= n;
  mty /= n;
  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const fx = from[i]![0] - mfx;
    const fy = from[i]![1] - mfy;
    const tx = to[i]![0] - mtx;
    const ty = to[i]![1] - mty;
    dot += fx * tx + fy * ty;
    cross += fx * ty - fy * tx;
    norm += fx * fx + fy * fy;
  }
  if (norm < 1e-12) throw new DegenerateFaceError('similarity transform needs points that are not all equal');
  const a = dot / norm;
  const b = cross / norm;
  return [a, -b, mtx - (a * mfx - b * mfy), b, a, mty - (b * mfx + a * mfy)];
}
