import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fakeRuntime, writeFakeModels } from './fake-models.js';
import { startService, type TestService } from './service.js';

/** The real app over the fake models (test/helpers/fake-models.ts): everything but the model runs is the service's. */
export async function startFastService(env: NodeJS.ProcessEnv = {}): Promise<TestService> {
  const modelsDir = await mkdtemp(path.join(os.tmpdir(), 'fake-models-'));
  await writeFakeModels(modelsDir);
  const service = await startService({ MODELS_DIR: modelsDir, ...env }, undefined, undefined, fakeRuntime);
  return {
    ...service,
    async close() {
      await service.close();
      await rm(modelsDir, { recursive: true, force: true });
    },
  };
}
