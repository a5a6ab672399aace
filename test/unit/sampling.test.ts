import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRaster, type Raster } from '../../src/media/raster.js';
import { alignmentTransform, embedderInput } from '../../src/face/embedder.js';
import { invertAffine } from '../../src/face/geometry.js';
import { reflectIndex, resizeMapping, sampleToTensor, sampleView, viewMapping } from '../../src/face/sampling.js';
import type { EmbedderEntry, ModelInputSpec } from '../../src/models/manifest.js';

function spec(width: number, height: number, channelOrder: ModelInputSpec['channelOrder'], mean = [0, 0, 0], std = [1, 1, 1]): ModelInputSpec {
  return { name: 'input', shape: [1, channelOrder === 'GRAY' ? 1 : 3, height, width], layout: 'NCHW', channelOrder, mean, std };
}

/** A raster whose red is 10·x, green 10·y and blue constant 7. */
function gradient(width: number, height: number): Raster {
  const raster = createRaster(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raster.data.set([10 * x, 10 * y, 7], (y * width + x) * 3);
  }
  return raster;
}

describe('sampleToTensor', () => {
  it('copies pixels exactly through the identity mapping, planar, in RGB order', () => {
    const raster = gradient(4, 3);
    const out = sampleToTensor(raster, resizeMapping({ x: 0, y: 0, width: 4, height: 3 }, 4, 3), spec(4, 3, 'RGB'), 'replicate');
    assert.deepEqual([...out.subarray(0, 4)], [0, 10, 20, 30]);
    assert.deepEqual([...out.subarray(12, 16)], [0, 0, 0, 0]);
    assert.deepEqual([...out.subarray(16, 20)], [10, 10, 10, 10]);
    assert.ok(out.subarray(24).every((v) => v === 7));
  });

  it('puts blue first for BGR models and applies (value - mean) / std per channel', () => {
    const raster = gradient(2, 2);
    const out = sampleToTensor(raster, resizeMapping({ x: 0, y: 0, width: 2, height: 2 }, 2, 2), spec(2, 2, 'BGR', [127, 127, 127], [128, 128, 128]), 'replicate');
    assert.equal(out[0], (7 - 127) / 128);
    assert.equal(out[4 + 1], (0 - 127) / 128);
    assert.equal(out[8 + 1], (10 - 127) / 128);
  });

  it('converts to grey with BT.601 weights', () => {
    const raster = createRaster(1, 1, new Uint8Array([200, 100, 50]));
    const out = sampleToTensor(raster, [1, 0, 0, 0, 1, 0], spec(1, 1, 'GRAY', [0], [256]), 'replicate');
    assert.ok(Math.abs(out[0]! - (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 256) < 1e-6);
  });

  it('interpolates bilinearly between pixel centres', () => {
    const raster = gradient(4, 4);
    const out = sampleToTensor(raster, [1, 0, 0.25, 0, 1, 0.5], spec(1, 1, 'RGB'), 'replicate');
    assert.ok(Math.abs(out[0]! - 2.5) < 1e-5);
    assert.ok(Math.abs(out[1]! - 5) < 1e-5);
  });

  it('halves a 4×4 image to 2×2 the way OpenCV resizes, sampling between source pixels', () => {
    const out = sampleToTensor(gradient(4, 4), resizeMapping({ x: 0, y: 0, width: 4, height: 4 }, 2, 2), spec(2, 2, 'RGB'), 'replicate');
    assert.deepEqual([...out.subarray(0, 2)], [5, 25]);
  });

  it('reads the fill value outside the image, or the edge pixel when replicating', () => {
    const raster = createRaster(1, 1, new Uint8Array([90, 90, 90]));
    const outside: [number, number, number, number, number, number] = [1, 0, 5, 0, 1, 5];
    assert.equal(sampleToTensor(raster, outside, spec(1, 1, 'RGB'), { fill: 127 })[0], 127);
    assert.equal(sampleToTensor(raster, outside, spec(1, 1, 'RGB'), { fill: 0 })[0], 0);
    assert.equal(sampleToTensor(raster, outside, spec(1, 1, 'RGB'), 'replicate')[0], 90);
  });

  it('mirrors the image about its edge pixels (BORDER_REFLECT_101), however far outside', () => {
    assert.deepEqual([-3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => reflectIndex(i, 4)), [3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2]);
    assert.equal(reflectIndex(-7, 1), 0);
    // A 4-wide row 0, 10, 20, 30 read from x = −2 to 5: OpenCV pads it as 20, 10 | 0, 10, 20, 30 | 20, 10.
    const row = gradient(4, 1);
    const out = sampleToTensor(row, [1, 0, -2, 0, 1, 0], spec(8, 1, 'RGB'), 'reflect');
    assert.deepEqual([...out.subarray(0, 8)], [20, 10, 0, 10, 20, 30, 20, 10]);
    const rotated = sampleToTensor(row, [1, 1e-9, -2, 0, 1, 0], spec(8, 1, 'RGB'), 'reflect');
    assert.deepEqual([...rotated.subarray(0, 8)].map(Math.round), [20, 10, 0, 10, 20, 30, 20, 10], 'the general warp reflects alike');
  });
});

describe('embedder alignment warp', () => {
  it('puts the five landmarks of a face onto the template points', () => {
    const template: [number, number][] = [
      [38.2946, 51.6963],
      [73.5318, 51.5014],
      [56.0252, 71.7366],
      [41.5493, 92.3655],
      [70.7299, 92.2041],
    ];
    const model = {
      input: spec(112, 112, 'RGB'),
      params: { alignmentTemplate: template },
    } as unknown as EmbedderEntry;
    // An image twice the template's scale, shifted: each landmark is marked by a bright 5×5 block.
    const raster = createRaster(300, 300);
    const landmarks = template.map(([x, y]) => [Math.round(2 * x + 40), Math.round(2 * y + 30)] as [number, number]);
    for (const [x, y] of landmarks) {
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) raster.data.set([255, 255, 255], ((y + dy) * 300 + x + dx) * 3);
    }
    const transform = alignmentTransform(landmarks, model);
    const input = embedderInput({ raster, region: { x: 0, y: 0, width: 300, height: 300 }, scale: 1 }, transform, model);
    for (const [x, y] of landmarks) {
      const [u, v] = [transform[0] * x + transform[1] * y + transform[2], transform[3] * x + transform[4] * y + transform[5]];
      const value = input[Math.round(v) * 112 + Math.round(u)]!;
      assert.ok(value > 200, `landmark (${x},${y}) should land near (${u.toFixed(1)},${v.toFixed(1)}), read ${value}`);
    }
    assert.deepEqual(invertAffine(transform).length, 6);
  });
});

