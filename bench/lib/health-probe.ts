/**
 * A prober in its own process, as an orchestrator's would be: health over a new connection every interval, /metrics
 * every second, and one extract per second as a polite client would send it. Run by overload.ts through fork, so
 * that the load generator's event loop cannot delay the probes.
 */
import http from 'node:http';
import { selfie720 } from './images.js';
import type { HealthProbe, MetricsSample, ProbeReport, ProbeStart, SentinelRequest } from './probe-protocol.js';
import { parseMetricsText, sumOf } from './prometheus.js';
import { sleep } from './stats.js';

interface Answer {
  status: number;
  body: string;
  retryAfter: string | undefined;
}

/** One request on a connection of its own (no keep-alive), as kubelet probes are made. */
function request(url: string, method: 'GET' | 'POST', body?: Buffer): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request(url, { method, agent: false, headers: body ? { 'content-type': 'image/jpeg', 'content-length': body.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter });
      });
    });
    req.on('error', () => resolve({ status: 0, body: '', retryAfter: undefined }));
    req.end(body);
  });
}

async function every(intervalMs: number, until: number, work: () => Promise<void>): Promise<void> {
  for (let next = performance.now(); performance.now() < until; next += intervalMs) {
    await work();
    await sleep(Math.max(0, next + intervalMs - performance.now()));
  }
}

const image = await selfie720();
process.send!({ kind: 'ready' });

process.once('message', (start: ProbeStart) => {
  void (async () => {
    const origin = performance.now();
    const until = origin + start.seconds * 1000;
    const health: HealthProbe[] = [];
    const metrics: MetricsSample[] = [];
    const sentinels: SentinelRequest[] = [];
    const timed = async (method: 'GET' | 'POST', path: string, body?: Buffer): Promise<Answer & { at: number; ms: number }> => {
      const at = performance.now();
      const answer = await request(`${start.serviceUrl}${path}`, method, body);
      return { ...answer, at: at - origin, ms: performance.now() - at };
    };
    await timed('GET', '/metrics');
    await Promise.all([
      every(start.healthIntervalMs, until, async () => {
        const { at, ms, status } = await timed('GET', '/v1/face/pattern/health');
        health.push({ at, ms, status });
      }),
      every(1000, until, async () => {
        const answer = await timed('GET', '/metrics');
        const scrape = parseMetricsText(answer.body);
        metrics.push({
          at: answer.at,
          eventLoopLagP99: sumOf(scrape, 'nodejs_eventloop_lag_p99_seconds'),
          eventLoopLagMax: sumOf(scrape, 'nodejs_eventloop_lag_max_seconds'),
          inflight: sumOf(scrape, 'face_api_inflight_requests'),
          queued: sumOf(scrape, 'face_api_queued_requests'),
        });
      }),
      every(1000, until, async () => {
        const { at, ms, status, retryAfter } = await timed('POST', '/v1/face/pattern/extract', image);
        sentinels.push({ at, ms, status, retryAfter });
      }),
    ]);
    const report: ProbeReport = { kind: 'done', health, metrics, sentinels };
    process.send!(report, () => process.exit(0));
  })();
});
