import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Detection, nonMaxSuppression, paddedRegion, placeRegion, tileGrid, verificationRegion } from '../../src/face/detector.js';
import { scrfdFamily } from '../../src/face/detector-scrfd.js';
import { ultrafaceFamily } from '../../src/face/detector-ultraface.js';
import { yunetFamily } from '../../src/face/detector-yunet.js';
import type { ScrfdEntry, UltrafaceEntry, YunetEntry } from '../../src/models/manifest.js';
import { createRaster } from '../../src/media/raster.js';

const det = (x1: number, y1: number, x2: number, y2: number, score: number): Detection => ({ box: { x1, y1, x2, y2 }, score });

const entry = <T>(family: string, shape: number[], params: Record<string, unknown>, outputs: { name: string; shape: number[] }[] = []): T =>
  ({ id: 'd', family, input: { name: 'input', shape, layout: 'NCHW', channelOrder: 'BGR', mean: [0], std: [1] }, outputs, params }) as T;

describe('placeRegion', () => {
  it('stretches a region onto the input, and maps input pixels back', () => {
    const placement = placeRegion({ x: 100, y: 50, width: 640, height: 240 }, 320, 240, 'stretch');
    assert.deepEqual(placement.toImage(160, 120), [420, 170]);
    assert.deepEqual(placement.mapping, [2, 0, 100.5, 0, 1, 50]);
  });

  it('letterboxes a region at the top left, keeping its aspect', () => {
    const placement = placeRegion({ x: 0, y: 0, width: 1280, height: 720 }, 640, 640, 'letterbox');
    assert.deepEqual(placement.toImage(640, 360), [1280, 720]);
    assert.equal(placement.mapping[0], placement.mapping[4]);
  });
});

describe('UltraFace decoding', () => {
  it('keeps candidates above the threshold, with corners in input pixels', () => {
    const family = ultrafaceFamily(entry<UltrafaceEntry>('detector.ultraface', [1, 3, 240, 320], {}));
    const scores = new Float32Array([0.9, 0.1, 0.2, 0.8, 0.25, 0.75]);
    const boxes = new Float32Array([0, 0, 1, 1, 0.25, 0.5, 0.75, 1, 0.1, 0.1, 0.2, 0.2]);
    const found = family.decode({ scores, boxes }, 0.7);
    assert.equal(found.length, 2);
    assert.deepEqual(found[0]!.box, { x1: 80, y1: 120, x2: 240, y2: 240 });
    assert.ok(Math.abs(found[1]!.score - 0.75) < 1e-6);
    assert.equal(found[0]!.keypoints, undefined);
  });

  it('names the outputs an UltraFace graph lacks', () => {
    const family = ultrafaceFamily(entry<UltrafaceEntry>('detector.ultraface', [1, 3, 240, 320], {}));
    assert.deepEqual(family.contractProblems([{ name: 'scores', shape: [1, 10, 2] }, { name: 'boxes', shape: [1, 10, 4] }]), []);
    assert.match(family.contractProblems([{ name: 'output', shape: [1, 10] }])[0]!, /"scores" and "boxes"/);
  });
});

describe('YuNet decoding', () => {
  it('decodes a cell as OpenCV does: score √(cls·obj), centre (cell + offset)·stride, size exp(·)·stride, points', () => {
    const family = yunetFamily(entry<YunetEntry>('detector.yunet', [1, 3, 64, 64], { strides: [32] }));
    // A 2×2 grid at stride 32; the face is in cell (row 1, col 0).
    const outputs = {
      cls_32: new Float32Array([0, 0, 0.81, 0]),
      obj_32: new Float32Array([0, 0, 1, 0]),
      bbox_32: new Float32Array([0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.25, Math.log(0.5), Math.log(0.75), 0, 0, 0, 0]),
      kps_32: new Float32Array([...Array(20).fill(0), 0.25, 0.25, 0.75, 0.25, 0.5, 0.5, 0.25, 0.75, 0.75, 0.75, ...Array(10).fill(0)]),
    };
    const [face, ...others] = family.decode(outputs, 0.5);
    assert.equal(others.length, 0);
    assert.ok(Math.abs(face!.score - 0.9) < 1e-6);
    const rounded = Object.fromEntries(Object.entries(face!.box).map(([k, v]) => [k, Math.round(v * 1e4) / 1e4]));
    assert.deepEqual(rounded, { x1: 8, y1: 28, x2: 24, y2: 52 });
    assert.deepEqual(face!.keypoints, [[8, 40], [24, 40], [16, 48], [8, 56], [24, 56]]);
  });

  it('checks the outputs against the grid of the input size', () => {
    const family = yunetFamily(entry<YunetEntry>('detector.yunet', [1, 3, 64, 64], { strides: [32] }));
    const outputs = [
      { name: 'cls_32', shape: [1, 4, 1] },
      { name: 'obj_32', shape: [1, 4, 1] },
      { name: 'bbox_32', shape: [1, 4, 4] },
      { name: 'kps_32', shape: [1, 4, 10] },
    ];
    assert.deepEqual(family.contractProblems(outputs), []);
    assert.match(family.contractProblems(outputs.slice(0, 3))[0]!, /"kps_32"/);
    assert.match(family.contractProblems([...outputs.slice(0, 3), { name: 'kps_32', shape: [1, 16, 10] }])[0]!, /expected 4×10/);
  });
});

