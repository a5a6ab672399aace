import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Affine, applyAffine, DegenerateFaceError, invertAffine, iou, type Point, similarityTransform } from '../../src/face/geometry.js';

const close = (actual: number, expected: number, tolerance = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

function similarity(scale: number, angle: number, tx: number, ty: number): Affine {
  const a = scale * Math.cos(angle);
  const b = scale * Math.sin(angle);
  return [a, -b, tx, b, a, ty];
}

const template: Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

describe('similarityTransform', () => {
  it('recovers an exact rotation, scale and translation', () => {
    const truth = similarity(2.5, 0.3, -40, 17);
    const from = template.map((p) => applyAffine(invertAffine(truth), p));
    const estimate = similarityTransform(from, template);
    truth.forEach((v, i) => close(estimate[i]!, v, 1e-9));
  });

  it('maps the points onto themselves with the identity', () => {
    similarityTransform(template, template).forEach((v, i) => close(v, [1, 0, 0, 0, 1, 0][i]!, 1e-12));
  });

  it('never reflects: mirrored points give a rotation with positive determinant', () => {
    const mirrored = template.map(([x, y]) => [112 - x, y] as Point);
    const m = similarityTransform(mirrored, template);
    assert.ok(m[0] * m[4] - m[1] * m[3] > 0);
    assert.equal(m[0], m[4]);
    assert.equal(m[1], -m[3]);
  });

  it('is the least-squares fit under noise: residual no larger than the true transform', () => {
    const truth = similarity(0.8, -0.2, 5, 9);
    const noise = [
      [0.7, -0.4],
      [-0.3, 0.5],
      [0.2, 0.1],
      [-0.6, -0.2],
      [0.4, 0.3],
    ];
    const from = template.map((p, i) => {
      const q = applyAffine(invertAffine(truth), p);
      return [q[0] + noise[i]![0]!, q[1] + noise[i]![1]!] as Point;
    });
    const residual = (m: Affine): number =>
      from.reduce((sum, p, i) => {
        const q = applyAffine(m, p);
        return sum + (q[0] - template[i]![0]) ** 2 + (q[1] - template[i]![1]) ** 2;
      }, 0);
    const fit = similarityTransform(from, template);
    assert.ok(residual(fit) <= residual(truth) + 1e-12);
    for (const nudge of [1e-3, -1e-3]) {
      const nudged: Affine = [fit[0] + nudge, fit[1], fit[2], fit[3], fit[4] + nudge, fit[5]];
      assert.ok(residual(fit) < residual(nudged));
    }
  });

  it('refuses a call without point pairs as our fault, and points that collapse to one as a degenerate face', () => {
    assert.throws(() => similarityTransform([[1, 1]], [[2, 2]]), (error) => error instanceof RangeError && !(error instanceof DegenerateFaceError));
    assert.throws(() => similarityTransform([[1, 1], [1, 1]], [[0, 0], [1, 1]]), DegenerateFaceError);
  });
});

describe('invertAffine', () => {
  it('composes with the original to the identity', () => {
    const m = similarity(1.7, 1.1, 3, -8);
    const inverse = invertAffine(m);
    for (const p of template) {
      const back = applyAffine(inverse, applyAffine(m, p));
      close(back[0], p[0], 1e-9);
      close(back[1], p[1], 1e-9);
    }
  });

  it('calls a transform that collapses the plane a degenerate face', () => {
    assert.throws(() => invertAffine([1, 2, 0, 2, 4, 0]), DegenerateFaceError);
  });
});

describe('iou', () => {
  it('is 1 for equal boxes, 0 for disjoint ones and 1/7 for half-overlapping squares', () => {
    const box = { x1: 0, y1: 0, x2: 10, y2: 10 };
    assert.equal(iou(box, box), 1);
    assert.equal(iou(box, { x1: 20, y1: 20, x2: 30, y2: 30 }), 0);
    close(iou(box, { x1: 5, y1: 5, x2: 15, y2: 15 }), 25 / 175);
  });
});
