/**
 * Process entry: config → logger → listen (health answers 3 while models load) → load, verify and warm the models →
 * serve the API → on SIGTERM report not ready, finish in-flight requests, exit 0.
 */
import type { AddressInfo } from 'node:net';
import { type AppServices, createApp, type HealthStatus } from './app.js';
import { composeServices, createServiceMetrics, loadFaceModels, openapiDocument, serviceVersion } from './compose.js';
import { type Config, ConfigError, loadConfig } from './config.js';
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

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  let health: HealthStatus = { status: 3, message: 'loading models' };
  const currentHealth = (): HealthStatus => health;

  const metrics = createServiceMetrics();
  const app = createApp({ config, logger, metrics, health: currentHealth, openapi: openapiDocument() });
  const server = createHttpServer(config, app.listener);
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

  let services: AppServices;
  try {
    registry = await loadFaceModels(config);
    services = composeServices(config, registry, metrics, currentHealth);
  } catch (error) {
    logger.fatal(`cannot start: ${(error as Error).message}`);
    process.exit(1);
  }
  for (const { entry, warmupMs } of registry.models.values()) {
    logger.info({ model: entry.id, family: entry.family, warmupMs: Math.round(warmupMs) }, 'model ready');
  }
  if (shuttingDown) return;
  app.serve(services);
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
