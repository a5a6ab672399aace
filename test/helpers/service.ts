import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Writable } from 'node:stream';
import { createApp, type HealthStatus } from '../../src/app.js';
import { composeApp, loadFaceModels } from '../../src/compose.js';
import { createHttpServer } from '../../src/http/server.js';
import { type Config, loadConfig } from '../../src/config.js';
import { ModelRuntimeError } from '../../src/errors.js';
import type { ModelRegistry } from '../../src/models/registry.js';
import type { InferenceRuntime } from '../../src/models/session.js';
import { createLogger } from '../../src/observability/logger.js';

export interface TestService {
  url: string;
  config: Config;
  registry: ModelRegistry;
  close(): Promise<void>;
}

/** A model that misbehaves: its runs fail in the runtime, or return outputs of the wrong shape. */
export interface ModelFault {
  modelId: string;
  fault: 'runtime-error' | 'wrong-outputs';
}

function withFault(registry: ModelRegistry, fault: ModelFault): ModelRegistry {
  return {
    ...registry,
    session(id) {
      const session = registry.session(id);
      if (id !== fault.modelId) return session;
      return {
        ...session,
        async run() {
          if (fault.fault === 'runtime-error') throw new ModelRuntimeError(id, new Error('injected fault'));
          return {};
        },
      };
    },
  };
}

/**
 * The real app with the bundled models (or those of MODELS_DIR, run by `runtime` when given), listening on an
 * ephemeral loopback port; logs go to `logs` if given.
 */
export async function startService(env: NodeJS.ProcessEnv = {}, fault?: ModelFault, logs?: Writable, runtime?: InferenceRuntime): Promise<TestService> {
  const config = loadConfig({ LOG_LEVEL: 'silent', ...env });
  const loaded = await loadFaceModels(config, {}, runtime);
  const registry = fault ? withFault(loaded, fault) : loaded;
  const health = (): HealthStatus => ({ status: 0, message: '' });
  const logger = logs ? createLogger('info', logs) : createLogger(config.logLevel);
  const deps = composeApp(config, registry, logger, health);
  const app = createApp(deps);
  app.serve(deps);
  const server: Server = createHttpServer(config, app.listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    registry,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await loaded.release();
    },
  };
}

/** POSTs one image body the way the API takes it. */
export function postImage(url: string, body: Uint8Array | string, contentType: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', body, headers: { 'content-type': contentType, ...headers } });
}

export async function expectError(response: Response, status: number, code: string): Promise<{ code: string; message: string }> {
  const body = (await response.json()) as { code: string; message: string };
  if (response.status !== status || body.code !== code) {
    throw new Error(`expected ${status} ${code}, got ${response.status} ${JSON.stringify(body)}`);
  }
  return body;
}
