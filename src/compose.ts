import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AppDeps, AppServices, HealthStatus } from './app.js';
import { type Biometry, createBiometry } from './biometry/biometry.js';
import type { DecisionThresholds } from './biometry/score.js';
import { type Config, projectRoot } from './config.js';
import type { FaceChoicePolicy } from './face/choice.js';
import { createFacePipeline, type FacePipeline } from './face/pipeline.js';
import { createLiveness, type Liveness } from './liveness/liveness.js';
import { createMediaAnalyser, type MediaAnalyser, type MediaLimits } from './liveness/media.js';
import type { IdentityRule } from './liveness/temporal.js';
import type { DecodeLimits } from './media/image.js';
import { faceModels } from './models/families.js';
import type { EmbedderEntry } from './models/manifest.js';
import { trackModelHealth } from './models/health.js';
import { loadModels, type ModelRegistry } from './models/registry.js';
import { type InferenceRuntime, runtimeVersion, type SessionOptions } from './models/session.js';
import type { Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { ignoreStages, type StageObserver } from './observability/stages.js';

const readProjectJson = (...parts: string[]): unknown => JSON.parse(readFileSync(path.join(projectRoot, ...parts), 'utf8'));

export const serviceVersion: string = (readProjectJson('package.json') as { version: string }).version;

/** The image decoding limits of the configuration. */
export const decodeLimits = (config: Config): DecodeLimits => ({
  maxPixels: config.maxImagePixels,
  maxDecodedPixels: config.maxDecodedPixels,
  maxAspectRatio: config.maxImageAspectRatio,
  maxJpegScans: config.maxJpegScans,
  timeoutMs: config.imageDecodeTimeoutMs,
});

/** The face-choice policy of the configuration. */
export const faceChoicePolicy = (config: Config): FaceChoicePolicy => ({
  mode: config.faceChoice,
  minFaceHeight: config.faceMinHeight,
  comparableRatio: config.faceComparableRatio,
});

/** The media limits and ffmpeg binary of the configuration, as the liveness analyser takes them. */
export function mediaSettings(config: Config): { limits: MediaLimits; ffmpegPath: string } {
  return {
    ffmpegPath: config.ffmpegPath,
    limits: {
      decode: decodeLimits(config),
      video: {
        maxFrames: config.videoMaxFrames,
        maxDurationSeconds: config.videoMaxSeconds,
        timeoutMs: config.videoTimeoutMs,
        maxFramePixels: config.videoMaxFramePixels,
        maxSourcePixels: config.videoMaxSourcePixels,
        maxMemoryBytes: config.videoMaxMemoryBytes,
      },
      archive: { maxEntries: config.archiveMaxEntries, maxTotalUncompressedBytes: config.archiveMaxBytes },
      maxFrames: config.livenessMaxFrames,
      minFaceHeight: config.faceMinHeight,
      comparableRatio: config.faceComparableRatio,
    },
  };
}

/** The matcher's decision thresholds of the configuration. */
const matchThresholds = (config: Config): DecisionThresholds => ({ approve: config.matchApproveThreshold, decline: config.matchDeclineThreshold });

/** How the liveness analysis tells one person from two: the embedder's calibration and the matcher's thresholds. */
export const identityRule = (config: Config, embedder: EmbedderEntry): IdentityRule => ({
  calibration: embedder.params.scoreCalibration,
  thresholds: matchThresholds(config),
});

/** Runs in a row a model may fail before health reports 3. */
const MODEL_FAILURES_TO_UNHEALTHY = 3;

/**
 * Loads, verifies (sha256, graph against its manifest entry, family contract) and warms the configured models: the
 * one way every entry point — server, tests, tools, benchmarks — gets them. `runtime` runs them: onnxruntime unless a
 * test fakes it (test/helpers/fake-models.ts).
 */
export function loadFaceModels(config: Config, options: Partial<SessionOptions> = {}, runtime?: InferenceRuntime): Promise<ModelRegistry> {
  return loadModels(config.modelsDir, { intraOpThreads: config.onnxIntraOpThreads, workers: config.inferenceWorkers, ...options }, runtime);
}

export interface UseCases {
  pipeline: FacePipeline;
  biometry: Biometry;
  analyser: MediaAnalyser;
  liveness: Liveness;
}

/** The use cases of the API over loaded models, as the routes call them; tools measure through the same ones. */
export function composeUseCases(config: Config, registry: ModelRegistry, observe: StageObserver = ignoreStages): UseCases {
  const pipeline = createFacePipeline(faceModels(registry.roles), registry, { mirroredEmbedding: config.mirroredEmbedding }, observe);
  const { embedder } = registry.roles;
  const biometry = createBiometry({
    pipeline,
    observe,
    decodeLimits: decodeLimits(config),
    faceChoice: faceChoicePolicy(config),
    templateModel: {
      embedderSha256: embedder.sha256,
      dimension: embedder.outputs[0]!.shape.at(-1)!,
      signingKeys: config.templateKeys.map((key) => Buffer.from(key, 'utf8')),
    },
    calibration: embedder.params.scoreCalibration,
    thresholds: matchThresholds(config),
  });
  const analyser = createMediaAnalyser({ pipeline, observe, ...mediaSettings(config), identity: identityRule(config, embedder) });
  const liveness = createLiveness({
    analyser,
    threshold: config.livenessThreshold,
    bestShotMaxPixels: config.videoMaxFramePixels,
  });
  return { pipeline, biometry, analyser, liveness };
}

/** The service's metrics, labelled with its build. */
export const createServiceMetrics = (): Metrics =>
  createMetrics({ version: serviceVersion, runtime: `onnxruntime-node ${runtimeVersion}`, node: process.version });

/** The OpenAPI document of this API. */
export const openapiDocument = (): unknown => readProjectJson('docs', 'openapi.json');

/**
 * What the API serves with, over loaded models. `serverHealth` is the process's own state (loading, shutting down);
 * health also reports 3 while a model keeps failing.
 */
export function composeServices(config: Config, loaded: ModelRegistry, metrics: Metrics, serverHealth: () => HealthStatus): AppServices {
  for (const { entry } of loaded.models.values()) metrics.setModelLoaded(entry.id, entry.family, true);
  metrics.setTemplatesSigned(config.templateKeys.length > 0);
  const modelHealth = trackModelHealth(loaded, MODEL_FAILURES_TO_UNHEALTHY, (id) => metrics.countModelFailure(id));
  const registry = modelHealth.registry;
  const { biometry, liveness } = composeUseCases(config, registry, metrics.observeStage);
  const health = (): HealthStatus => {
    const server = serverHealth();
    if (server.status !== 0) return server;
    const failing = modelHealth.failing();
    return failing ? { status: 3, message: `model ${failing} failed its last ${MODEL_FAILURES_TO_UNHEALTHY} runs` } : server;
  };
  return {
    biometry,
    liveness,
    health,
    version: {
      core: serviceVersion,
      tfss: runtimeVersion,
      models: [...registry.models.values()].map(({ entry }) => ({ name: entry.id, version: entry.version })),
      templates_signed: config.templateKeys.length > 0,
    },
  };
}

/** Everything createApp and App.serve need, built from a config and loaded models: how tests build the real app. */
export function composeApp(config: Config, loaded: ModelRegistry, logger: Logger, serverHealth: () => HealthStatus): AppDeps {
  const metrics = createServiceMetrics();
  return { config, logger, metrics, openapi: openapiDocument(), ...composeServices(config, loaded, metrics, serverHealth) };
}
