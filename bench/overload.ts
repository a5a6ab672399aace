/**
 * Overload: far more concurrent 720p extracts than the service can take — by default three times its capacity, the
 * requests it holds at once (MAX_CONCURRENT_REQUESTS in slots + MAX_QUEUED_REQUESTS waiting) — with its default
 * admission limits, while a separate process probes health every 100 ms, scrapes /metrics every second and sends one
 * polite extract per second. Reports how many requests were refused with 503 (and whether the refusals carry
 * Retry-After), the latency of the admitted ones, how health probes and the event loop fared, and memory.
 *
 * Then slow uploads: six clients send 200 kB bodies at 2 kB/s (above BODY_MIN_BYTES_PER_SECOND, so they stay in
 * flight) while one good extract at a time is sent; reports how the good ones fared.
 *
 *   npm run bench:overload [-- --connections <3 × capacity> --seconds 20 --no-build]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { waitForQuietMachine, watchThreads, watchTreeCpu } from './lib/cpu.js';
import { selfie720 } from './lib/images.js';
import { type LoadResult, runLoad } from './lib/load-generator.js';
import { positiveNumber } from './lib/options.js';
import type { ProbeReport, ProbeStart } from './lib/probe-protocol.js';
import { scrapeMetrics, sumOf } from './lib/prometheus.js';
import { rssMb, sampleRss } from './lib/rss.js';
import { type RunInfo, runInfo, writeResults } from './lib/run-info.js';
import { buildService, startServiceProcess } from './lib/service-process.js';
import { type LatencySummary, sleep, summarise } from './lib/stats.js';
import { fixed, textTable } from './lib/table.js';

export interface OverloadReport {
  run: RunInfo;
  /** Requests the service holds at once: inference slots plus queue. */
  capacity: number;
  connections: number;
  seconds: number;
  load: LoadResult;
  /** Share of all answers that were 503. */
  share503: number;
  rejectedByReason: Record<string, number>;
  /** `slowest`: the five slowest probes, with when they were sent (ms from the start of the flood). */
  health: { latencyMs: LatencySummary; non200: number; probes: number; slowest: { at: number; ms: number }[] };
  eventLoop: { worstP99Ms: number; worstMaxMs: number; perSecondP99Ms: number[] };
  maxQueued: number;
  sentinels: { sent: number; ok: number; refused: number; refusedWithRetryAfter: number; okLatencyMs: LatencySummary };
  restRssMb: number;
  peakRssMb: number;
  /** Cores' worth of CPU: the service, the load generator with the prober (this benchmark's other processes), the rest. */
  cpu: { service: number; generator: number; other: number };
  /** Share of one core the service's main thread (its event loop) was busy. */
  mainThreadBusy: number;
  slowUploads: SlowUploadsReport;
}

export interface SlowUploadsReport {
  uploads: number;
  uploadBytesPerSecond: number;
  /** Requests whose bodies were being received, read from /metrics while the good requests ran. */
  receiving: number;
  /** Inference slots in use at the same moment. */
  inflight: number;
  good: { sent: number; ok: number; latencyMs: LatencySummary };
}

const { values: options } = parseArgs({
  options: {
    connections: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    'no-build': { type: 'boolean', default: false },
  },
});
const seconds = positiveNumber(options.seconds, 'seconds');

