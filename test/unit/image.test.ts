import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { countJpegScans, type DecodeLimits, openImage } from '../../src/media/image.js';

const limits: DecodeLimits = { maxPixels: 40_000_000, maxDecodedPixels: 16_000_000, maxAspectRatio: 20, maxJpegScans: 100, timeoutMs: 5000 };

/** A photo of horizontal bands: each row's red value is its row index in tenths of the height, so rows can be told apart. */
async function bands(width: number, height: number, options: { orientation?: number; progressive?: boolean } = {}): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) data.fill(Math.floor((y / height) * 10) * 25, y * width * 3, (y + 1) * width * 3);
  const image = sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95, progressive: options.progressive ?? false });
  return (options.orientation ? image.withMetadata({ orientation: options.orientation }) : image).toBuffer();
}

describe('openImage', () => {
  it('decodes an image up to 2 MP once, whole, at full resolution, whatever scale is asked', async () => {
    const image = await openImage(await bands(640, 480), limits);
    assert.deepEqual([image.width, image.height], [640, 480]);
    const view = await image.view(0.25);
    assert.deepEqual([view.raster.width, view.raster.height, view.scale], [640, 480, 1]);
    assert.equal(await image.view(1), view);
  });

  it('decodes a larger JPEG at the power-of-two scale asked for, shrunk in its DCT', async () => {
    const image = await openImage(await bands(3200, 2400), limits);
    const view = await image.view(0.2);
    assert.deepEqual([view.raster.width, view.raster.height, view.scale], [800, 600, 0.25]);
    assert.deepEqual(view.region, { x: 0, y: 0, width: 3200, height: 2400 });
  });

  it('decodes a region at the scale asked for: its pixels are those of the same place in the image', async () => {
    const image = await openImage(await bands(3200, 2400), limits);
    const view = await image.view(0.5, { x: 1000, y: 1200, width: 400, height: 480 });
    assert.deepEqual(view.region, { x: 1000, y: 1200, width: 400, height: 480 });
    assert.deepEqual([view.raster.width, view.raster.height], [200, 240]);
    // Rows 1200..1680 of 2400 are bands 5 and 6: red 125 then 150.
    assert.ok(Math.abs(view.raster.data[0]! - 125) < 6, `${view.raster.data[0]}`);
    assert.ok(Math.abs(view.raster.data[view.raster.data.length - 3]! - 150) < 6, `${view.raster.data.at(-3)}`);
  });

  it('sizes and views an EXIF-rotated photo upright', async () => {
    const image = await openImage(await bands(3000, 2000, { orientation: 6 }), limits);
    assert.deepEqual([image.width, image.height], [2000, 3000]);
    const view = await image.view(0.25);
    assert.deepEqual([view.raster.width, view.raster.height], [500, 750]);
  });

  it('never holds more than maxDecodedPixels in one view', async () => {
    const image = await openImage(await bands(3200, 2400), { ...limits, maxDecodedPixels: 1_000_000 });
    const view = await image.view(1);
    assert.ok(view.raster.width * view.raster.height <= 1_000_000, `${view.raster.width}×${view.raster.height}`);
  });

  it('refuses from the header, before decoding: over the pixel limit, an absurd aspect ratio', async () => {
    await assert.rejects(openImage(await bands(3000, 2000), { ...limits, maxPixels: 5_000_000 }), /more than 5000000 pixels/);
    await assert.rejects(openImage(await bands(2100, 100), limits), /more than 20 times longer than wide/);
  });
});

describe('countJpegScans', () => {
  it('counts one scan in a baseline JPEG and several in a progressive one', async () => {
    assert.equal(countJpegScans(await bands(64, 64), 100), 1);
    const progressive = countJpegScans(await bands(64, 64, { progressive: true }), 100);
    assert.ok(progressive > 1 && progressive < 20, `${progressive}`);
  });

  it('stops counting past the limit', async () => {
    assert.equal(countJpegScans(await bands(64, 64, { progressive: true }), 2), 3);
  });
});
