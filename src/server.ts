/**
 * Process entry: config → logger → listen (health answers 3 while models load) → load, verify and warm the models →
 * serve the API → on SIGTERM report not ready, finish in-flight requests, exit 0.
 */
import { createServer } from 'node:http';
import express from 'express';
import { createApp, type HealthStatus } from './app.js';
import { composeApp, serviceVersion } from './compose.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { sendError } from './http/errors.js';
import { loadModels, type ModelRegistry } from './models/registry.js';
import { createLogger } from './observability/logger.js';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

/** What answers while the models load: health says 3, everything else asks the client to come back. */
function loadingApp(health: () => HealthStatus): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get(['/v1/face/pattern/health', '/v1/face/liveness/health'], (_req, res) => void res.status(503).json(health()));
  app.use((req, res) => {
    res.set('Retry-After', '1');
    sendError(req, res, 'overloaded', 'the models are still loading');
  });
  return app;
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  let health: HealthStatus = { status: 3, message: 'loading models' };
  const currentHealth = (): HealthStatus => health;

  const server = createServer(loadingApp(currentHealth));
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  logger.info({ port: config.port, host: config.host, version: serviceVersion }, 'listening; loading models');

  let registry: ModelRegistry | undefined;
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'shutting down: not ready, finishing requests in flight');
    health = { status: 3, message: 'shutting down' };
    server.close(() => {
      void (registry?.release() ?? Promise.resolve()).finally(() => process.exit(0));
    });
    server.closeIdleConnections();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  try {
    registry = await loadModels(config.modelsDir, { intraOpThreads: config.onnxIntraOpThreads });
  } catch (error) {
    logger.fatal(`cannot start: ${(error as Error).message}`);
    process.exit(1);
  }
  for (const { entry, warmupMs } of registry.models.values()) {
    logger.info({ model: entry.id, family: entry.family, warmupMs: Math.round(warmupMs) }, 'model ready');
  }
  if (health.message === 'shutting down') return;
  const app = createApp(composeApp(config, registry, logger, currentHealth));
  server.removeAllListeners('request');
  server.on('request', app);
  health = { status: 0, message: '' };
  logger.info('ready');
}

await main();
