import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AppDeps, HealthStatus } from './app.js';
import { createBiometry } from './biometry/biometry.js';
import { type Config, projectRoot } from './config.js';
import { createFacePipeline } from './face/pipeline.js';
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
  return {
    config,
    logger,
    metrics,
    biometry,
    health,
    version: {
      core: serviceVersion,
      tfss: runtimeVersion,
      models: [...registry.models.values()].map(({ entry }) => ({ name: entry.id, version: entry.version })),
    },
  };
}

