import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Point } from '../../src/face/geometry.js';
import { contextCrop, decodeLandmarks, fivePointsFrom68, squareFaceBox } from '../../src/face/landmarks.js';

describe('squareFaceBox', () => {
  it('makes a square as tall as the box around its centre', () => {
    assert.deepEqual(squareFaceBox({ x1: 100, y1: 100, x2: 140, y2: 160 }, 1000, 1000), { x1: 90, y1: 100, x2: 150, y2: 160 });
  });
  it('clips to the image', () => {
    assert.deepEqual(squareFaceBox({ x1: 0, y1: 0, x2: 20, y2: 60 }, 1000, 50), { x1: 0, y1: 0, x2: 40, y2: 49 });
  });
});

describe('contextCrop', () => {
  it('enlarges the box about its centre when it fits', () => {
    assert.deepEqual(contextCrop({ x1: 400, y1: 400, x2: 500, y2: 500 }, 2.7, 1000, 1000), { x: 315, y: 315, width: 270, height: 270 });
  });
  it('shifts the crop inside the image near an edge, keeping its size', () => {
    const crop = contextCrop({ x1: 0, y1: 400, x2: 100, y2: 500 }, 2, 1000, 1000);
    assert.deepEqual(crop, { x: 0, y: 350, width: 200, height: 200 });
  });
  it('shrinks the enlargement when the image is too small for it', () => {
    const crop = contextCrop({ x1: 20, y1: 20, x2: 80, y2: 80 }, 2.7, 101, 101);
    assert.equal(crop.width, 100);
    assert.equal(crop.height, 100);
    assert.equal(crop.x, 0);
  });
});

describe('landmarks', () => {
  it('maps fractions of the crop to image coordinates', () => {
    assert.deepEqual(decodeLandmarks(new Float32Array([0, 0, 0.5, 1]), { x: 10, y: 20, width: 100, height: 50 }), [
      [10, 20],
      [60, 70],
    ]);
  });

  it('takes eye centres as the mean of each eye, the nose tip and the averaged outer and inner mouth corners', () => {
    const points: Point[] = Array.from({ length: 68 }, (_, i) => [i, 1000 + i]);
    const five = fivePointsFrom68(points);
    assert.deepEqual(five, [
      [38.5, 1038.5],
      [44.5, 1044.5],
      [30, 1030],
      [54, 1054],
      [59, 1059],
    ]);
    assert.throws(() => fivePointsFrom68(points.slice(1)), RangeError);
  });
});