if (!options['no-build']) buildService();
await waitForQuietMachine();
const service = await startServiceProcess();
const capacity = service.config.maxConcurrentRequests + service.config.maxQueuedRequests;
const connections = options.connections === undefined ? 3 * capacity : positiveNumber(options.connections, 'connections');
const probe = fork(fileURLToPath(new URL('./lib/health-probe.ts', import.meta.url)), [], {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
try {
  await once(probe, 'message');
  const image = await selfie720();
  await runLoad(service.url, { path: '/v1/face/pattern/extract', body: image, contentType: 'image/jpeg' }, 1, 2);
  await sleep(1000);
  const restRssMb = rssMb(service.pid) ?? Number.NaN;
  const before = await scrapeMetrics(service.url);

  const probeDone = once(probe, 'message') as Promise<[ProbeReport]>;
  probe.send({ kind: 'start', serviceUrl: service.url, seconds, healthIntervalMs: 100 } satisfies ProbeStart);
  const rss = sampleRss(service.pid);
  const serviceCpu = watchTreeCpu(service.pid);
  const threads = watchThreads(service.pid);
  const load = await runLoad(service.url, { path: '/v1/face/pattern/extract', body: image, contentType: 'image/jpeg' }, connections, seconds);
  const serviceCores = serviceCpu.stop().cores;
  const mainThreadBusy = threads.stop().mainThreadCores;
  const peak = rss.stop();
  const [probed] = await probeDone;
  const after = await scrapeMetrics(service.url);
  await sleep(2000);
  const slowUploads = await whileUploadsTrickle(service.url, image);

  const all = Object.values(load.statusCounts).reduce((a, b) => a + b, 0);
  const rejectedByReason: Record<string, number> = {};
  for (const reason of ['queue_full', 'queue_timeout']) {
    rejectedByReason[reason] = sumOf(after, 'face_api_rejected_requests_total', { reason }) - sumOf(before, 'face_api_rejected_requests_total', { reason });
  }
  const refused = probed.sentinels.filter((s) => s.status === 503);
  const report: OverloadReport = {
    run: runInfo({
      MAX_CONCURRENT_REQUESTS: service.config.maxConcurrentRequests,
      MAX_QUEUED_REQUESTS: service.config.maxQueuedRequests,
      QUEUE_TIMEOUT_MS: service.config.queueTimeoutMs,
      ONNX_INTRA_OP_THREADS: service.config.onnxIntraOpThreads,
      LOG_LEVEL: service.config.logLevel,
      MALLOC_ARENA_MAX: service.mallocArenaMax,
    }),
    capacity,
    connections,
    seconds,
    load,
    share503: (load.statusCounts['503'] ?? 0) / Math.max(1, all),
    rejectedByReason,
    health: {
      latencyMs: summarise(probed.health.map((h) => h.ms)),
      non200: probed.health.filter((h) => h.status !== 200).length,
      probes: probed.health.length,
      slowest: [...probed.health].sort((a, b) => b.ms - a.ms).slice(0, 5).map(({ at, ms }) => ({ at: Math.round(at), ms: Math.round(ms) })),
    },
    eventLoop: {
      worstP99Ms: Math.max(...probed.metrics.map((m) => m.eventLoopLagP99 * 1000)),
      worstMaxMs: Math.max(...probed.metrics.map((m) => m.eventLoopLagMax * 1000)),
      perSecondP99Ms: probed.metrics.map((m) => m.eventLoopLagP99 * 1000),
    },
    maxQueued: Math.max(...probed.metrics.map((m) => m.queued)),
    sentinels: {
      sent: probed.sentinels.length,
      ok: probed.sentinels.filter((s) => s.status === 200).length,
      refused: refused.length,
      refusedWithRetryAfter: refused.filter((s) => s.retryAfter !== undefined).length,
      okLatencyMs: summarise(probed.sentinels.filter((s) => s.status === 200).map((s) => s.ms)),
    },
    restRssMb,
    peakRssMb: peak.peakMb,
    cpu: { service: serviceCores, generator: Math.max(0, load.cpu.oursCores - serviceCores), other: load.cpu.foreignCores },
    mainThreadBusy,
    slowUploads,
  };

  console.log(
    textTable(
      ['measure', 'value'],
      [
        ['load', `${connections} connections (${fixed(connections / capacity)} × capacity) × ${seconds} s, 1280×720 extract, MAX_CONCURRENT_REQUESTS ${service.config.maxConcurrentRequests}, MAX_QUEUED_REQUESTS ${service.config.maxQueuedRequests}`],
        ['answers', `${all} (${fixed(load.requestsPerSecond)}/s): ${JSON.stringify(load.statusCounts)}; ${load.errors} connection errors or timeouts`],
        ['answered 503', `${fixed(100 * report.share503)} % (queue full ${rejectedByReason.queue_full}, queue timeout ${rejectedByReason.queue_timeout})`],
        ['admitted (200) per second', fixed(load.okPerSecond)],
        ['admitted (200) latency p50 / p99', latencyCell(load.latencyByStatusMs['200'])],
        ['refused (503) latency p50 / p99', latencyCell(load.latencyByStatusMs['503'])],
        ['health probes p50 / p99 / max', `${fixed(report.health.latencyMs.p50)} / ${fixed(report.health.latencyMs.p99)} / ${fixed(report.health.latencyMs.max)} ms (${report.health.probes} probes, ${report.health.non200} not 200)`],
        ['slowest health probes (ms, sent at s)', report.health.slowest.map((h) => `${h.ms} at ${fixed(h.at / 1000)}`).join(', ')],
        ['event-loop lag, worst 1-s p99 / max', `${fixed(report.eventLoop.worstP99Ms)} / ${fixed(report.eventLoop.worstMaxMs)} ms`],
        ['queue depth seen (max)', String(report.maxQueued)],
        [
          'polite client (1 extract/s)',
          `${report.sentinels.ok} of ${report.sentinels.sent} admitted (p50 ${fixed(report.sentinels.okLatencyMs.p50)} ms), ${report.sentinels.refused} refused, ${report.sentinels.refusedWithRetryAfter} of them with Retry-After`,
        ],
        ['RSS at rest / peak', `${fixed(restRssMb)} / ${fixed(peak.peakMb)} MB`],
        ['service main thread (event loop) busy', `${fixed(100 * mainThreadBusy, 0)} % of a core`],
        [
          `good extracts while ${slowUploads.uploads} uploads trickle at ${slowUploads.uploadBytesPerSecond} B/s`,
          `${slowUploads.good.ok} of ${slowUploads.good.sent} answered 200 (p50 ${fixed(slowUploads.good.latencyMs.p50)} ms, max ${fixed(slowUploads.good.latencyMs.max)} ms); ${slowUploads.receiving} bodies being received, ${slowUploads.inflight} slots in use`,
        ],
        ['CPU: service / load generator and prober / other processes', `${fixed(report.cpu.service, 2)} / ${fixed(report.cpu.generator, 2)} / ${fixed(report.cpu.other, 2)} cores`],
      ],
    ),
  );
  console.log(`results: ${await writeResults('overload', report)}`);
} finally {
  if (probe.exitCode === null) probe.kill('SIGTERM');
  await service.stop();
}

function latencyCell(latency: LatencySummary | undefined): string {
  return latency ? `${fixed(latency.p50)} / ${fixed(latency.p99)} ms` : 'none';
}

/**
 * Six uploads of a declared 200 kB body, each sending 512 bytes every 250 ms (2 kB/s: slow, but above the minimum
 * rate), and meanwhile one good extract at a time, eight in all. The uploads are dropped at the end.
 */
async function whileUploadsTrickle(serviceUrl: string, image: Buffer): Promise<SlowUploadsReport> {
  const uploads = 6;
  const chunk = Buffer.alloc(512, 0x5a);
  const { port } = new URL(serviceUrl);
  const sockets = Array.from({ length: uploads }, () => {
    const socket = connect(Number(port), '127.0.0.1');
    socket.on('error', () => {});
    socket.write('POST /v1/face/pattern/extract HTTP/1.1\r\nHost: bench\r\nContent-Type: image/jpeg\r\nContent-Length: 200000\r\n\r\n');
    return { socket, timer: setInterval(() => socket.write(chunk), 250) };
  });
  try {
    await sleep(1000);
    const scrape = await scrapeMetrics(serviceUrl);
    const good: { status: number; ms: number }[] = [];
    for (let i = 0; i < 8; i++) {
      const started = performance.now();
      const response = await fetch(`${serviceUrl}/v1/face/pattern/extract`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });
      await response.arrayBuffer();
      good.push({ status: response.status, ms: performance.now() - started });
      await sleep(250);
    }
    return {
      uploads,
      uploadBytesPerSecond: chunk.length * 4,
      receiving: sumOf(scrape, 'face_api_receiving_requests'),
      inflight: sumOf(scrape, 'face_api_inflight_requests'),
      good: { sent: good.length, ok: good.filter((g) => g.status === 200).length, latencyMs: summarise(good.map((g) => g.ms)) },
    };
  } finally {
    for (const { socket, timer } of sockets) {
      clearInterval(timer);
      socket.destroy();
    }
  }
}
