/**
 * An inference worker: the only code that touches onnxruntime-node. onnxruntime-node runs a model synchronously on
 * the thread that calls it, so the service keeps its sessions in worker threads and its event loop free: health,
 * metrics and HTTP parsing keep answering while models run, and several requests' models run at once.
 */
import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { FloatTensor, FromWorker, LoadedModelInfo, ToWorker, ValueInfo } from './inference-protocol.js';

const port = parentPort!;

/**
 * How much lower than the event loop this worker's thread runs (Linux nice values are per thread; ONNX Runtime's
 * own threads, created from this one, inherit it). A model run takes tens of milliseconds, while the event loop
 * answers health, refusals and I/O in well under one: where they compete for a core, the event loop should win, and
 * the models lose almost nothing (it is busy about a third of the time at capacity). At three times capacity, with
 * the workers at the event loop's priority health took 43–47 ms at the median and 153–170 ms at p99; 10 lower,
 * 7–11 ms and 92–121 ms (bench:overload, runs alternated on a shared machine).
 */
const NICENESS_BELOW_EVENT_LOOP = 10;
os.setPriority(Math.min(19, os.getPriority() + NICENESS_BELOW_EVENT_LOOP));
const sessions = new Map<string, ort.InferenceSession>();

function describe(values: readonly ort.InferenceSession.ValueMetadata[]): ValueInfo[] {
  return values.map((v) => (v.isTensor ? { name: v.name, type: v.type, shape: v.shape } : { name: v.name, type: 'non-tensor', shape: [] }));
}

async function load(message: Extract<ToWorker, { type: 'load' }>): Promise<FromWorker> {
  const loaded: LoadedModelInfo[] = [];
  for (const model of message.models) {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model.bytes, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: message.intraOpThreads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        // Severity 3 = errors only: the bundled graphs list initializers as inputs and ORT warns about each one.
        logSeverityLevel: 3,
        // Idle pool threads must sleep, not spin: spinning threads take the cores other workers, image decoding and
        // the event loop need (measured: every stage twice as slow on 2 cores with spinning on).
        extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
      });
    } catch (error) {
      return { type: 'load-failed', modelId: model.id, message: (error as Error).message };
    }
    sessions.set(model.id, session);
    const inputs = describe(session.inputMetadata);
    const warmupStarted = performance.now();
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of inputs) {
      const dims = input.shape.map((d) => (typeof d === 'number' ? d : 1));
      feeds[input.name] = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
    }
    try {
      await session.run(feeds);
    } catch (error) {
      return { type: 'load-failed', modelId: model.id, message: `warm-up run failed: ${(error as Error).message}` };
    }
    loaded.push({ id: model.id, inputs, outputs: describe(session.outputMetadata), warmupMs: performance.now() - warmupStarted });
  }
  return { type: 'loaded', models: loaded };
}

async function run(message: Extract<ToWorker, { type: 'run' }>): Promise<FromWorker> {
  const session = sessions.get(message.modelId);
  if (!session) return { type: 'run-failed', runId: message.runId, message: `model ${message.modelId} is not loaded` };
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, tensor] of Object.entries(message.feeds)) feeds[name] = new ort.Tensor('float32', tensor.data, tensor.dims);
  try {
    const results = await session.run(feeds);
    const outputs: Record<string, FloatTensor> = {};
    for (const [name, value] of Object.entries(results)) {
      if (!(value.data instanceof Float32Array)) throw new Error(`output ${name} is not float32`);
      outputs[name] = { data: value.data, dims: value.dims };
    }
    return { type: 'result', runId: message.runId, outputs };
  } catch (error) {
    return { type: 'run-failed', runId: message.runId, message: (error as Error).message };
  }
}

/**
 * Releases every session and lets the thread end. A worker terminated from outside while onnxruntime is inside a
 * run aborts the whole process (the native run returns into a torn-down environment and throws past N-API), so the
 * pool asks first; messages are handled one at a time, so no run is in progress here.
 */
async function close(): Promise<void> {
  for (const session of sessions.values()) await session.release();
  sessions.clear();
  port.close();
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'load':
      void load(message).then((reply) => port.postMessage(reply));
      return;
    case 'run':
      void run(message).then((reply) => port.postMessage(reply));
      return;
    case 'close':
      void close();
  }
});
