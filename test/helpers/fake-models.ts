/**
 * Deterministic fake models behind the real registry, for the fast test tier: no model files, no onnxruntime.
 *
 * A fake "model file" is a small JSON graph (its role, input and outputs), listed in a manifest with its real sha256,
 * so loading goes through everything the service does — manifest schema, checksums, graph against its entry, family
 * contract — and only the runtime is replaced (`fakeRuntime`, as Immich mocks its inference sessions).
 *
 * The fakes read the pictures `drawScene` paints: a face is a red disc (SKIN) on a blue background, and a person is
 * the pattern of dark marks inside it (PEOPLE). The detector finds red discs; the landmarker puts the five points on
 * the disc; the embedder describes the marks of the aligned face; the anti-spoof classifier calls a face live when it
 * is as saturated as SKIN and an attack when it is as washed out as a printed copy (PRINTED_SKIN).
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { FloatTensor, InferenceRuntime, ModelSession, ValueInfo } from '../../src/models/session.js';

type Rgb = readonly [number, number, number];

export const SKIN: Rgb = [235, 50, 50];
/** A face as a print or a screen replays it: the same red, washed out. */
export const PRINTED_SKIN: Rgb = [205, 125, 125];
const BACKGROUND: Rgb = [40, 90, 160];
const MARK: Rgb = [20, 20, 20];

/** A pixel of a face: clearly red, whether live or printed. */
const isSkin = (r: number, g: number, b: number): boolean => r > 120 && r - g > 45 && r - b > 45;
const isMark = (r: number, g: number, b: number): boolean => r + g + b < 200;

/** Each person's marks: cells of a 4×4 grid over the face's inner square. */
export const PEOPLE = {
  ada: [[0, 0], [1, 0], [0, 1], [3, 3], [2, 3]],
  bob: [[3, 0], [2, 0], [3, 1], [0, 3], [1, 3]],
  eve: [[1, 1], [2, 1], [1, 2], [2, 2], [0, 2]],
} as const satisfies Record<string, readonly (readonly [number, number])[]>;
export type Person = keyof typeof PEOPLE;

export interface DrawnFace {
  person: Person;
  /** Centre and radius, in pixels. */
  x: number;
  y: number;
  radius: number;
  skin?: Rgb;
}

/** The raw RGB pixels of a scene: the background and the faces. */
export function paintScene(width: number, height: number, faces: readonly DrawnFace[]): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) pixels.set(BACKGROUND, i * 3);
  for (const face of faces) {
    const inner = face.radius * 0.7;
    const cell = (2 * inner) / 4;
    for (let y = Math.floor(face.y - face.radius); y <= face.y + face.radius; y++) {
      for (let x = Math.floor(face.x - face.radius); x <= face.x + face.radius; x++) {
        if (x < 0 || y < 0 || x >= width || y >= height || (x - face.x) ** 2 + (y - face.y) ** 2 > face.radius ** 2) continue;
        const [col, row] = [Math.floor((x - face.x + inner) / cell), Math.floor((y - face.y + inner) / cell)];
        const marked = PEOPLE[face.person].some(([c, r]) => c === col && r === row);
        pixels.set(marked ? MARK : (face.skin ?? SKIN), (y * width + x) * 3);
      }
    }
  }
  return pixels;
}

/** A scene as a JPEG, the way users send photos. */
export function drawScene(width: number, height: number, faces: readonly DrawnFace[], format: 'jpeg' | 'png' = 'jpeg'): Promise<Buffer> {
  const image = sharp(paintScene(width, height, faces), { raw: { width, height, channels: 3 } });
  return (format === 'jpeg' ? image.jpeg({ quality: 95 }) : image.png()).toBuffer();
}

// ---- the fake graphs ----

type Role = 'detector' | 'landmarker' | 'embedder' | 'antiSpoof';

interface FakeGraph {
  role: Role;
  input: { name: string; shape: number[] };
  outputs: { name: string; shape: number[] }[];
}

const CANDIDATES = 16;
const EMBEDDING_GRID = 8;

const graphs: Record<string, FakeGraph> = {
  fake_detector: {
    role: 'detector',
    input: { name: 'input', shape: [1, 3, 240, 320] },
    outputs: [
      { name: 'scores', shape: [1, CANDIDATES, 2] },
      { name: 'boxes', shape: [1, CANDIDATES, 4] },
    ],
  },
  fake_landmarker: { role: 'landmarker', input: { name: 'input', shape: [1, 3, 64, 64] }, outputs: [{ name: 'points', shape: [1, 136] }] },
  fake_embedder: { role: 'embedder', input: { name: 'input', shape: [1, 3, 112, 112] }, outputs: [{ name: 'embedding', shape: [1, EMBEDDING_GRID ** 2] }] },
  fake_antispoof: { role: 'antiSpoof', input: { name: 'input', shape: [1, 3, 80, 80] }, outputs: [{ name: 'logits', shape: [1, 2] }] },
};

