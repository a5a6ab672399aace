import autocannon from 'autocannon';
import { type CpuShare, watchCpu } from './cpu.js';
import { type LatencySummary, summarise } from './stats.js';

/** One kind of request a benchmark sends, again and again, unchanged. */
export interface RequestSpec {
  path: string;
  body: Buffer;
  contentType: string;
}

export interface LoadResult {
  connections: number;
  seconds: number;
  /** Answers received (any status) per second. */
  requestsPerSecond: number;
  /** Answers with status 200 per second. */
  okPerSecond: number;
  latencyMs: LatencySummary;
  /** Latency of the answers of each status code. */
  latencyByStatusMs: Record<string, LatencySummary>;
  statusCounts: Record<string, number>;
  non2xx: number;
  /** Connection errors and timeouts: requests that got no answer at all. */
  errors: number;
  /** CPU used by the benchmark's processes and by everything else during the run. */
  cpu: CpuShare;
}

/**
 * Drives `spec` with autocannon (closed loop: each connection sends its next request when the previous answer
 * arrives) for `seconds`, recording every answer's status and latency.
 */
export async function runLoad(serviceUrl: string, spec: RequestSpec, connections: number, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  const byStatus = new Map<number, number[]>();
  const cpu = watchCpu();
  const instance = autocannon({
    url: `${serviceUrl}${spec.path}`,
    method: 'POST',
    body: spec.body,
    headers: { 'content-type': spec.contentType },
    connections,
    duration: seconds,
    timeout: 60,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    latencies.push(responseTime);
    const times = byStatus.get(statusCode);
    if (times) times.push(responseTime);
    else byStatus.set(statusCode, [responseTime]);
  });
  const result = await instance;
  const cpuShare = cpu.stop();
  const statusCounts: Record<string, number> = {};
  const latencyByStatusMs: Record<string, LatencySummary> = {};
  for (const [status, times] of byStatus) {
    statusCounts[status] = times.length;
    latencyByStatusMs[status] = summarise(times);
  }
  const ok = statusCounts['200'] ?? 0;
  return {
    connections,
    seconds: result.duration,
    requestsPerSecond: latencies.length / result.duration,
    okPerSecond: ok / result.duration,
    latencyMs: summarise(latencies),
    latencyByStatusMs,
    statusCounts,
    non2xx: latencies.length - Object.entries(statusCounts).filter(([code]) => code.startsWith('2')).reduce((sum, [, n]) => sum + n, 0),
    errors: result.errors,
    cpu: cpuShare,
  };
}
