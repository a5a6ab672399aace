import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Stage } from '../face/pipeline.js';

export interface Metrics {
  registry: Registry;
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  observeStage(stage: Stage, seconds: number): void;
}

/** A registry per service instance, so tests can build several apps in one process. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration of HTTP requests by route, method and status code',
    labelNames: ['route', 'method', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const stageDuration = new Histogram({
    name: 'face_stage_duration_seconds',
    help: 'Duration of processing stages inside requests',
    labelNames: ['stage'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  return {
    registry,
    observeRequest: (route, method, status, seconds) =>
      requestDuration.observe({ route, method, status_code: String(status) }, seconds),
    observeStage: (stage, seconds) => stageDuration.observe({ stage }, seconds),
  };
}
