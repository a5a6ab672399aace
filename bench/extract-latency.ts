/**
 * Sequential extract latency over HTTP against the real app (in-process server, bundled models), for a 250×250 LFW
 * JPEG and a 1280×720 JPEG made in memory from a real photo.
 *
 *   npm run bench:extract-latency [-- <requests per image>]
 */
import { postImage, startService } from '../test/helpers/service.js';
import { extractImages } from './lib/images.js';
import { summarise } from './lib/stats.js';

const requests = Number(process.argv[2] ?? 200);

const { lfw250, selfie720 } = await extractImages();
const images = { 'lfw 250x250': lfw250.bytes, 'photo 1280x720': selfie720.bytes };

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
  const { p50, p95, p99 } = summarise(times);
  console.log(`${name.padEnd(16)} p50 ${p50.toFixed(1)} ms  p95 ${p95.toFixed(1)} ms  p99 ${p99.toFixed(1)} ms  (${image.length} bytes)`);
}
await service.close();
