/**
 * The flat-motion cue measured by tools/temporal-study.ts and not kept in the product: a printed photo or a screen
 * moved before the camera moves as a plane, so its landmark tracks fit a projective map (homography) between frames,
 * while a real head turning moves the nose off the plane of the eyes and mouth. Measured as the homography's residual
 * relative to that of a similarity (rotation, scale, shift): near 0 for a plane, larger for a solid.
 */
import { type Affine, applyAffine, invertAffine, type Point, similarityTransform } from '../../src/face/geometry.js';

const eyeDistance = (points: readonly Point[]): number => Math.hypot(points[1]![0] - points[0]![0], points[1]![1] - points[0]![1]);

/** RMS distance, in eye distances of `b` (its first two points are the eyes), between `b` and `a` mapped onto it. */
function fitResidual(a: readonly Point[], b: readonly Point[], transform: (p: Point) => Point): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = transform(a[i]!);
    sum += (x - b[i]![0]) ** 2 + (y - b[i]![1]) ** 2;
  }
  return Math.sqrt(sum / a.length) / eyeDistance(b);
}

/** How far the points are from a rotated, scaled, shifted copy of the other frame's: the face's change of shape. */
export function shapeChange(a: readonly Point[], b: readonly Point[]): number {
  const transform = similarityTransform(a, b);
  return fitResidual(a, b, (p) => applyAffine(transform, p));
}

/** 3×3 projective transform, row-major, h[8] = 1. */
export type Homography = readonly number[];

export const applyHomography = (h: Homography, [x, y]: Point): Point => {
  const w = h[6]! * x + h[7]! * y + h[8]!;
  return [(h[0]! * x + h[1]! * y + h[2]!) / w, (h[3]! * x + h[4]! * y + h[5]!) / w];
};

/**
 * Least-squares homography taking `from` onto `to` (four or more points; the algebraic error, with both point sets
 * first centred and scaled as Hartley recommends); undefined when the points are degenerate.
 */
export function fitHomography(from: readonly Point[], to: readonly Point[]): Homography | undefined {
  const normalising = (points: readonly Point[]): Affine => {
    const cx = points.reduce((s, p) => s + p[0], 0) / points.length;
    const cy = points.reduce((s, p) => s + p[1], 0) / points.length;
    const spread = points.reduce((s, p) => s + Math.hypot(p[0] - cx, p[1] - cy), 0) / points.length;
    const k = spread > 0 ? Math.SQRT2 / spread : 1;
    return [k, 0, -k * cx, 0, k, -k * cy];
  };
  const nf = normalising(from);
  const nt = normalising(to);
  const rows: number[][] = [];
  const rhs: number[] = [];
  for (let i = 0; i < from.length; i++) {
    const [x, y] = applyAffine(nf, from[i]!);
    const [u, v] = applyAffine(nt, to[i]!);
    rows.push([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    rhs.push(u);
    rows.push([0, 0, 0, x, y, 1, -v * x, -v * y]);
    rhs.push(v);
  }
  const solution = leastSquares(rows, rhs);
  if (!solution) return undefined;
  const normalised = [...solution, 1];
  // H = Nt⁻¹ · Hn · Nf
  const inverseTo = invertAffine(nt);
  const product = multiply3(multiply3(affineAs3(inverseTo), normalised), affineAs3(nf));
  return product.map((value) => value / product[8]!);
}

const affineAs3 = (m: Affine): number[] => [m[0], m[1], m[2], m[3], m[4], m[5], 0, 0, 1];

function multiply3(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) out[r * 3 + c]! += a[r * 3 + k]! * b[k * 3 + c]!;
  return out;
}

/** Solves the normal equations of an overdetermined system by Gaussian elimination with partial pivoting. */
function leastSquares(rows: readonly number[][], rhs: readonly number[]): number[] | undefined {
  const n = rows[0]!.length;
  const a = Array.from({ length: n }, (_, i) => {
    const row = new Array<number>(n + 1).fill(0);
    for (let r = 0; r < rows.length; r++) {
      for (let j = 0; j < n; j++) row[j]! += rows[r]![i]! * rows[r]![j]!;
      row[n]! += rows[r]![i]! * rhs[r]!;
    }
    return row;
  });
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    if (Math.abs(a[pivot]![col]!) < 1e-12) return undefined;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const factor = a[r]![col]! / a[col]![col]!;
      for (let c = col; c <= n; c++) a[r]![c]! -= factor * a[col]![c]!;
    }
  }
  return a.map((row, i) => row[n]! / row[i]!);
}

/** How far the points are from a projective (plane-to-plane) image of the other frame's, in eye distances. */
export function planarResidual(a: readonly Point[], b: readonly Point[]): number {
  const h = fitHomography(a, b);
  return h ? fitResidual(a, b, (p) => applyHomography(h, p)) : Number.POSITIVE_INFINITY;
}
