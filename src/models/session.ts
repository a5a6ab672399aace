/** The only module that touches onnxruntime-node. */
import './runtime-environment.js';
import ort from 'onnxruntime-node';
import { ModelRuntimeError } from '../errors.js';

export interface FloatTensor {
  data: Float32Array;
  dims: readonly number[];
}

export interface ValueInfo {
  name: string;
  type: string;
  shape: ReadonlyArray<number | string>;
}

export interface SessionOptions {
  intraOpThreads: number;
}

export interface ModelSession {
  readonly modelId: string;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /** Runs the model; any runtime failure becomes a ModelRuntimeError naming the model. */
  run(feeds: Record<string, FloatTensor>): Promise<Record<string, FloatTensor>>;
  release(): Promise<void>;
}

export const runtimeName = 'onnxruntime-node';
export const runtimeVersion: string = ort.env.versions.node ?? ort.env.versions.common;

function describe(values: readonly ort.InferenceSession.ValueMetadata[]): ValueInfo[] {
  return values.map((v) => (v.isTensor ? { name: v.name, type: v.type, shape: v.shape } : { name: v.name, type: 'non-tensor', shape: [] }));
}

export async function createSession(modelId: string, modelBytes: Uint8Array, options: SessionOptions): Promise<ModelSession> {
  const session = await ort.InferenceSession.create(modelBytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // Severity 3 = errors only: the bundled graphs list initializers as inputs and ORT warns about each one.
    logSeverityLevel: 3,
    // Idle pool threads must sleep, not spin: spinning threads take the cores the event loop, image decoding and
    // other requests' model runs need (measured: every stage twice as slow on 2 cores with spinning on).
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
  return {
    modelId,
    inputs: describe(session.inputMetadata),
    outputs: describe(session.outputMetadata),
    async run(feeds) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, tensor] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor('float32', tensor.data, tensor.dims);
      let results: ort.InferenceSession.OnnxValueMapType;
      try {
        results = await session.run(ortFeeds);
      } catch (error) {
        throw new ModelRuntimeError(modelId, error);
      }
      const outputs: Record<string, FloatTensor> = {};
      for (const [name, value] of Object.entries(results)) {
        if (!(value.data instanceof Float32Array)) throw new ModelRuntimeError(modelId, new Error(`output ${name} is not float32`));
        outputs[name] = { data: value.data, dims: value.dims };
      }
      return outputs;
    },
    release: () => session.release(),
  };
}