/** Raw pixel values in, as the fakes read them: RGB, mean 0, std 1. */
const rawInput = (graph: FakeGraph) => ({ ...graph.input, layout: 'NCHW', channelOrder: 'RGB', mean: [0], std: [1] });

const detection = {
  scoreThreshold: 0.7,
  confidentScore: 0.95,
  verificationScore: 0.5,
  verificationContexts: [2, 3],
  paddingMargin: 0.5,
  nmsIouThreshold: 0.4,
  reliableFaceHeight: 20,
};

const params: Record<string, Record<string, unknown>> = {
  fake_detector: detection,
  fake_landmarker: { cropScale: 1 },
  fake_embedder: {
    alignmentTemplate: [
      [38.2946, 51.6963],
      [73.5318, 51.5014],
      [56.0252, 71.7366],
      [41.5493, 92.3655],
      [70.7299, 92.2041],
    ],
    scoreCalibration: [
      [0, 0],
      [0.28, 0.5],
      [0.42, 0.85],
      [1, 1],
    ],
  },
  fake_antispoof: { cropScale: 2.7, liveClassIndex: 0 },
};

const families: Record<string, string> = {
  fake_detector: 'detector.ultraface',
  fake_landmarker: 'landmarker.68',
  fake_embedder: 'embedder.arcface',
  fake_antispoof: 'antispoof.classifier',
};

/** The manifest of the fake models, with each graph's checksum: what an operator's models directory holds. */
export function fakeManifest(files: ReadonlyMap<string, Buffer>): Record<string, unknown> {
  return {
    schemaVersion: 1,
    pipeline: { detector: 'fake_detector', landmarker: 'fake_landmarker', embedder: 'fake_embedder', antiSpoof: ['fake_antispoof'] },
    models: Object.entries(graphs).map(([id, graph]) => ({
      id,
      family: families[id],
      file: `${id}.onnx`,
      sha256: createHash('sha256').update(files.get(id)!).digest('hex'),
      bytes: files.get(id)!.length,
      version: 'fake-1',
      source: 'test/helpers/fake-models.ts',
      licence: 'ours',
      input: rawInput(graph),
      outputs: graph.outputs,
      params: params[id],
    })),
  };
}

/** Writes the fake graphs and their manifest into `dir`, as MODELS_DIR holds real ones. */
export async function writeFakeModels(dir: string, edit?: (manifest: Record<string, unknown>) => void): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files = new Map(Object.entries(graphs).map(([id, graph]) => [id, Buffer.from(JSON.stringify(graph))]));
  for (const [id, bytes] of files) await writeFile(path.join(dir, `${id}.onnx`), bytes);
  const manifest = fakeManifest(files);
  edit?.(manifest);
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

// ---- what the fakes compute ----

/** An NCHW RGB tensor read as pixels. */
class Picture {
  readonly width: number;
  readonly height: number;
  constructor(private readonly tensor: FloatTensor) {
    [, , this.height, this.width] = tensor.dims as [number, number, number, number];
  }
  rgb(x: number, y: number): Rgb {
    const plane = this.width * this.height;
    const i = y * this.width + x;
    return [this.tensor.data[i]!, this.tensor.data[plane + i]!, this.tensor.data[2 * plane + i]!];
  }
  is(test: (r: number, g: number, b: number) => boolean, x: number, y: number): boolean {
    return test(...this.rgb(x, y));
  }
}

interface Blob {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  pixels: number;
}

/** Connected regions of skin, marks inside a face counting as part of it (they are enclosed by skin). */
function skinBlobs(picture: Picture, minPixels: number): Blob[] {
  const { width, height } = picture;
  const seen = new Uint8Array(width * height);
  const blobs: Blob[] = [];
  for (let start = 0; start < width * height; start++) {
    if (seen[start] || !picture.is(isSkin, start % width, Math.floor(start / width))) continue;
    const blob: Blob = { x1: width, y1: height, x2: 0, y2: 0, pixels: 0 };
    const stack = [start];
    seen[start] = 1;
    while (stack.length > 0) {
      const at = stack.pop()!;
      const [x, y] = [at % width, Math.floor(at / width)];
      blob.pixels++;
      blob.x1 = Math.min(blob.x1, x);
      blob.y1 = Math.min(blob.y1, y);
      blob.x2 = Math.max(blob.x2, x + 1);
      blob.y2 = Math.max(blob.y2, y + 1);
      for (const [nx, ny] of [[x - 1, y], [x + 1, y], [x, y - 1], [x, y + 1]] as const) {
        if (nx < 0 || ny < 0 || nx >= width || ny >= height || seen[ny * width + nx] || !picture.is(isSkin, nx, ny)) continue;
        seen[ny * width + nx] = 1;
        stack.push(ny * width + nx);
      }
    }
    if (blob.pixels >= minPixels) blobs.push(blob);
  }
  return blobs;
}

