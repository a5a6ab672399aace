import { existsSync } from 'node:fs';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Every setting of the service, read from the environment once at start. Nothing else reads process.env.
 * `settingDocs` is the table the README shows; a test keeps the two in step.
 */
export interface Config {
  port: number;
  host: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  modelsDir: string;
  onnxIntraOpThreads: number;
  inferenceWorkers: number;
  maxImageBytes: number;
  maxImagePixels: number;
  maxDecodedPixels: number;
  maxImageAspectRatio: number;
  maxJpegScans: number;
  imageDecodeTimeoutMs: number;
  faceChoice: 'dominant' | 'strict';
  faceMinHeight: number;
  faceComparableRatio: number;
  mirroredEmbedding: boolean;
  matchApproveThreshold: number;
  matchDeclineThreshold: number;
  maxRequestBytes: number;
  maxTemplatesPerRequest: number;
  maxImagesPerRequest: number;
  livenessThreshold: number;
  maxMediaBytes: number;
  livenessMaxFrames: number;
  videoMaxFrames: number;
  videoMaxSeconds: number;
  videoTimeoutMs: number;
  videoMaxFramePixels: number;
  archiveMaxEntries: number;
  archiveMaxBytes: number;
  videoMaxSourcePixels: number;
  videoMaxMemoryBytes: number;
  livenessMaxAnalyses: number;
  livenessMaxPayloadBytes: number;
  maxResponseBytes: number;
  maxConcurrentRequests: number;
  maxQueuedRequests: number;
  maxInflightBodyBytes: number;
  queueTimeoutMs: number;
  bodyTimeoutMs: number;
  bodyMinBytesPerSecond: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  shutdownDelayMs: number;
  shutdownGraceMs: number;
  templateKeys: string[];
  ffmpegPath: string;
}

interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  meaning: string;
  defaultValue: () => Config[K];
  /** How the README states a default that depends on the machine or the checkout. */
  documentedDefault?: string;
  parse: (raw: string) => Config[K];
}

class InvalidSetting extends Error {}

/** The folder holding package.json, whether this file runs from src/ (tsx) or dist/src/ (compiled). */
function findProjectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

export const projectRoot = findProjectRoot();

function integer(min: number, max: number): (raw: string) => number {
  return (raw) => {
    if (!/^\d+$/.test(raw.trim())) throw new InvalidSetting(`"${raw}" is not a whole number`);
    const value = Number(raw);
    if (value < min || value > max) throw new InvalidSetting(`${value} is outside ${min}..${max}`);
    return value;
  };
}

function decimal(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const value = Number(raw.trim());
    if (raw.trim() === '' || !Number.isFinite(value)) throw new InvalidSetting(`"${raw}" is not a number`);
    if (value < min || value > max) throw new InvalidSetting(`${value} is outside ${min}..${max}`);
    return value;
  };
}

function oneOf<T extends string>(values: readonly T[]): (raw: string) => T {
  return (raw) => {
    if (!(values as readonly string[]).includes(raw)) throw new InvalidSetting(`"${raw}" is not one of ${values.join(', ')}`);
    return raw as T;
  };
}

function boolean(raw: string): boolean {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new InvalidSetting(`"${raw}" is not true or false`);
}

const MB = 1024 * 1024;

/** Where Debian's maintained ffmpeg package installs its binary (the container image installs it). */
const DEBIAN_FFMPEG = '/usr/bin/ffmpeg';

