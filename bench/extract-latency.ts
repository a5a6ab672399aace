/**
 * Sequential extract latency over HTTP against the real app (in-process server, bundled models), for a 250×250 LFW
 * JPEG and a 1280×720 JPEG made in memory from a real photo.
 *
 *   npm run bench:extract-latency [-- <requests per image>]
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { dataPath } from '../test/helpers/data.js';
import { postImage, startService } from '../test/helpers/service.js';

const requests = Number(process.argv[2] ?? 200);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const images = {
  'lfw 250x250': await readFile(dataPath('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg')),
  'photo 1280x720': await sharp(await readFile(dataPath('faces/face_recognition_examples/barack_obama/obama1.jpg')))
    .resize(1280, 720, { fit: 'cover' })
    .jpeg({ quality: 90 })
    .toBuffer(),
};

const service = await startService();
const url = `${service.url}/v1/face/pattern/extract`;
console.log(`extract, ${requests} sequential requests per image, ONNX threads ${service.config.onnxIntraOpThreads}`);
for (const [name, image] of Object.entries(images)) {
  for (let i = 0; i < 10; i++) await (await postImage(url, image, 'image/jpeg')).arrayBuffer();
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const response = await postImage(url, image, 'image/jpeg');
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${name}: HTTP ${response.status}`);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(16)} p50 ${percentile(times, 50).toFixed(1)} ms  p95 ${percentile(times, 95).toFixed(1)} ms  p99 ${percentile(times, 99).toFixed(1)} ms  (${image.length} bytes)`);
}
await service.close();
