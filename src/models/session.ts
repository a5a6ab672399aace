// The runtime reads its settings from the process environment, which only the main thread can change.
import './runtime-environment.js';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ModelRuntimeError } from '../errors.js';
import type { FloatTensor, FromWorker, LoadedModelInfo, ModelToLoad, ToWorker, ValueInfo } from './inference-protocol.js';

export type { FloatTensor, ModelToLoad, ValueInfo } from './inference-protocol.js';

export interface SessionOptions {
  /** Threads each session may use for one model run. */
  intraOpThreads: number;
  /** Worker threads holding a session of every model; model runs go to the least busy one. */
  workers?: number;
}

export interface ModelSession {
  readonly modelId: string;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly warmupMs: number;
  /** Runs the model in a worker; any runtime failure becomes a ModelRuntimeError naming the model. */
  run(feeds: Record<string, FloatTensor>): Promise<Record<string, FloatTensor>>;
}

export interface InferencePool {
  sessions: ReadonlyMap<string, ModelSession>;
  close(): Promise<void>;
}

/** What runs the models: onnxruntime in worker threads (createInferencePool), or a test's fake of it. */
export type InferenceRuntime = (models: readonly ModelToLoad[], options: SessionOptions) => Promise<InferencePool>;

/** A model the runtime cannot load, or whose warm-up run fails. */
export class ModelRuntimeLoadError extends Error {
  override readonly name = 'ModelRuntimeLoadError';
  constructor(
    readonly modelId: string,
    message: string,
  ) {
    super(message);
  }
}

export const runtimeVersion: string = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;

/** How long a worker asked to stop may take to release its sessions before it is terminated. */
const WORKER_STOP_MS = 5_000;

/** The worker sits beside this file: compiled JavaScript in production, TypeScript under tsx (tests, tools). */
const thisFile = fileURLToPath(import.meta.url);
const workerFile = path.join(path.dirname(thisFile), `inference-worker${path.extname(thisFile)}`);

/**
 * Node does not apply tsx's loader to a worker's entry file, so a TypeScript worker registers it first, with its
 * transform cache in memory: the service writes nothing to disk, in tests either.
 */
function newWorker(): Worker {
  if (!workerFile.endsWith('.ts')) return new Worker(workerFile);
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `process.env.TSX_DISABLE_CACHE = '1'; import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(workerFile).href)}); });`;
  return new Worker(bootstrap, { eval: true });
}

interface PendingRun {
  modelId: string;
  resolve: (outputs: Record<string, FloatTensor>) => void;
  reject: (error: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, PendingRun>;
  ready: boolean;
}

/**
 * Starts `workers` inference workers, loads and warms every model in each, and returns sessions whose runs go to the
 * least busy worker. A worker that dies fails its runs in flight with the model-runtime error and is replaced.
 */
export async function createInferencePool(models: readonly ModelToLoad[], options: SessionOptions): Promise<InferencePool> {
  const workerCount = Math.max(1, options.workers ?? 1);
  const workers: PoolWorker[] = [];
  let nextRunId = 0;
  let closing = false;

  function start(): { entry: PoolWorker; loaded: Promise<LoadedModelInfo[]> } {
    const worker = newWorker();
    const entry: PoolWorker = { worker, pending: new Map(), ready: false };
    const loaded = new Promise<LoadedModelInfo[]>((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'loaded':
            entry.ready = true;
            resolve(message.models);
            return;
          case 'load-failed':
            reject(new ModelRuntimeLoadError(message.modelId, message.message));
            return;
          case 'result':
          case 'run-failed': {
            const run = entry.pending.get(message.runId);
            if (!run) return;
            entry.pending.delete(message.runId);
            if (message.type === 'result') run.resolve(message.outputs);
            else run.reject(new ModelRuntimeError(run.modelId, new Error(message.message)));
          }
        }
      });
      worker.once('error', (error) => reject(error));
      worker.once('exit', (code) => {
        entry.ready = false;
        workers.splice(workers.indexOf(entry), 1);
        for (const run of entry.pending.values()) run.reject(new ModelRuntimeError(run.modelId, new Error(`inference worker exited (${code})`)));
        entry.pending.clear();
        reject(new Error(`inference worker exited (${code}) while loading`));
        if (!closing) replace();
      });
    });
    workers.push(entry);
    // Model bytes are copied to each worker; the pool keeps its own copy to load a replacement.
    worker.postMessage({ type: 'load', models, intraOpThreads: options.intraOpThreads } satisfies ToWorker);
    return { entry, loaded };
  }

  /** Asks a worker to release its sessions and end; terminates it only if it has not within WORKER_STOP_MS. */
  async function stopWorker(entry: PoolWorker): Promise<void> {
    const exited = once(entry.worker, 'exit');
    entry.worker.postMessage({ type: 'close' } satisfies ToWorker);
    const timer = setTimeout(() => void entry.worker.terminate(), WORKER_STOP_MS);
    await exited;
    clearTimeout(timer);
  }

  function replace(): void {
    start().loaded.catch(() => {
      // A replacement that cannot load leaves the pool smaller; runs fail over to the others or report the error.
    });
  }

  const started = Array.from({ length: workerCount }, () => start());
  let infos: LoadedModelInfo[];
  try {
    infos = (await Promise.all(started.map((s) => s.loaded)))[0]!;
  } catch (error) {
    closing = true;
    await Promise.all(workers.map(stopWorker));
    throw error;
  }

  function run(modelId: string, feeds: Record<string, FloatTensor>): Promise<Record<string, FloatTensor>> {
    const ready = workers.filter((w) => w.ready);
    if (ready.length === 0) return Promise.reject(new ModelRuntimeError(modelId, new Error('no inference worker is running')));
    const least = ready.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const runId = nextRunId++;
    // Tensors are copied, not transferred: a transferred buffer stays counted against this thread until the worker
    // collects it, which made memory look like it grew with every request; a copy of the largest (0.9 MB) is cheap.
    return new Promise((resolve, reject) => {
      least.pending.set(runId, { modelId, resolve, reject });
      least.worker.postMessage({ type: 'run', runId, modelId, feeds } satisfies ToWorker);
    });
  }

  const sessions = new Map<string, ModelSession>(
    infos.map((info) => [info.id, { modelId: info.id, inputs: info.inputs, outputs: info.outputs, warmupMs: info.warmupMs, run: (feeds) => run(info.id, feeds) }]),
  );
  return {
    sessions,
    async close() {
      closing = true;
      await Promise.all(workers.map(stopWorker));
    },
  };
}