describe('SCRFD decoding', () => {
  it('decodes distances and offsets from anchor centres as insightface does, two anchors per cell', () => {
    const outputs = [8].flatMap(() => [
      { name: 'score_8', shape: [8, 1] },
      { name: 'bbox_8', shape: [8, 4] },
      { name: 'kps_8', shape: [8, 10] },
    ]);
    const family = scrfdFamily(entry<ScrfdEntry>('detector.scrfd', [1, 3, 16, 16], { strides: [8], anchorsPerLocation: 2 }, outputs));
    // A 2×2 grid at stride 8, two anchors per cell: index 5 is the second anchor of cell (row 1, col 0).
    const scores = new Float32Array(8);
    scores[5] = 0.9;
    const boxes = new Float32Array(32);
    boxes.set([0.5, 1, 1.5, 2], 20);
    const kps = new Float32Array(80);
    kps.set([-0.25, -0.25, 0.25, -0.25, 0, 0, -0.25, 0.25, 0.25, 0.25], 50);
    const [face] = family.decode({ score_8: scores, bbox_8: boxes, kps_8: kps }, 0.5);
    assert.deepEqual(face!.box, { x1: -4, y1: 0, x2: 12, y2: 24 });
    assert.deepEqual(face!.keypoints, [[-2, 6], [2, 6], [0, 8], [-2, 10], [2, 10]]);
    assert.deepEqual(family.contractProblems(outputs), []);
    assert.match(family.contractProblems(outputs.slice(0, 2))[0]!, /3 outputs/);
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
  const ultraface = { inputWidth: 320, inputHeight: 240, fit: 'letterbox' as const, reliableFaceHeight: 20 };

  it('a portrait selfie whose smallest relevant face is under the whole pass\'s reach takes two tiles, one above the other', () => {
    // Whole pass over 720×1280: 240/1280 input pixels per image pixel, reliable from 107 px.
    const grid = tileGrid({ width: 720, height: 1280 }, ultraface, 90, 107, 6)!;
    assert.equal(grid.regions.length, 2);
    assert.ok(grid.reliableHeight <= 90, `${grid.reliableHeight}`);
    assert.deepEqual(grid.regions.map((r) => [r.x, r.width]), [[0, 720], [0, 720]]);
    // The two tiles overlap by the whole pass's reliable height, so that no face under it is cut in both.
    assert.ok(Math.abs(grid.regions[0]!.y + grid.regions[0]!.height - grid.regions[1]!.y - 107) < 1e-9);
  });

  it('covers the whole image, and the cheapest grid that reaches the wanted height is chosen', () => {
    const grid = tileGrid({ width: 4032, height: 3024 }, ultraface, 150, 252, 6)!;
    assert.equal(grid.regions.length, 4);
    for (const [x, y] of [[0, 0], [4031, 0], [0, 3023], [4031, 3023], [2016, 1512]] as const) {
      assert.ok(grid.regions.some((t) => x >= t.x && x <= t.x + t.width && y >= t.y && y <= t.y + t.height));
    }
  });

  it('comes as close as the tile budget allows when the wanted height is out of reach', () => {
    const grid = tileGrid({ width: 4032, height: 3024 }, ultraface, 20, 252, 6)!;
    assert.ok(grid.regions.length <= 6);
    assert.ok(grid.reliableHeight > 20 && grid.reliableHeight < 252);
  });

  it('never enlarges tiles: an image no larger than the input gets none', () => {
    assert.equal(tileGrid({ width: 250, height: 250 }, ultraface, 20, 20.8, 6), undefined);
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
