import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AppDeps, HealthStatus } from './app.js';
import { createBiometry } from './biometry/biometry.js';
import { type Config, projectRoot } from './config.js';
import { createFacePipeline } from './face/pipeline.js';
import { createLiveness } from './liveness/liveness.js';
import { createMediaAnalyser } from './liveness/media.js';
import type { ModelRegistry } from './models/registry.js';
import { runtimeVersion } from './models/session.js';
import type { Logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';

export const serviceVersion: string = (
  JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }
).version;

/** Everything createApp needs, built from a config and loaded models. Tests use this to build the real app. */
export function composeApp(config: Config, registry: ModelRegistry, logger: Logger, health: () => HealthStatus): AppDeps {
  const metrics = createMetrics();
  const pipeline = createFacePipeline(registry, metrics.observeStage);
  const { embedder } = registry.pipeline;
  const biometry = createBiometry({
    pipeline,
    decodeLimits: { maxPixels: config.maxImagePixels },
    faceChoice: { minFaceHeight: config.faceMinHeight, comparableRatio: config.faceComparableRatio },
    templateModel: { embedderSha256: embedder.sha256, dimension: embedder.outputs[0]!.shape.at(-1)! },
    calibration: embedder.params.scoreCalibration,
    thresholds: { approve: config.matchApproveThreshold, decline: config.matchDeclineThreshold },
  });
  const analyser = createMediaAnalyser({
    pipeline,
    limits: {
      decode: { maxPixels: config.maxImagePixels },
      video: {
        maxFrames: config.videoMaxFrames,
        maxDurationSeconds: config.videoMaxSeconds,
        timeoutMs: config.videoTimeoutMs,
        maxFramePixels: config.videoMaxFramePixels,
      },
      archive: { maxEntries: config.archiveMaxEntries, maxTotalUncompressedBytes: config.archiveMaxBytes },
      maxFrames: config.livenessMaxFrames,
      minFaceHeight: config.faceMinHeight,
    },
  });
  const liveness = createLiveness({ analyser, threshold: config.livenessThreshold });
  return {
    config,
    logger,
    metrics,
    biometry,
    liveness,
    health,
    version: {
      core: serviceVersion,
      tfss: runtimeVersion,
      models: [...registry.models.values()].map(({ entry }) => ({ name: entry.id, version: entry.version })),
    },
  };
}

