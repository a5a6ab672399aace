/**
 * Soak: a mixed workload of valid and malformed requests (bench/lib/soak-workload.ts) against the built service for
 * ten minutes by default, from a few closed-loop clients. Reports requests, answers by status and error code,
 * answers that differ from what the README documents, latency per request kind, and the service's RSS every second,
 * to judge whether memory stays flat. `npm run bench:report` draws bench/soak.png from the results.
 *
 *   npm run bench:soak [-- --minutes 10 --connections 4 --no-build]
 */
import { parseArgs } from 'node:util';
import { waitForQuietMachine } from './lib/cpu.js';
import { positiveNumber } from './lib/options.js';
import { scrapeMetrics, sumOf } from './lib/prometheus.js';
import { rssMb, treeRssMb } from './lib/rss.js';
import { type RunInfo, runInfo, writeResults } from './lib/run-info.js';
import { buildService, startServiceProcess } from './lib/service-process.js';
import { type SoakRequest, soakWorkload, weightedPicker } from './lib/soak-workload.js';
import { median } from '../src/statistics.js';
import { type LatencySummary, summarise } from './lib/stats.js';
import { fixed, textTable } from './lib/table.js';

export interface SoakSample {
  /** Seconds since the soak began. */
  seconds: number;
  rssMb: number;
  treeRssMb: number;
  /** The main thread's V8 heap in use and memory held outside it (Buffers), from the service's /metrics. */
  heapUsedMb: number;
  externalMb: number;
  /** Answers received in the second before the sample. */
  answers: number;
}

export interface SoakKindResult {
  name: string;
  valid: boolean;
  sent: number;
  /** Answers by `status code` (code empty for 200s). */
  answers: Record<string, number>;
  /** Answers that were not what the workload expects. */
  unexpected: number;
  latencyMs: LatencySummary;
}

export interface SoakReport {
  run: RunInfo;
  minutes: number;
  connections: number;
  requests: number;
  validShare: number;
  /** Requests that got no answer at all (connection error or timeout). */
  transportErrors: number;
  unexpected: number;
  /** First answers that were not as expected, for diagnosis. */
  unexpectedExamples: string[];
  byCode: Record<string, number>;
  kinds: SoakKindResult[];
  samples: SoakSample[];
  /** RSS medians of the first minute (warm-up: every code path runs for the first time), the second and the last. */
  rss: { restMb: number; firstMinuteMedianMb: number; secondMinuteMedianMb: number; lastMinuteMedianMb: number; peakMb: number; peakTreeMb: number; secondHalfSlopeMbPerMinute: number };
  /** The main thread's heap and external memory, first and last minute (medians): a leak in JavaScript shows here. */
  heap: { firstMinuteMedianMb: number; lastMinuteMedianMb: number; externalFirstMinuteMedianMb: number; externalLastMinuteMedianMb: number };
  healthAfter: number | undefined;
}

const { values: options } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    connections: { type: 'string', default: '4' },
    'no-build': { type: 'boolean', default: false },
  },
});
const minutes = positiveNumber(options.minutes, 'minutes');
const connections = positiveNumber(options.connections, 'connections');
const REQUEST_TIMEOUT_MS = 60_000;
const EXAMPLES_KEPT = 10;
const MB = 2 ** 20;

interface Answer {
  status: number;
  code: string | undefined;
  body: string;
}

