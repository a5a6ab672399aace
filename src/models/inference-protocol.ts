/** Messages between the service and its inference workers (src/models/inference-worker.ts). */

export interface FloatTensor {
  data: Float32Array;
  dims: readonly number[];
}

export interface ValueInfo {
  name: string;
  type: string;
  shape: ReadonlyArray<number | string>;
}

export interface ModelToLoad {
  id: string;
  bytes: Uint8Array;
}

export type ToWorker =
  | { type: 'load'; models: readonly ModelToLoad[]; intraOpThreads: number }
  | { type: 'run'; runId: number; modelId: string; feeds: Record<string, FloatTensor> }
  | { type: 'close' };

export interface LoadedModelInfo {
  id: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  warmupMs: number;
}

export type FromWorker =
  | { type: 'loaded'; models: LoadedModelInfo[] }
  | { type: 'load-failed'; modelId: string; message: string }
  | { type: 'result'; runId: number; outputs: Record<string, FloatTensor> }
  | { type: 'run-failed'; runId: number; message: string };
