import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Decision } from '../biometry/score.js';
import type { Stage } from './stages.js';

/**
 * Why a request was refused before its work began: at capacity (queue_full, queue_timeout: 503), too large (413),
 * too slow to send its body (body_timeout, slow_body: 408), or framed so that it could smuggle a request
 * (bad_framing: 400).
 */
export type RejectionReason = 'queue_full' | 'queue_timeout' | 'too_large' | 'body_timeout' | 'slow_body' | 'bad_framing';
export type LivenessResult = 'passed' | 'attack' | 'SUCCESS' | 'DECLINED' | 'FAILED';

export interface Metrics {
  registry: Registry;
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  observeStage(stage: Stage, seconds: number): void;
  setInflight(count: number, bodyBytes: number): void;
  /** Requests waiting (for body budget or a slot), and requests whose bodies are being received. */
  setQueued(waiting: number, receiving: number): void;
  countRejected(reason: RejectionReason): void;
  countDecision(decision: Decision, count?: number): void;
  countLiveness(mode: 'image' | 'folder', result: LivenessResult): void;
  setModelLoaded(model: string, family: string, loaded: boolean): void;
  /** A model run failed in the runtime (counted per model). */
  countModelFailure(model: string): void;
  setTemplatesSigned(signed: boolean): void;
}

export interface BuildInfo {
  version: string;
  runtime: string;
  node: string;
}

/**
 * The service's Prometheus metrics, in a registry per instance so that tests can build several apps in one process.
 * Names follow the Prometheus conventions: base units (seconds), `_total` counters, a `face_api_` prefix for ours.
 */
export function createMetrics(build: BuildInfo): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters, which promtool rejects; nodejs_active_handles and friends carry the same values.
  for (const misnamed of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(misnamed);
  }
  const registers = [registry];

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route, method and status code',
    labelNames: ['route', 'method', 'status_code'] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration of HTTP requests by route, method and status code',
    labelNames: ['route', 'method', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const stageDuration = new Histogram({
    name: 'face_api_stage_duration_seconds',
    help: 'Duration of processing stages inside requests (decode: one decoded view of an image, within the step reading it; video_decode; detect, and detector_pass within it: one detector run; landmarks; embed; liveness; temporal; match)',
    labelNames: ['stage'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const inflight = new Gauge({ name: 'face_api_inflight_requests', help: 'Requests holding an inference slot', registers });
  const inflightBodyBytes = new Gauge({ name: 'face_api_inflight_body_bytes', help: 'Declared body bytes of the requests being received or worked on (the body budget in use)', registers });
  const queued = new Gauge({ name: 'face_api_queued_requests', help: 'Requests waiting for body budget or for an inference slot', registers });
  const receiving = new Gauge({ name: 'face_api_receiving_requests', help: 'Requests whose bodies are being received (they hold body budget, no slot)', registers });
  const rejected = new Counter({
    name: 'face_api_rejected_requests_total',
    help: 'Requests refused before their work began, by reason (503 queue_full, queue_timeout; 413 too_large; 408 body_timeout, slow_body; 400 bad_framing)',
    labelNames: ['reason'] as const,
    registers,
  });
  const decisions = new Counter({
    name: 'face_api_match_decisions_total',
    help: 'Match decisions returned (one per compared pair)',
    labelNames: ['decision'] as const,
    registers,
  });
  const liveness = new Counter({
    name: 'face_api_liveness_results_total',
    help: 'Liveness results: single images (passed, attack) and folder analyses (SUCCESS, DECLINED, FAILED)',
    labelNames: ['mode', 'result'] as const,
    registers,
  });
  const modelLoaded = new Gauge({
    name: 'face_api_model_loaded',
    help: '1 when the model is loaded, verified and warmed up',
    labelNames: ['model', 'family'] as const,
    registers,
  });
  const modelFailures = new Counter({
    name: 'face_api_model_run_failures_total',
    help: 'Model runs that failed in the inference runtime',
    labelNames: ['model'] as const,
    registers,
  });
  const templatesSigned = new Gauge({ name: 'face_api_templates_signed', help: '1 when templates are signed (TEMPLATE_KEYS is set), 0 when they can be forged', registers });
  new Gauge({
    name: 'face_api_build_info',
    help: 'Build information; the value is always 1',
    labelNames: ['version', 'runtime', 'node'] as const,
    registers,
  }).set({ version: build.version, runtime: build.runtime, node: build.node }, 1);

  return {
    registry,
    observeRequest(route, method, status, seconds) {
      const labels = { route, method, status_code: String(status) };
      requests.inc(labels);
      requestDuration.observe(labels, seconds);
    },
    observeStage: (stage, seconds) => stageDuration.observe({ stage }, seconds),
    setInflight: (count, bodyBytes) => {
      inflight.set(count);
      inflightBodyBytes.set(bodyBytes);
    },
    setQueued: (waiting, bodies) => {
      queued.set(waiting);
      receiving.set(bodies);
    },
    countRejected: (reason) => rejected.inc({ reason }),
    countDecision: (decision, count = 1) => decisions.inc({ decision }, count),
    countLiveness: (mode, result) => liveness.inc({ mode, result }),
    setModelLoaded: (model, family, loaded) => {
      modelLoaded.set({ model, family }, loaded ? 1 : 0);
      // The model's failure count is exported from 0, so that its first failures are an increase Prometheus can see.
      modelFailures.inc({ model }, 0);
    },
    countModelFailure: (model) => modelFailures.inc({ model }),
    setTemplatesSigned: (signed) => templatesSigned.set(signed ? 1 : 0),
  };
}
