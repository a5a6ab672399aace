/**
 * compare_n end to end over HTTP (multipart parsing, template checks, matching, JSON answer) for N = 1,000 and
 * 10,000 templates extracted from real photos, against the in-process app.
 *
 *   npm run bench:compare-n [-- <runs per N>]
 */
import { readFile } from 'node:fs/promises';
import { dataPath } from '../test/helpers/data.js';
import { multipart } from '../test/helpers/multipart.js';
import { postImage, startService } from '../test/helpers/service.js';

const runs = Number(process.argv[2] ?? 20);
const service = await startService();
const photos = [
  'faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg',
  'faces/face_recognition_examples/barack_obama/obama.jpg',
  'faces/face_recognition_examples/joe_biden/biden.jpg',
  'faces/face_recognition_examples/kit_harington/john1.jpeg',
];
const templates: Buffer[] = [];
for (const photo of photos) {
  const response = await postImage(`${service.url}/v1/face/pattern/extract`, await readFile(dataPath(photo)), 'image/jpeg');
  templates.push(Buffer.from(await response.arrayBuffer()));
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;
console.log(`compare_n, median of ${runs} requests (after 3 warm-up requests)`);
for (const n of [1_000, 10_000]) {
  const { body, contentType } = multipart([
    { name: 'template_1', contentType: 'application/octet-stream', body: templates[0]! },
    ...Array.from({ length: n }, (_, i) => ({ name: 'templates_n', filename: `${i}.template`, contentType: 'application/octet-stream', body: templates[i % templates.length]! })),
  ]);
  const times: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    const started = performance.now();
    const response = await fetch(`${service.url}/v1/face/pattern/compare_n`, { method: 'POST', body, headers: { 'content-type': contentType } });
    const result = (await response.json()) as { results: unknown[] };
    if (response.status !== 200 || result.results.length !== n) throw new Error(`N=${n}: HTTP ${response.status}`);
    if (i >= 3) times.push(performance.now() - started);
  }
  console.log(`N = ${String(n).padStart(6)}  body ${(body.length / 1e6).toFixed(1)} MB  median ${median(times).toFixed(1)} ms  min ${Math.min(...times).toFixed(1)} ms  max ${Math.max(...times).toFixed(1)} ms`);
}
await service.close();
