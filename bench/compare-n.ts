/**
 * compare_n end to end over HTTP (multipart parsing, template checks, matching, JSON answer) for N = 1,000 and
 * 10,000 templates extracted from real photos, against the in-process app.
 *
 *   npm run bench:compare-n [-- <runs per N>]
 */
import { multipart } from '../test/helpers/multipart.js';
import { startService } from '../test/helpers/service.js';
import { median } from './lib/stats.js';
import { extractTemplates } from './lib/templates.js';

const runs = Number(process.argv[2] ?? 20);
const service = await startService();
const templates = await extractTemplates(service.url);

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
