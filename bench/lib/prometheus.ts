/** One scrape of /metrics: every sample by its series (name with labels, as the text format writes it). */
export type Scrape = Map<string, number>;

export async function scrapeMetrics(serviceUrl: string): Promise<Scrape> {
  return parseMetricsText(await (await fetch(`${serviceUrl}/metrics`)).text());
}

/** Samples of the Prometheus text format; comments and help lines are skipped. */
export function parseMetricsText(text: string): Scrape {
  const samples: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return samples;
}

/** Sum of every series of `name` whose labels include all of `labels`. */
export function sumOf(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [series, value] of scrape) {
    const brace = series.indexOf('{');
    if ((brace < 0 ? series : series.slice(0, brace)) !== name) continue;
    if (Object.entries(labels).every(([key, expected]) => series.includes(`${key}="${expected}"`))) sum += value;
  }
  return sum;
}

export const stages = ['decode', 'video_decode', 'detect', 'landmarks', 'embed', 'liveness', 'temporal', 'match'] as const;
export type StageName = (typeof stages)[number];

export interface StageShare {
  /** Milliseconds of this stage per answered request. */
  msPerRequest: number;
  /** Times the stage ran per answered request. */
  runsPerRequest: number;
}

/** Server-side time per request in each stage between two scrapes, from face_api_stage_duration_seconds. */
export function stageBreakdown(before: Scrape, after: Scrape, requests: number): Partial<Record<StageName, StageShare>> {
  const breakdown: Partial<Record<StageName, StageShare>> = {};
  if (requests <= 0) return breakdown;
  for (const stage of stages) {
    const delta = (suffix: string): number =>
      sumOf(after, `face_api_stage_duration_seconds_${suffix}`, { stage }) - sumOf(before, `face_api_stage_duration_seconds_${suffix}`, { stage });
    const runs = delta('count');
    if (runs > 0) breakdown[stage] = { msPerRequest: (delta('sum') * 1000) / requests, runsPerRequest: runs / requests };
  }
  return breakdown;
}

/** Mean server-side duration (admission queue included) of the 200 answers of a route between two scrapes, ms. */
export function meanServerMs(before: Scrape, after: Scrape, route: string): number {
  const labels = { route, status_code: '200' };
  const count = sumOf(after, 'http_request_duration_seconds_count', labels) - sumOf(before, 'http_request_duration_seconds_count', labels);
  const sum = sumOf(after, 'http_request_duration_seconds_sum', labels) - sumOf(before, 'http_request_duration_seconds_sum', labels);
  return count > 0 ? (sum * 1000) / count : Number.NaN;
}

/** Waits until the service holds no request in a slot or in its queue. */
export async function waitIdle(serviceUrl: string, timeoutMs = 60_000): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const scrape = await scrapeMetrics(serviceUrl);
    if (sumOf(scrape, 'face_api_inflight_requests') === 0 && sumOf(scrape, 'face_api_queued_requests') === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the service was still busy ${timeoutMs} ms after the load stopped`);
}
