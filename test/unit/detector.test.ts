import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeUltraface, type Detection, nonMaxSuppression, paddedRegion, tileRegions, verificationRegion } from '../../src/face/detector.js';
import { createRaster } from '../../src/media/raster.js';

const det = (x1: number, y1: number, x2: number, y2: number, score: number): Detection => ({ box: { x1, y1, x2, y2 }, score });

describe('decodeUltraface', () => {
  it('keeps candidates above the threshold and maps normalised corners into the region', () => {
    const scores = new Float32Array([0.9, 0.1, 0.2, 0.8, 0.25, 0.75]);
    const boxes = new Float32Array([0, 0, 1, 1, 0.25, 0.5, 0.75, 1, 0.1, 0.1, 0.2, 0.2]);
    const found = decodeUltraface(scores, boxes, { x: 100, y: 50, width: 400, height: 200 }, 0.7);
    assert.equal(found.length, 2);
    assert.ok(Math.abs(found[0]!.score - 0.8) < 1e-6);
    assert.deepEqual(found[0]!.box, { x1: 200, y1: 150, x2: 400, y2: 250 });
    assert.ok(Math.abs(found[1]!.score - 0.75) < 1e-6);
  });
});

describe('nonMaxSuppression', () => {
  it('keeps the best of overlapping boxes and every separate one, best first', () => {
    const kept = nonMaxSuppression([det(0, 0, 10, 10, 0.8), det(1, 1, 11, 11, 0.95), det(50, 50, 60, 60, 0.9)], 0.4);
    assert.deepEqual(kept.map((d) => d.score), [0.95, 0.9]);
  });

  it('keeps boxes that overlap less than the threshold', () => {
    assert.equal(nonMaxSuppression([det(0, 0, 10, 10, 0.9), det(7, 0, 17, 10, 0.8)], 0.4).length, 2);
  });

  it('drops a box lying mostly inside a better one (a face cut by a tile edge)', () => {
    const kept = nonMaxSuppression([det(0, 0, 100, 100, 0.99), det(50, 10, 100, 90, 0.9)], 0.4);
    assert.deepEqual(kept.map((d) => d.score), [0.99]);
  });

  it('ignores empty boxes', () => {
    assert.equal(nonMaxSuppression([det(5, 5, 5, 9, 0.9)], 0.4).length, 0);
  });
});

describe('search regions', () => {
  it('tiles cover the whole image with overlap', () => {
    const tiles = tileRegions(1000, 600);
    assert.equal(tiles.length, 4);
    for (const [x, y] of [[0, 0], [999, 0], [0, 599], [999, 599], [500, 300]] as const) {
      assert.ok(tiles.some((t) => x >= t.x && x <= t.x + t.width && y >= t.y && y <= t.y + t.height));
    }
    assert.ok(tiles[0]!.width > 500 && tiles[0]!.height > 300);
  });

  it('the padded canvas centres the image with the margin on every side', () => {
    assert.deepEqual(paddedRegion(createRaster(200, 100), 0.5), { x: -100, y: -50, width: 400, height: 200 });
  });

  it('the verification window is centred on the face, contextScale faces tall, in the input aspect', () => {
    const region = verificationRegion({ x1: 100, y1: 100, x2: 140, y2: 150 }, 2, 4 / 3);
    assert.equal(region.height, 100);
    assert.ok(Math.abs(region.width - 400 / 3) < 1e-9);
    assert.ok(Math.abs(region.x + region.width / 2 - 120) < 1e-9);
    assert.equal(region.y + region.height / 2, 125);
  });
});
