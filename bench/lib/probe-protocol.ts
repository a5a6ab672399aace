/** Starts probing: health every `healthIntervalMs`, /metrics every second, one extract of the 720p selfie every second. */
export interface ProbeStart {
  kind: 'start';
  serviceUrl: string;
  seconds: number;
  healthIntervalMs: number;
}

export interface HealthProbe {
  /** ms from the start of probing. */
  at: number;
  ms: number;
  /** HTTP status; 0 when the probe got no answer. */
  status: number;
}

export interface MetricsSample {
  at: number;
  /** prom-client's event-loop delay since the previous scrape (each scrape resets its histogram), seconds. */
  eventLoopLagP99: number;
  eventLoopLagMax: number;
  inflight: number;
  queued: number;
}

export interface SentinelRequest {
  at: number;
  ms: number;
  status: number;
  retryAfter: string | undefined;
}

export interface ProbeReport {
  kind: 'done';
  health: HealthProbe[];
  metrics: MetricsSample[];
  sentinels: SentinelRequest[];
}
