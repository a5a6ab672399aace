/**
 * Images whose header promises a decode out of all proportion to their bytes are refused from the header, before
 * any pixel is decoded: what the refusal costs is measured, not assumed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { pngOfZeros } from '../helpers/bad-input.js';
import { needsData, readData } from '../helpers/data.js';
import { expectError, postImage, type TestService, startService } from '../helpers/service.js';

/** A progressive JPEG whose last scan is repeated `copies` times: tiny, and each scan a pass over the whole image. */
async function scanBomb(copies: number): Promise<Buffer> {
  const side = 1024;
  const flat = Buffer.alloc(side * side * 3, 128);
  const jpeg = await sharp(flat, { raw: { width: side, height: side, channels: 3 } }).jpeg({ progressive: true, quality: 90 }).toBuffer();
  const lastScan = jpeg.lastIndexOf(Buffer.from([0xff, 0xda]));
  const end = jpeg.length - 2;
  const scan = jpeg.subarray(lastScan, end);
  return Buffer.concat([jpeg.subarray(0, end), ...Array.from({ length: copies }, () => scan), jpeg.subarray(end)]);
}

/** CPU milliseconds this process (the in-process service, its libvips and inference threads) spends on `work`. */
async function cpuMs(work: () => Promise<unknown>): Promise<number> {
  const started = process.cpuUsage();
  await work();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000;
}

describe('images refused from their header, before decoding', needsData, () => {
  let service: TestService;
  let extract: string;
  let liveness: string;
  before(async () => {
    service = await startService();
    extract = `${service.url}/v1/face/pattern/extract`;
    liveness = `${service.url}/v1/face/liveness/detect`;
    // Warm every path once, so that what is measured below is the refusal alone.
    await postImage(extract, await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg'), 'image/jpeg');
  });
  after(() => service.close());

  it('a progressive JPEG of thousands of scans: BPE-002003 / LDE-002004 at a few milliseconds of CPU', async () => {
    const bomb = await scanBomb(3000);
    assert.ok(bomb.length < 100_000, `${bomb.length} bytes`);
    let message = '';
    const spent = await cpuMs(async () => {
      message = (await expectError(await postImage(extract, bomb, 'image/jpeg'), 400, 'BPE-002003')).message;
      await expectError(await postImage(liveness, bomb, 'image/jpeg'), 400, 'LDE-002004');
    });
    assert.match(message, /more than 100 scans/);
    assert.ok(spent < 250, `${spent.toFixed(0)} ms of CPU`);
  });

  it('a JPEG of an ordinary number of scans is still decoded', async () => {
    const progressive = await sharp(await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg')).jpeg({ progressive: true }).toBuffer();
    assert.equal((await postImage(extract, progressive, 'image/jpeg')).status, 200);
  });

  it('PNGs of absurd shape (1 × 24,000,000 and 40,000,000 × 1): refused at a few milliseconds of CPU, no raster allocated', async () => {
    for (const [width, height] of [[1, 24_000_000], [40_000_000, 1]] as const) {
      const png = pngOfZeros(width, height);
      const rssBefore = process.memoryUsage().rss;
      let message = '';
      const spent = await cpuMs(async () => {
        message = (await expectError(await postImage(extract, png, 'image/png'), 400, 'BPE-002003')).message;
      });
      assert.match(message, /more than 20 times longer than wide/, `${width}×${height}`);
      assert.ok(spent < 250, `${width}×${height}: ${spent.toFixed(0)} ms of CPU`);
      assert.ok(process.memoryUsage().rss - rssBefore < 64 * 2 ** 20, `${width}×${height}: RSS grew by ${((process.memoryUsage().rss - rssBefore) / 2 ** 20).toFixed(0)} MiB`);
    }
  });
});
