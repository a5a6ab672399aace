/**
 * Process entry: config → logger → listen (health answers 3 while models load) → load, verify and warm the models →
 * serve the API → on SIGTERM report not ready, finish in-flight requests, exit 0.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { type App, assignRequestId, createApp, type HealthStatus } from './app.js';
import { composeApp, loadFaceModels, serviceVersion } from './compose.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { sendError } from './http/errors.js';
import { framingProblem } from './http/front-door.js';
import { createHttpServer } from './http/server.js';
import type { ModelRegistry } from './models/registry.js';
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
  app.use(assignRequestId, (req, res, next) => {
    const problem = framingProblem(req);
    if (!problem) return next();
    res.set('Connection', 'close');
    sendError(req, res, 'malformed-request', problem);
  });
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

  const server = createHttpServer(config, loadingApp(currentHealth));
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const { port } = server.address() as AddressInfo;
  logger.info({ port, host: config.host, version: serviceVersion }, 'listening; loading models');

  let registry: ModelRegistry | undefined;
  let shuttingDown = false;
  const exit = (): void => {
    void (registry?.release() ?? Promise.resolve()).finally(() => process.exit(0));
  };
  const shutdown = (signal: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    health = { status: 3, message: 'shutting down' };
    logger.info({ signal, delayMs: config.shutdownDelayMs, graceMs: config.shutdownGraceMs }, 'shutting down: health reports 3');
    setTimeout(() => {
      logger.info('no longer accepting connections; finishing requests in flight');
      server.close(exit);
      server.closeIdleConnections();
      setTimeout(() => {
        logger.warn('grace period over: closing the connections still open');
        server.closeAllConnections();
        exit();
      }, config.shutdownGraceMs).unref();
    }, config.shutdownDelayMs);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  let app: App;
  try {
    registry = await loadFaceModels(config);
    app = createApp(composeApp(config, registry, logger, currentHealth));
  } catch (error) {
    logger.fatal(`cannot start: ${(error as Error).message}`);
    process.exit(1);
  }
  for (const { entry, warmupMs } of registry.models.values()) {
    logger.info({ model: entry.id, family: entry.family, warmupMs: Math.round(warmupMs) }, 'model ready');
  }
  if (shuttingDown) return;
  server.removeAllListeners('request');
  server.on('request', app.listener);
  health = { status: 0, message: '' };
  logger.info('ready');
  if (config.templateKeys.length === 0) {
    logger.warn(
      'TEMPLATE_KEYS is not set: templates are issued and accepted unsigned, so anyone can forge one (the normalised mean of ' +
        "two people's templates is approved against both). Set TEMPLATE_KEYS in every deployment: see the README's Security section.",
    );
  }
}

await main();
