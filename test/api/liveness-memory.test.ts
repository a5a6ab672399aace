/**
 * Multi-frame media are bounded like videos: frames of archives and capture objects are decoded one at a time, to
 * the video frame pixel limit, and released. Measured here as the growth of this process's peak RSS (the kernel's
 * high-water mark, reset before the request) while the in-process service answers a folder of ten such media.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import sharp from 'sharp';
import { captureObject, frameArchive, videoFramesAsJpeg } from '../../tools/eval/attack-media.js';
import { needsData, readData } from '../helpers/data.js';
import { postMultipart } from '../helpers/multipart.js';
import { type TestService, startService } from '../helpers/service.js';

const MIB = 2 ** 20;
/**
 * Measured on this code: 39–80 MiB for ten archives or capture objects of 16 full-HD JPEG frames; 235–262 MiB when
 * every frame of a media was decoded at full size at once and kept until the media was done.
 */
const PEAK_GROWTH_BOUND = 128 * MIB;

const statusBytes = (key: 'VmRSS' | 'VmHWM'): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

/** Growth of the process's peak RSS over its settled RSS while `work` runs. */
async function peakGrowth(work: () => Promise<void>): Promise<number> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  // Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS (Linux 4.0 and later).
  writeFileSync('/proc/self/clear_refs', '5');
  const settled = statusBytes('VmRSS');
  await work();
  return statusBytes('VmHWM') - settled;
}

describe('memory of multi-frame media', needsData, () => {
  let service: TestService;
  let frames: Buffer[];
  before(async () => {
    service = await startService();
    const selfie = await videoFramesAsJpeg(service.config.ffmpegPath, await readData('video/selfie_6s.mp4'), 16);
    frames = await Promise.all(selfie.map((frame) => sharp(frame).resize(1920, 1080, { fit: 'fill' }).jpeg({ quality: 85 }).toBuffer()));
  });
  after(() => service.close());

  for (const [kind, build] of [
    ['ZIP archives', () => frameArchive(frames)],
    ['capture objects', () => captureObject(frames, frames[0]!)],
  ] as const) {
    it(`ten ${kind} of 16 full-HD frames in one folder raise peak RSS by less than ${PEAK_GROWTH_BOUND / MIB} MiB`, async () => {
      const media = build();
      const parts = Array.from({ length: 10 }, (_, i) => ({ name: `m${i}`, filename: `m${i}`, body: media }));
      const url = `${service.url}/v1/face/liveness/detect`;
      await (await postMultipart(url, parts.slice(0, 1))).arrayBuffer();
      let resolutions: string[] = [];
      const growth = await peakGrowth(async () => {
        const response = await postMultipart(url, parts);
        assert.equal(response.status, 200);
        resolutions = ((await response.json()) as { analyses: { resolution_status: string }[] }).analyses.map((a) => a.resolution_status);
      });
      assert.deepEqual(resolutions, ['SUCCESS']);
      assert.ok(growth < PEAK_GROWTH_BOUND, `peak RSS grew by ${(growth / MIB).toFixed(0)} MiB`);
    });
  }
});