/** Where the five points of a face lie on its disc, as fractions of its box. */
const FIVE_POINTS: readonly (readonly [number, number])[] = [
  [0.3, 0.38],
  [0.7, 0.38],
  [0.5, 0.55],
  [0.35, 0.75],
  [0.65, 0.75],
];
/** The 68-point indices the pipeline reads each of the five from (eyes: means of six; mouth: of two). */
const SOURCES_68 = [[36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47], [30], [48, 60], [54, 64]];

const behaviours: Record<Role, (input: Picture, graph: FakeGraph) => Record<string, Float32Array>> = {
  detector(picture) {
    const scores = new Float32Array(CANDIDATES * 2);
    const boxes = new Float32Array(CANDIDATES * 4);
    skinBlobs(picture, 30)
      .slice(0, CANDIDATES)
      .forEach((blob, i) => {
        scores.set([0.01, 0.99], 2 * i);
        boxes.set([blob.x1 / picture.width, blob.y1 / picture.height, blob.x2 / picture.width, blob.y2 / picture.height], 4 * i);
      });
    return { scores, boxes };
  },
  landmarker(picture) {
    const [face] = skinBlobs(picture, 10).sort((a, b) => b.pixels - a.pixels);
    const points = new Float32Array(136).fill(0.5);
    if (!face) return { points };
    FIVE_POINTS.forEach(([fx, fy], n) => {
      const x = (face.x1 + fx * (face.x2 - face.x1)) / picture.width;
      const y = (face.y1 + fy * (face.y2 - face.y1)) / picture.height;
      for (const index of SOURCES_68[n]!) points.set([x, y], 2 * index);
    });
    return { points };
  },
  /** The share of marked pixels in each cell of a grid over the aligned face, less their mean. */
  embedder(picture) {
    const cell = picture.width / EMBEDDING_GRID;
    const embedding = new Float32Array(EMBEDDING_GRID ** 2);
    for (let y = 0; y < picture.height; y++) {
      for (let x = 0; x < picture.width; x++) {
        if (picture.is(isMark, x, y)) embedding[Math.floor(y / cell) * EMBEDDING_GRID + Math.floor(x / cell)]! += 1 / cell ** 2;
      }
    }
    const mean = embedding.reduce((a, b) => a + b, 0) / embedding.length;
    return { embedding: embedding.map((v) => v - mean + 1e-3) };
  },
  /** Live (class 0) as far as the face's red stands out from its green: SKIN by far, PRINTED_SKIN not. */
  antiSpoof(picture) {
    let sum = 0;
    let count = 0;
    for (let y = 0; y < picture.height; y++) {
      for (let x = 0; x < picture.width; x++) {
        const [r, g] = picture.rgb(x, y);
        if (!picture.is(isSkin, x, y)) continue;
        sum += r - g;
        count++;
      }
    }
    const redness = count > 0 ? sum / count : 0;
    return { logits: new Float32Array([(redness - 130) / 10, 0]) };
  },
};

const valueInfo = (value: { name: string; shape: number[] }): ValueInfo => ({ name: value.name, type: 'float32', shape: value.shape });

/** The runtime of the fakes: each "file" is read as its graph; runs compute what the graph's role does, synchronously. */
export const fakeRuntime: InferenceRuntime = async (models) => {
  const sessions = new Map<string, ModelSession>();
  for (const model of models) {
    const graph = JSON.parse(Buffer.from(model.bytes).toString('utf8')) as FakeGraph;
    sessions.set(model.id, {
      modelId: model.id,
      inputs: [valueInfo(graph.input)],
      outputs: graph.outputs.map(valueInfo),
      warmupMs: 0,
      async run(feeds) {
        const outputs = behaviours[graph.role](new Picture(feeds[graph.input.name]!), graph);
        return Object.fromEntries(graph.outputs.map(({ name, shape }) => [name, { data: outputs[name]!, dims: shape }]));
      },
    });
  }
  return { sessions, close: async () => {} };
};