async function send(serviceUrl: string, request: SoakRequest): Promise<Answer> {
  const response = await fetch(`${serviceUrl}${request.path}`, {
    method: request.method,
    headers: request.headers,
    ...(request.body ? { body: request.body } : {}),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await response.text();
  let code: string | undefined;
  if (response.status !== 200) {
    try {
      code = (JSON.parse(body) as { code?: string }).code;
    } catch {
      code = undefined;
    }
  }
  return { status: response.status, code, body };
}

function mismatch(request: SoakRequest, answer: Answer): string | undefined {
  const { expect } = request;
  if (answer.status !== expect.status) return `${request.name}: HTTP ${answer.status} ${answer.code ?? ''}, expected ${expect.status} ${expect.code ?? ''}`;
  if (expect.code && answer.code !== expect.code) return `${request.name}: code ${answer.code}, expected ${expect.code}`;
  if (expect.bodyIncludes && !answer.body.includes(expect.bodyIncludes)) return `${request.name}: body without ${expect.bodyIncludes}: ${answer.body.slice(0, 200)}`;
  return undefined;
}

/** Least-squares slope of y over x. */
function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  const meanX = points.reduce((a, p) => a + p.x, 0) / n;
  const meanY = points.reduce((a, p) => a + p.y, 0) / n;
  const covariance = points.reduce((a, p) => a + (p.x - meanX) * (p.y - meanY), 0);
  const variance = points.reduce((a, p) => a + (p.x - meanX) ** 2, 0);
  return variance === 0 ? 0 : covariance / variance;
}

if (!options['no-build']) buildService();
await waitForQuietMachine();
const service = await startServiceProcess();
try {
  const workload = await soakWorkload(service.url);
  for (const request of workload) {
    const problem = mismatch(request, await send(service.url, request));
    if (problem) throw new Error(`the workload does not match the service before the soak: ${problem}`);
  }
  const restMb = rssMb(service.pid) ?? Number.NaN;
  const pick = weightedPicker(workload);
  const kinds = new Map(workload.map((r) => [r.name, { request: r, latencies: [] as number[], answers: {} as Record<string, number>, unexpected: 0 }]));
  const byCode: Record<string, number> = {};
  const unexpectedExamples: string[] = [];
  let transportErrors = 0;
  let answersThisSecond = 0;
  const samples: SoakSample[] = [];
  let minutesLogged = 0;
  const started = performance.now();
  const endsAt = started + minutes * 60_000;
  const sampler = setInterval(async () => {
    const seconds = (performance.now() - started) / 1000;
    const sample = { seconds, rssMb: rssMb(service.pid) ?? 0, treeRssMb: treeRssMb(service.pid), answers: answersThisSecond };
    answersThisSecond = 0;
    const metrics = await scrapeMetrics(service.url).catch(() => undefined);
    const megabytes = (name: string): number => (metrics ? sumOf(metrics, name) / MB : Number.NaN);
    samples.push({ ...sample, heapUsedMb: megabytes('nodejs_heap_size_used_bytes'), externalMb: megabytes('nodejs_external_memory_bytes') });
    const minute = Math.floor((performance.now() - started) / 60_000);
    if (minute > minutesLogged) {
      minutesLogged = minute;
      console.log(`${minute} min: RSS ${fixed(samples.at(-1)!.rssMb, 0)} MB, ${[...kinds.values()].reduce((a, k) => a + k.latencies.length, 0)} requests`);
    }
  }, 1000);

  const client = async (): Promise<void> => {
    while (performance.now() < endsAt) {
      const request = pick();
      const kind = kinds.get(request.name)!;
      const sentAt = performance.now();
      try {
        const answer = await send(service.url, request);
        kind.latencies.push(performance.now() - sentAt);
        const key = `${answer.status} ${answer.code ?? ''}`.trim();
        kind.answers[key] = (kind.answers[key] ?? 0) + 1;
        byCode[key] = (byCode[key] ?? 0) + 1;
        answersThisSecond++;
        const problem = mismatch(request, answer);
        if (problem) {
          kind.unexpected++;
          if (unexpectedExamples.length < EXAMPLES_KEPT) unexpectedExamples.push(problem);
        }
      } catch (error) {
        transportErrors++;
        if (unexpectedExamples.length < EXAMPLES_KEPT) unexpectedExamples.push(`${request.name}: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, client));
  clearInterval(sampler);

  const healthAfter = await fetch(`${service.url}/v1/face/pattern/health`)
    .then(async (r) => ((await r.json()) as { status: number }).status)
    .catch(() => undefined);
  const kindResults: SoakKindResult[] = [...kinds.values()].map((k) => ({
    name: k.request.name,
    valid: k.request.valid,
    sent: k.latencies.length,
    answers: k.answers,
    unexpected: k.unexpected,
    latencyMs: summarise(k.latencies),
  }));
  const requests = kindResults.reduce((a, k) => a + k.sent, 0);
  const lastSecond = samples.at(-1)?.seconds ?? 0;
  const within = (from: number, to: number, value: (s: SoakSample) => number = (s) => s.rssMb): number[] =>
    samples.filter((s) => s.seconds >= from && s.seconds < to).map(value);
  const firstMinute = (value: (s: SoakSample) => number): number => median(within(0, 60, value));
  const lastMinute = (value: (s: SoakSample) => number): number => median(within(lastSecond - 60, lastSecond + 1, value));
  const report: SoakReport = {
    run: runInfo({ MAX_CONCURRENT_REQUESTS: service.config.maxConcurrentRequests, INFERENCE_WORKERS: service.config.inferenceWorkers, MALLOC_ARENA_MAX: service.mallocArenaMax }),
    minutes,
    connections,
    requests,
    validShare: kindResults.filter((k) => k.valid).reduce((a, k) => a + k.sent, 0) / Math.max(1, requests),
    transportErrors,
    unexpected: kindResults.reduce((a, k) => a + k.unexpected, 0),
    unexpectedExamples,
    byCode,
    kinds: kindResults,
    samples,
    rss: {
      restMb,
      firstMinuteMedianMb: firstMinute((s) => s.rssMb),
      secondMinuteMedianMb: median(within(60, 120)),
      lastMinuteMedianMb: lastMinute((s) => s.rssMb),
      peakMb: Math.max(...samples.map((s) => s.rssMb)),
      peakTreeMb: Math.max(...samples.map((s) => s.treeRssMb)),
      secondHalfSlopeMbPerMinute: 60 * slope(samples.filter((s) => s.seconds >= lastSecond / 2).map((s) => ({ x: s.seconds, y: s.rssMb }))),
    },
    heap: {
      firstMinuteMedianMb: firstMinute((s) => s.heapUsedMb),
      lastMinuteMedianMb: lastMinute((s) => s.heapUsedMb),
      externalFirstMinuteMedianMb: firstMinute((s) => s.externalMb),
      externalLastMinuteMedianMb: lastMinute((s) => s.externalMb),
    },
    healthAfter,
  };

  console.log(
    textTable(
      ['request', 'valid', 'sent', 'unexpected', 'p50 ms', 'p99 ms', 'answers'],
      kindResults.map((k) => [k.name, k.valid ? 'yes' : 'no', String(k.sent), String(k.unexpected), fixed(k.latencyMs.p50), fixed(k.latencyMs.p99), Object.entries(k.answers).map(([c, n]) => `${n} × ${c}`).join(', ')]),
    ),
  );
  console.log(`\n${requests} requests in ${minutes} min (${fixed(100 * report.validShare, 0)} % valid); ${report.unexpected} unexpected answers; ${transportErrors} transport errors; health after: ${String(healthAfter)}`);
  console.log(`RSS: rest ${fixed(restMb, 0)} MB, first-minute median ${fixed(report.rss.firstMinuteMedianMb, 0)}, second ${fixed(report.rss.secondMinuteMedianMb, 0)}, last-minute median ${fixed(report.rss.lastMinuteMedianMb, 0)}, peak ${fixed(report.rss.peakMb, 0)} (with children ${fixed(report.rss.peakTreeMb, 0)}), second-half slope ${fixed(report.rss.secondHalfSlopeMbPerMinute, 2)} MB/min`);
  console.log(`main-thread heap: ${fixed(report.heap.firstMinuteMedianMb, 0)} → ${fixed(report.heap.lastMinuteMedianMb, 0)} MB; external: ${fixed(report.heap.externalFirstMinuteMedianMb, 0)} → ${fixed(report.heap.externalLastMinuteMedianMb, 0)} MB (first vs last minute medians)`);
  for (const example of unexpectedExamples) console.log(`  unexpected: ${example}`);
  console.log(`results: ${await writeResults('soak', report)}`);
} finally {
  await service.stop();
}
