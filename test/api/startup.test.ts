import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp, type HealthStatus } from '../../src/app.js';
import { composeApp, loadFaceModels } from '../../src/compose.js';
import { loadConfig, projectRoot } from '../../src/config.js';
import { createHttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/observability/logger.js';
import { loadModels, ModelLoadError } from '../../src/models/registry.js';
import { dataDir, needsData } from '../helpers/data.js';
import { multipart } from '../helpers/multipart.js';

const bundled = path.join(projectRoot, 'models');
const files = ['fr_detect.onnx', 'fr_landmark.onnx', 'fr_feature.onnx', 'fr_liveness.onnx'];

/** A models directory holding the bundled manifest (optionally edited) and links to some of the bundled files. */
async function modelsDir(root: string, name: string, linked: string[], edit?: (manifest: Record<string, unknown>) => void): Promise<string> {
  const dir = path.join(root, name);
  await import('node:fs/promises').then((fs) => fs.mkdir(dir));
  const manifest = JSON.parse(await readFile(path.join(bundled, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  edit?.(manifest);
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  for (const file of linked) await symlink(path.join(bundled, file), path.join(dir, file));
  return dir;
}

interface Exit {
  code: number | null;
  output: string;
}

function runServer(env: NodeJS.ProcessEnv, untilOutput?: RegExp): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src', 'server.ts')], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SHUTDOWN_DELAY_MS: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let signalled = false;
    const collect = (chunk: Buffer): void => {
      output += chunk.toString();
      if (!signalled && untilOutput?.test(output)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('start-up with broken models', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'models-test-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('refuses a missing model file, naming it', async () => {
    const dir = await modelsDir(root, 'missing', files.filter((f) => f !== 'fr_feature.onnx'));
    await assert.rejects(loadModels(dir, { intraOpThreads: 1 }), (error: unknown) => {
      return error instanceof ModelLoadError && /fr_feature/.test(error.message) && /missing/.test(error.message);
    });
  });

  it('refuses a corrupt model file, naming it and both checksums', async () => {
    const dir = await modelsDir(root, 'corrupt', files.filter((f) => f !== 'fr_detect.onnx'));
    const bytes = await readFile(path.join(bundled, 'fr_detect.onnx'));
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 100) ^ 0xff, bytes.length - 100);
    await writeFile(path.join(dir, 'fr_detect.onnx'), bytes);
    await assert.rejects(loadModels(dir, { intraOpThreads: 1 }), /fr_detect.*corrupt.*sha256 [0-9a-f]{64}, manifest says 6c0256cc/);
  });

  it('refuses a model whose graph does not match its manifest entry', async () => {
    const dir = await modelsDir(root, 'mismatch', files, (manifest) => {
      const models = manifest.models as { id: string; input: { shape: number[] } }[];
      models.find((m) => m.id === 'fr_landmark')!.input.shape = [1, 1, 112, 112];
    });
    await assert.rejects(loadModels(dir, { intraOpThreads: 1 }), /fr_landmark.*input shape is \[1,1,64,64\]/);
  });

  it('refuses a manifest whose pipeline names an unknown model', async () => {
    const dir = await modelsDir(root, 'unknown-role', files, (manifest) => {
      (manifest.pipeline as { embedder: string }).embedder = 'nope';
    });
    await assert.rejects(loadModels(dir, { intraOpThreads: 1 }), /pipeline\.embedder names "nope"/);
  });

  it('the server process exits 1 with the reason when a model is missing', async () => {
    const dir = await modelsDir(root, 'server-missing', files.filter((f) => f !== 'fr_liveness.onnx'));
    const exit = await runServer({ MODELS_DIR: dir });
    assert.equal(exit.code, 1);
    assert.match(exit.output, /cannot start: model \\"fr_liveness\\".*the file is missing/);
  });

  it('the server process exits 2 listing every invalid setting', async () => {
    const exit = await runServer({ PORT: 'x', ONNX_INTRA_OP_THREADS: '0' });
    assert.equal(exit.code, 2);
    assert.match(exit.output, /PORT/);
    assert.match(exit.output, /ONNX_INTRA_OP_THREADS/);
  });

  it('the server process becomes ready with the bundled models and exits 0 on SIGTERM', async () => {
    const exit = await runServer({}, /"msg":"ready"/);
    assert.equal(exit.code, 0, exit.output);
    assert.match(exit.output, /"model":"fr_feature".*"msg":"model ready"/);
    assert.match(exit.output, /shutting down/);
  });

  it('drains on SIGTERM: health reports 3 at once, the request in flight finishes, then the process exits 0', needsData, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'src', 'server.ts')], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SHUTDOWN_DELAY_MS: '700', SHUTDOWN_GRACE_MS: '20000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const ready = new Promise<number>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const port = /"port":(\d+)/.exec(output)?.[1];
        if (port && output.includes('"msg":"ready"')) resolve(Number(port));
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const port = await ready;
    const base = `http://127.0.0.1:${port}`;
    const video = await readFile(path.join(dataDir, 'video', 'selfie_6s.mp4'));
    const { body, contentType } = multipart([{ name: 'v', filename: 'v.mp4', body: video }]);
    const inFlight = fetch(`${base}/v1/face/liveness/detect`, { method: 'POST', body, headers: { 'content-type': contentType } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const health = await fetch(`${base}/v1/face/liveness/health`);
    assert.equal(health.status, 503);
    assert.deepEqual(await health.json(), { status: 3, message: 'shutting down' });
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { system_resolution: string }).system_resolution, 'SUCCESS');
    assert.equal(await exited, 0, output);
    await assert.rejects(fetch(`${base}/v1/face/pattern/health`));
    assert.match(output, /no longer accepting connections/);
    assert.equal(existsSync(`/tmp/mat-debug-${child.pid}.log`), false, 'onnxruntime telemetry left its log file');
  });
});

describe('the app before its models are loaded', () => {
  it('answers health 3 and asks every other route to come back, in its own area, until it serves the API', async () => {
    const config = loadConfig({ LOG_LEVEL: 'silent' });
    const registry = await loadFaceModels(config);
    let health: HealthStatus = { status: 3, message: 'loading models' };
    const deps = composeApp(config, registry, createLogger('silent'), () => health);
    const app = createApp({ ...deps, health: () => health });
    const server = createHttpServer(config, app.listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const extract = (): Promise<Response> => fetch(`${base}/v1/face/pattern/extract`, { method: 'POST', body: 'x', headers: { 'content-type': 'image/jpeg' } });
    try {
      const loading = await fetch(`${base}/v1/face/liveness/health`);
      assert.equal(loading.status, 503);
      assert.deepEqual(await loading.json(), { status: 3, message: 'loading models' });
      for (const [response, code] of [
        [await extract(), 'BPE-001003'],
        [await fetch(`${base}/v1/face/liveness/detect`, { method: 'POST', body: 'x', headers: { 'content-type': 'image/jpeg' } }), 'LDE-001003'],
        [await fetch(`${base}/version`), 'SVC-001003'],
      ] as const) {
        assert.equal(response.status, 503);
        assert.equal(response.headers.get('retry-after'), '1');
        assert.equal(((await response.json()) as { code: string }).code, code);
      }
      app.serve(deps);
      health = { status: 0, message: '' };
      assert.equal((await fetch(`${base}/v1/face/pattern/health`)).status, 200);
      assert.equal(((await (await extract()).json()) as { code: string }).code, 'BPE-002003', 'the route itself answers once served');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await registry.release();
    }
  });
});