const settings: { [K in keyof Config]: Setting<K> } = {
  port: { key: 'port', env: 'PORT', meaning: 'TCP port the HTTP server listens on', defaultValue: () => 8080, parse: integer(0, 65535) },
  host: {
    key: 'host',
    env: 'HOST',
    meaning: 'Address the HTTP server binds to',
    defaultValue: () => '0.0.0.0',
    parse: (raw) => raw.trim(),
  },
  logLevel: {
    key: 'logLevel',
    env: 'LOG_LEVEL',
    meaning: 'pino log level',
    defaultValue: () => 'info',
    parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
  },
  modelsDir: {
    key: 'modelsDir',
    env: 'MODELS_DIR',
    meaning: 'Directory holding manifest.json and the ONNX files it lists',
    defaultValue: () => path.join(projectRoot, 'models'),
    documentedDefault: 'models/ of the checkout',
    parse: (raw) => path.resolve(raw),
  },
  onnxIntraOpThreads: {
    key: 'onnxIntraOpThreads',
    env: 'ONNX_INTRA_OP_THREADS',
    meaning: 'Threads one model run may use inside its worker (1: the workers, not the threads, share the cores)',
    defaultValue: () => 1,
    parse: integer(1, 64),
  },
  inferenceWorkers: {
    key: 'inferenceWorkers',
    env: 'INFERENCE_WORKERS',
    meaning: 'Worker threads running the models, each with its own session of every model (the event loop never runs one)',
    defaultValue: () => Math.max(1, Math.min(8, os.availableParallelism())),
    documentedDefault: 'cores, at most 8',
    parse: integer(1, 64),
  },
  maxImageBytes: {
    key: 'maxImageBytes',
    env: 'MAX_IMAGE_BYTES',
    meaning: 'Largest image body or part accepted, in bytes (base64 text may be 4/3 of it)',
    defaultValue: () => 10 * MB,
    parse: integer(1024, 1024 * MB),
  },
  maxImagePixels: {
    key: 'maxImagePixels',
    env: 'MAX_IMAGE_PIXELS',
    meaning: 'Largest decoded image accepted, in pixels (width × height); larger images are refused before decoding',
    defaultValue: () => 40_000_000,
    parse: integer(1, 1_000_000_000),
  },
  maxDecodedPixels: {
    key: 'maxDecodedPixels',
    env: 'MAX_DECODED_PIXELS',
    meaning:
      'No decoded view of an image holds more pixels than this (JPEGs are decoded at the scale each step needs; a PNG is decoded once, scaled down to this many pixels when larger); bounds the memory of a request',
    defaultValue: () => 16_000_000,
    parse: integer(1_000_000, 1_000_000_000),
  },
  maxImageAspectRatio: {
    key: 'maxImageAspectRatio',
    env: 'MAX_IMAGE_ASPECT_RATIO',
    meaning: 'Images more than this many times wider than tall, or taller than wide, are refused from their header (no photo of a face is; a 1×24,000,000 PNG costs seconds to decode)',
    defaultValue: () => 20,
    parse: decimal(1, 1_000_000),
  },
  maxJpegScans: {
    key: 'maxJpegScans',
    env: 'MAX_JPEG_SCANS',
    meaning: 'JPEGs with more scans are refused before decoding (encoders write 1 for baseline and about 10 for progressive; each scan is a pass over the whole image)',
    defaultValue: () => 100,
    parse: integer(1, 100_000),
  },
  imageDecodeTimeoutMs: {
    key: 'imageDecodeTimeoutMs',
    env: 'IMAGE_DECODE_TIMEOUT_MS',
    meaning: 'Wall-clock limit of one image decode, rounded up to whole seconds; past it the sample is refused as unreadable',
    defaultValue: () => 5_000,
    parse: integer(1_000, 600_000),
  },
  faceChoice: {
    key: 'faceChoice',
    env: 'FACE_CHOICE',
    meaning:
      'dominant: a sample is about its dominant face and only another face as prominent is "more than one person"; strict: any second face of FACE_MIN_HEIGHT or more is',
    defaultValue: () => 'dominant',
    parse: oneOf(['dominant', 'strict'] as const),
  },
  faceMinHeight: {
    key: 'faceMinHeight',
    env: 'FACE_MIN_HEIGHT',
    meaning: 'Faces shorter than this many pixels are ignored (too small to describe)',
    defaultValue: () => 20,
    parse: integer(1, 10_000),
  },
  faceComparableRatio: {
    key: 'faceComparableRatio',
    env: 'FACE_COMPARABLE_RATIO',
    meaning: 'In dominant face choice, a second framed face at least this share of the subject\'s height makes a sample show "more than one person"',
    defaultValue: () => 0.7,
    parse: decimal(0.05, 1),
  },
  mirroredEmbedding: {
    key: 'mirroredEmbedding',
    env: 'MIRRORED_EMBEDDING',
    meaning: 'true: a template is the mean of the embeddings of the aligned face and its mirror image (twice the embedder\'s cost per face; measured in docs/accuracy.md)',
    defaultValue: () => false,
    parse: boolean,
  },
  matchApproveThreshold: {
    key: 'matchApproveThreshold',
    env: 'MATCH_APPROVE_THRESHOLD',
    meaning: 'Scores at or above this are "approved" (0.85: false-accept rate at most 1e-4 on LFW dev)',
    defaultValue: () => 0.85,
    parse: decimal(0, 1),
  },
  matchDeclineThreshold: {
    key: 'matchDeclineThreshold',
    env: 'MATCH_DECLINE_THRESHOLD',
    meaning: 'Scores below this are "declined"; between the two thresholds "operator_required"',
    defaultValue: () => 0.5,
    parse: decimal(0, 1),
  },
  maxRequestBytes: {
    key: 'maxRequestBytes',
    env: 'MAX_REQUEST_BYTES',
    meaning: 'Largest multipart request body, in bytes (10,000 base64 templates take about 28 MB)',
    defaultValue: () => 64 * MB,
    parse: integer(1024, 4096 * MB),
  },
  maxTemplatesPerRequest: {
    key: 'maxTemplatesPerRequest',
    env: 'MAX_TEMPLATES_PER_REQUEST',
    meaning: 'Most templates_n parts in one compare_n or verify_n request',
    defaultValue: () => 20_000,
    parse: integer(1, 1_000_000),
  },
  maxImagesPerRequest: {
    key: 'maxImagesPerRequest',
    env: 'MAX_IMAGES_PER_REQUEST',
    meaning: 'Most images in one request (samples_n of extract_and_compare_n, media of a liveness folder)',
    defaultValue: () => 10,
    parse: integer(1, 1000),
  },
  livenessThreshold: {
    key: 'livenessThreshold',
    env: 'LIVENESS_THRESHOLD',
    meaning: 'Default threshold_spoofing: a liveness score (attack probability) at or above it is an attack',
    defaultValue: () => 0.5,
    parse: decimal(0, 1),
  },
  maxMediaBytes: {
    key: 'maxMediaBytes',
    env: 'MAX_MEDIA_BYTES',
    meaning: 'Largest media part of a liveness folder (image, video, archive, capture object), in bytes',
    defaultValue: () => 10 * MB,
    parse: integer(1024, 1024 * MB),
  },
  livenessMaxFrames: {
    key: 'livenessMaxFrames',
    env: 'LIVENESS_MAX_FRAMES',
    meaning: 'Frames scored per frame archive or capture object (evenly spread when there are more)',
    defaultValue: () => 16,
    parse: integer(1, 1000),
  },
  videoMaxFrames: {
    key: 'videoMaxFrames',
    env: 'VIDEO_MAX_FRAMES',
    meaning: 'Frames sampled per video, evenly over the clip',
    defaultValue: () => 16,
    parse: integer(1, 1000),
  },
  videoMaxSeconds: {
    key: 'videoMaxSeconds',
    env: 'VIDEO_MAX_SECONDS',
    meaning: 'Only this many seconds from the start of a video are read',
    defaultValue: () => 30,
    parse: integer(1, 3600),
  },
  videoTimeoutMs: {
    key: 'videoTimeoutMs',
    env: 'VIDEO_TIMEOUT_MS',
    meaning: 'Wall-clock limit of decoding one video; ffmpeg is killed past it and the media fails',
    defaultValue: () => 15_000,
    parse: integer(100, 600_000),
  },
  videoMaxFramePixels: {
    key: 'videoMaxFramePixels',
    env: 'VIDEO_MAX_FRAME_PIXELS',
    meaning: 'Frames of videos, frame archives and capture objects larger than this many pixels are scaled down (aspect ratio kept) as they are decoded',
    defaultValue: () => 1280 * 720,
    parse: integer(4096, 100_000_000),
  },
  archiveMaxEntries: {
    key: 'archiveMaxEntries',
    env: 'ARCHIVE_MAX_ENTRIES',
    meaning: 'Most entries a frame archive (ZIP) may list',
    defaultValue: () => 2000,
    parse: integer(1, 1_000_000),
  },
  archiveMaxBytes: {
    key: 'archiveMaxBytes',
    env: 'ARCHIVE_MAX_BYTES',
    meaning: 'Most bytes the entries of a frame archive may inflate to, counted as they inflate',
    defaultValue: () => 200 * MB,
    parse: integer(1024, 4096 * MB),
  },
  videoMaxSourcePixels: {
    key: 'videoMaxSourcePixels',
    env: 'VIDEO_MAX_SOURCE_PIXELS',
    meaning:
      'Videos whose frames are larger than this many pixels (as coded, before any scaling) are refused: from the probe, and by ffmpeg itself (-max_pixels) when a frame is larger than the container says',
    defaultValue: () => 4096 * 4096,
    parse: integer(4096, 1_000_000_000),
  },
  videoMaxMemoryBytes: {
    key: 'videoMaxMemoryBytes',
    env: 'VIDEO_MAX_MEMORY_BYTES',
    meaning: 'Data memory (heap and anonymous mappings, RLIMIT_DATA) each ffmpeg process may allocate; past it the allocation fails and the media fails',
    defaultValue: () => 256 * MB,
    parse: integer(64 * MB, 64 * 1024 * MB),
  },
  livenessMaxAnalyses: {
    key: 'livenessMaxAnalyses',
    env: 'LIVENESS_MAX_ANALYSES',
    meaning: 'Most analyses one liveness folder payload may ask for (each repeats the media and best shots in the answer)',
    defaultValue: () => 16,
    parse: integer(1, 10_000),
  },
  livenessMaxPayloadBytes: {
    key: 'livenessMaxPayloadBytes',
    env: 'LIVENESS_MAX_PAYLOAD_BYTES',
    meaning: 'Largest payload part of a liveness folder, in bytes (its metadata is echoed in the answer)',
    defaultValue: () => 64 * 1024,
    parse: integer(1024, 64 * MB),
  },
  maxResponseBytes: {
    key: 'maxResponseBytes',
    env: 'MAX_RESPONSE_BYTES',
    meaning: 'Largest JSON answer, in bytes; a request whose answer would be larger (1:N results, folder best shots) is refused with 413',
    defaultValue: () => 64 * MB,
    parse: integer(64 * 1024, 400 * MB),
  },
  maxConcurrentRequests: {
    key: 'maxConcurrentRequests',
    env: 'MAX_CONCURRENT_REQUESTS',
    meaning:
      'Requests doing inference at once (decoding, sampling and model runs overlap between them); a request takes a slot only once its body is in, and more wait in the queue',
    defaultValue: () => Math.max(4, 3 * os.availableParallelism()),
    documentedDefault: '3 × cores, at least 4',
    parse: integer(1, 1024),
  },
  maxQueuedRequests: {
    key: 'maxQueuedRequests',
    env: 'MAX_QUEUED_REQUESTS',
    meaning:
      'Requests that may wait (for body budget or for an inference slot) or be received while every slot is taken; past it the service answers 503 with Retry-After at once, before reading the body',
    defaultValue: () => 32,
    parse: integer(0, 100_000),
  },
  maxInflightBodyBytes: {
    key: 'maxInflightBodyBytes',
    env: 'MAX_INFLIGHT_BODY_BYTES',
    meaning:
      'Most body bytes (by Content-Length; a chunked body counts as MAX_IMAGE_BYTES) of the requests being received or worked on at once; more wait in the queue, and a request alone always runs. Slow uploads hold this budget, never an inference slot',
    defaultValue: () => 64 * MB,
    parse: integer(1024, 64 * 1024 * MB),
  },
  queueTimeoutMs: {
    key: 'queueTimeoutMs',
    env: 'QUEUE_TIMEOUT_MS',
    meaning: 'Longest a request waits for body budget, and again for an inference slot, before it is answered 503',
    defaultValue: () => 10_000,
    parse: integer(1, 600_000),
  },
  bodyTimeoutMs: {
    key: 'bodyTimeoutMs',
    env: 'BODY_TIMEOUT_MS',
    meaning: 'A request body not received within this time of its admission is answered 408 and its connection closed',
    defaultValue: () => 30_000,
    parse: integer(100, 600_000),
  },
  bodyMinBytesPerSecond: {
    key: 'bodyMinBytesPerSecond',
    env: 'BODY_MIN_BYTES_PER_SECOND',
    meaning:
      'A request body whose average rate since its reading began falls below this, checked every second from the second second on, is answered 408 and its connection closed (0: no minimum)',
    defaultValue: () => 1024,
    parse: integer(0, 1024 * MB),
  },
  headersTimeoutMs: {
    key: 'headersTimeoutMs',
    env: 'HEADERS_TIMEOUT_MS',
    meaning: 'A connection whose request headers are not complete this long after it opened (or after its previous answer) is answered 408 and closed',
    defaultValue: () => 15_000,
    parse: integer(100, 600_000),
  },
  keepAliveTimeoutMs: {
    key: 'keepAliveTimeoutMs',
    env: 'KEEP_ALIVE_TIMEOUT_MS',
    meaning:
      'Idle kept-alive connections: clients are told (Keep-Alive: timeout) to close them this long after their last answer; Node closes them a second later',
    defaultValue: () => 5_000,
    parse: integer(100, 600_000),
  },
  shutdownDelayMs: {
    key: 'shutdownDelayMs',
    env: 'SHUTDOWN_DELAY_MS',
    meaning: 'After SIGTERM, health reports 3 but requests are still taken for this long, so load balancers stop sending',
    defaultValue: () => 3_000,
    parse: integer(0, 600_000),
  },
  shutdownGraceMs: {
    key: 'shutdownGraceMs',
    env: 'SHUTDOWN_GRACE_MS',
    meaning: 'After that, requests in flight get this long to finish before the process exits',
    defaultValue: () => 25_000,
    parse: integer(0, 600_000),
  },
  templateKeys: {
    key: 'templateKeys',
    env: 'TEMPLATE_KEYS',
    meaning:
      'Comma-separated HMAC keys (32+ characters each): templates are signed with the first; unsigned templates, or ones no key verifies, are refused',
    defaultValue: () => [],
    documentedDefault: 'none: templates are not signed',
    parse: (raw) => {
      const keys = raw.split(',').map((key) => key.trim());
      if (keys.some((key) => key.length < 32)) throw new InvalidSetting('every key needs at least 32 characters');
      return keys;
    },
  },
  ffmpegPath: {
    key: 'ffmpegPath',
    env: 'FFMPEG_PATH',
    meaning:
      "The ffmpeg binary that decodes videos. Prefer a maintained build: the one @ffmpeg-installer/ffmpeg bundles dates from 2018 and gets no security fixes",
    defaultValue: () => (existsSync(DEBIAN_FFMPEG) ? DEBIAN_FFMPEG : ffmpegInstaller.path),
    documentedDefault: `${DEBIAN_FFMPEG} when installed (Debian's ffmpeg package), else the binary of @ffmpeg-installer/ffmpeg`,
    parse: (raw) => {
      const file = path.resolve(raw.trim());
      if (!existsSync(file)) throw new InvalidSetting(`${file} does not exist`);
      return file;
    },
  },
};

export const settingDocs = (Object.values(settings) as Setting<keyof Config>[]).map((s) => ({
  env: s.env,
  meaning: s.meaning,
  defaultValue: s.documentedDefault ?? String(s.defaultValue()),
}));

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads every setting; all problems are reported together. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const values: Partial<Record<keyof Config, unknown>> = {};
  for (const setting of Object.values(settings) as Setting<keyof Config>[]) {
    const raw = env[setting.env];
    if (raw === undefined || raw === '') {
      values[setting.key] = setting.defaultValue();
      continue;
    }
    try {
      values[setting.key] = setting.parse(raw);
    } catch (error) {
      if (!(error instanceof InvalidSetting)) throw error;
      problems.push(`${setting.env}: ${error.message}`);
    }
  }
  const thresholds = values as Partial<Config>;
  if (problems.length === 0 && thresholds.matchDeclineThreshold! > thresholds.matchApproveThreshold!) {
    problems.push('MATCH_DECLINE_THRESHOLD: must not exceed MATCH_APPROVE_THRESHOLD');
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  return values as Config;
}
