/**
 * The compute floor: what each request type costs if the service did nothing but decode the image and run its models.
 * Every model is timed alone on a real input (service's ONNX settings, and one thread), every image decode alone
 * (sharp, as the service decodes), at the run counts the real pipeline makes per request. Against it: the in-process
 * pipeline (stages from the service's own metrics; the rest is JavaScript pre/post-processing), HTTP from load.ts,
 * and the measured throughput of load.ts as a share of the floor.
 *
 *   npm run bench:floor [-- --iterations 30]          (run bench:load first to compare with its numbers)
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { HealthStatus } from '../src/app.js';
import { composeApp, decodeLimits, loadFaceModels } from '../src/compose.js';
import { loadConfig } from '../src/config.js';
import { openImage } from '../src/media/image.js';
import { createLogger } from '../src/observability/logger.js';
import {
  type Floor,
  floorOf,
  type ModelAlone,
  profileRequest,
  type RequestProfile,
  type RequestType,
  timeModelsAlone,
} from './lib/compute-floor.js';
import { waitForQuietMachine, type CpuShare, watchCpu } from './lib/cpu.js';
import { floorRows, glueRows, modelRows, pureRows } from './lib/floor-tables.js';
import { benchPhotos, extractImages, readBenchData } from './lib/images.js';
import { instrumentRegistry } from './lib/instrumented-registry.js';
import { positiveNumber } from './lib/options.js';
import { oneToManyCosts, type PureCost, samplingCosts } from './lib/pure-costs.js';
import { readResults, type RunInfo, runInfo, writeResults } from './lib/run-info.js';
import { fixed, textTable } from './lib/table.js';
import type { LoadReport } from './load.js';

export interface FloorReport {
  run: RunInfo;
  cores: number;
  models: ModelAlone[];
  profiles: RequestProfile[];
  floors: (Floor & {
    measuredBestRequestsPerSecond: number | undefined;
    measuredAtConcurrency: number | undefined;
    shareOfFloor: number | undefined;
    /** CPU the service spent per answered request in that best run, ms: the floor's CPU plus everything else. */
    measuredServerCpuMs: number | undefined;
    httpP50AtConcurrency1Ms: number | undefined;
  })[];
  pure: PureCost[];
  cpu: CpuShare;
}

const { values: options } = parseArgs({ options: { iterations: { type: 'string', default: '30' } } });
const iterations = positiveNumber(options.iterations, 'iterations');
const cores = os.availableParallelism();

await waitForQuietMachine();
const cpu = watchCpu();
const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
const serviceRegistry = await loadFaceModels(config, { workers: 1 });
const oneThreadRegistry = await loadFaceModels(config, { intraOpThreads: 1, workers: 1 });
const instrumented = instrumentRegistry(serviceRegistry);
const health = (): HealthStatus => ({ status: 0, message: '' });
const deps = composeApp(config, instrumented.registry, createLogger('silent'), health);
const images = await extractImages();
const video = await readBenchData(benchPhotos.video);

const requestTypes: RequestType[] = [
  ...Object.values(images).map(
    (image): RequestType => ({ name: `extract ${image.label}`, loadScenario: `extract ${image.label}`, run: (d) => d.biometry.extract(image.bytes) }),
  ),
  { name: 'liveness image 720p', loadScenario: 'liveness image 720p', run: (d) => d.liveness.detectImage(images.selfie720.bytes) },
  {
    name: 'liveness video 6 s',
    loadScenario: 'liveness video 6 s',
    run: (d) => d.liveness.detectFolder([video], [{ thresholdSpoofing: config.livenessThreshold, extractBestShot: false }]),
  },
];

try {
  const profiles: RequestProfile[] = [];
  for (const type of requestTypes) {
    profiles.push(await profileRequest(deps, instrumented, serviceRegistry, type, type.name.includes('video') ? Math.max(3, Math.round(iterations / 10)) : iterations));
    console.log(`profiled ${type.name}`);
  }
  const models = await timeModelsAlone(serviceRegistry, oneThreadRegistry, instrumented.lastFeeds, 100);
  const load = await readResults<LoadReport>('load');
  const floors: FloorReport['floors'] = [];
  for (const profile of profiles) {
    const floor = floorOf(profile, models, cores);
    const measured = load?.runs.filter((r) => r.scenario === profile.loadScenario) ?? [];
    const best = measured.reduce<(typeof measured)[number] | undefined>((a, b) => (!a || b.requestsPerSecond > a.requestsPerSecond ? b : a), undefined);
    floors.push({
      ...floor,
      measuredBestRequestsPerSecond: best?.requestsPerSecond,
      measuredAtConcurrency: best?.connections,
      shareOfFloor: best ? best.requestsPerSecond / floor.floorRequestsPerSecond : undefined,
      measuredServerCpuMs: best?.serverCpuMsPerRequest,
      httpP50AtConcurrency1Ms: measured.find((r) => r.connections === 1)?.latencyMs.p50,
    });
  }
  const { raster } = await (await openImage(images.selfie720.bytes, decodeLimits(config))).view(1);
  const embedder = serviceRegistry.roles.embedder;
  const probeTemplate = await deps.biometry.extract(images.lfw250.bytes);
  const pure = [
    ...(await samplingCosts(serviceRegistry, raster, 200)),
    ...(await oneToManyCosts(probeTemplate, 10_000, embedder.outputs[0]!.shape.at(-1)!, 10)),
  ];

  const report: FloorReport = {
    run: runInfo({ ONNX_INTRA_OP_THREADS: config.onnxIntraOpThreads, cores }),
    cores,
    models,
    profiles,
    floors,
    pure,
    cpu: cpu.stop(),
  };
  printReport(report);
  console.log(`results: ${await writeResults('floor', report)}`);
} finally {
  await serviceRegistry.release();
  await oneThreadRegistry.release();
}

function printReport(report: FloorReport): void {
  console.log(`\nmodels alone (median wall per run; CPU of all threads per run), ONNX threads ${config.onnxIntraOpThreads} and 1:`);
  console.log(
    textTable(
      ['model', `wall ms @${config.onnxIntraOpThreads}`, `CPU ms @${config.onnxIntraOpThreads}`, 'wall ms @1', 'CPU ms @1'],
      modelRows(report),
    ),
  );
  console.log('\nfloor per request (decode + model runs alone) and what was measured:');
  console.log(
    textTable(
      ['request', 'parts (wall ms)', 'latency floor ms', 'in-process ms', 'HTTP p50 c=1 ms', 'CPU floor ms', 'server CPU ms', `floor req/s (${report.cores} cores)`, 'measured req/s', 'share'],
      floorRows(report, 'run bench:load'),
    ),
  );
  console.log('\nin-process stages per request: time in model runs and around them (JavaScript pre/post-processing):');
  console.log(
    textTable(
      ['request', 'stage', 'runs', 'stage ms', 'model ms', 'glue ms'],
      glueRows(report),
    ),
  );
  console.log(`\nother processes used ${fixed(report.cpu.foreignCores, 2)} cores on average during the measurements`);
  console.log('\npure functions alone:');
  console.log(textTable(['operation', 'wall ms', 'CPU ms'], pureRows(report)));
}
