import type { AppDeps } from '../../src/app.js';
import type { ModelRegistry } from '../../src/models/registry.js';
import { instrumentRegistry } from './instrumented-registry.js';
import { parseMetricsText, type Scrape, type StageName, stageBreakdown, stages } from './prometheus.js';
import { median } from '../../src/statistics.js';
import { type OpCost, timeAlone } from './timing.js';

/** A request type, run in-process through the service's own composition (no HTTP). */
export interface RequestType {
  name: string;
  /** The load.ts scenario measuring the same request over HTTP. */
  loadScenario: string;
  run(deps: AppDeps): Promise<unknown>;
}

/** Which stage a model's runs are timed in, by its family. */
export function stageOfFamily(family: string): StageName {
  if (family.startsWith('detector')) return 'detect';
  if (family.startsWith('landmarker')) return 'landmarks';
  if (family.startsWith('embedder')) return 'embed';
  return 'liveness';
}

export interface ModelShare {
  modelId: string;
  stage: StageName;
  runsPerRequest: number;
  /** Time of its runs per request inside the pipeline, ms. */
  msPerRequest: number;
}

export interface RequestProfile {
  name: string;
  loadScenario: string;
  iterations: number;
  /** In-process end to end, median, ms. */
  inProcessMs: number;
  stages: Partial<Record<StageName, { msPerRequest: number; runsPerRequest: number }>>;
  models: ModelShare[];
}

async function stageScrape(deps: AppDeps): Promise<Scrape> {
  return parseMetricsText(await deps.metrics.registry.metrics());
}

/** Runs a request type `iterations` times, one after another, recording its stages and model runs. */
export async function profileRequest(
  deps: AppDeps,
  instrumented: ReturnType<typeof instrumentRegistry>,
  registry: ModelRegistry,
  type: RequestType,
  iterations: number,
): Promise<RequestProfile> {
  for (let i = 0; i < 3; i++) await type.run(deps);
  instrumented.takeRuns();
  const before = await stageScrape(deps);
  const walls: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    await type.run(deps);
    walls.push(performance.now() - started);
  }
  const after = await stageScrape(deps);
  const byModel = new Map<string, { runs: number; ms: number }>();
  for (const run of instrumented.takeRuns()) {
    const total = byModel.get(run.modelId) ?? { runs: 0, ms: 0 };
    byModel.set(run.modelId, { runs: total.runs + 1, ms: total.ms + run.ms });
  }
  return {
    name: type.name,
    loadScenario: type.loadScenario,
    iterations,
    inProcessMs: median(walls),
    stages: stageBreakdown(before, after, iterations),
    models: [...byModel].map(([modelId, total]) => ({
      modelId,
      stage: stageOfFamily(registry.models.get(modelId)?.entry.family ?? ''),
      runsPerRequest: total.runs / iterations,
      msPerRequest: total.ms / iterations,
    })),
  };
}

export interface ModelAlone {
  modelId: string;
  /** At the service's ONNX thread count. */
  serviceThreads: OpCost;
  oneThread: OpCost;
}

/** Each model run alone on the last real input the pipeline gave it, at the service's thread count and at one. */
export async function timeModelsAlone(
  serviceRegistry: ModelRegistry,
  oneThreadRegistry: ModelRegistry,
  feeds: ReturnType<typeof instrumentRegistry>['lastFeeds'],
  iterations: number,
): Promise<ModelAlone[]> {
  const results: ModelAlone[] = [];
  for (const [modelId, feed] of feeds) {
    results.push({
      modelId,
      serviceThreads: await timeAlone(() => serviceRegistry.session(modelId).run(feed), iterations),
      oneThread: await timeAlone(() => oneThreadRegistry.session(modelId).run(feed), iterations),
    });
  }
  return results;
}

export interface Floor {
  name: string;
  /** Decoding, then every model run at its measured count, each alone at the service's threads: the latency floor. */
  latencyFloorMs: number;
  /** CPU per request with every model on one thread (the cheapest way to spend the cores), ms. */
  cpuFloorMs: number;
  /** cores × 1000 / cpuFloorMs: what the machine could answer if it did nothing but decode and run models. */
  floorRequestsPerSecond: number;
  parts: { what: string; wallMs: number; cpuMs: number }[];
}

export function floorOf(profile: RequestProfile, alone: readonly ModelAlone[], cores: number): Floor {
  const parts: Floor['parts'] = [];
  // Images are decoded in views, each at the scale a step needs: their decode stage, one request at a time, is the
  // decoding the request cannot do without (libvips may spread one decode over threads, so CPU is counted as wall).
  if (profile.stages.decode) parts.push({ what: 'image decode (views)', wallMs: profile.stages.decode.msPerRequest, cpuMs: profile.stages.decode.msPerRequest });
  if (profile.stages.video_decode) {
    // ffmpeg runs in a child process, whose CPU this process cannot see: its wall time stands in for it.
    const ms = profile.stages.video_decode.msPerRequest;
    parts.push({ what: 'video decode (ffmpeg, wall)', wallMs: ms, cpuMs: ms });
  }
  for (const model of profile.models) {
    const cost = alone.find((a) => a.modelId === model.modelId);
    if (!cost) continue;
    parts.push({
      what: `${model.modelId} ×${model.runsPerRequest.toFixed(2).replace(/\.?0+$/, '')}`,
      wallMs: model.runsPerRequest * cost.serviceThreads.wallMs,
      cpuMs: model.runsPerRequest * cost.oneThread.cpuMs,
    });
  }
  const latencyFloorMs = parts.reduce((sum, p) => sum + p.wallMs, 0);
  const cpuFloorMs = parts.reduce((sum, p) => sum + p.cpuMs, 0);
  return { name: profile.name, latencyFloorMs, cpuFloorMs, floorRequestsPerSecond: (cores * 1000) / cpuFloorMs, parts };
}

/** Stage time not spent in model runs: pre- and post-processing in JavaScript (sampling, decoding boxes, NMS…). */
export function glueByStage(profile: RequestProfile): { stage: StageName; stageMs: number; modelMs: number; glueMs: number }[] {
  return stages
    .filter((stage) => profile.stages[stage] && stage !== 'decode' && stage !== 'video_decode')
    .map((stage) => {
      const stageMs = profile.stages[stage]!.msPerRequest;
      const modelMs = profile.models.filter((m) => m.stage === stage).reduce((sum, m) => sum + m.msPerRequest, 0);
      return { stage, stageMs, modelMs, glueMs: stageMs - modelMs };
    });
}