describe('views', () => {
  it('map image coordinates into a region view at its scale, pixel centres aligned', () => {
    const view = { raster: createRaster(50, 40), region: { x: 100, y: 60, width: 100, height: 80 }, scale: 0.5 };
    // Image pixel centre 100.5 is the centre of raster pixel 0; the identity output→image mapping shows it.
    const [a, , c, , e, f] = viewMapping(view, [1, 0, 0, 0, 1, 0]);
    assert.equal(a, 0.5);
    assert.equal(e, 0.5);
    assert.equal(0.5 * 100.5 + c, 0);
    assert.equal(0.5 * 60.5 + f, 0);
  });

  it('sample through a region view what sampling the whole image gives, on a linear image', () => {
    // A linear gradient is the one image whose 2× box-averaged region equals its own samples: red 10·x, green 10·y.
    const whole = gradient(24, 20);
    const region = { x: 4, y: 6, width: 16, height: 12 };
    const half = createRaster(8, 6);
    for (let v = 0; v < 6; v++) {
      for (let u = 0; u < 8; u++) half.data.set([10 * (region.x + 2 * u + 0.5), 10 * (region.y + 2 * v + 0.5), 7], (v * 8 + u) * 3);
    }
    const crop = resizeMapping({ x: 8, y: 8, width: 8, height: 8 }, 4, 4);
    const direct = sampleToTensor(whole, crop, spec(4, 4, 'RGB'), 'replicate');
    const viaView = sampleView({ raster: half, region, scale: 0.5 }, crop, spec(4, 4, 'RGB'), 'replicate');
    for (let i = 0; i < direct.length; i++) assert.ok(Math.abs(direct[i]! - viaView[i]!) < 1e-6, `${i}: ${direct[i]} vs ${viaView[i]}`);
  });
});

