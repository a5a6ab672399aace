import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { z } from 'zod';

/**
 * Every setting of the service, read from the environment once at start; nothing else reads process.env. The table
 * below is the one declaration of each: its variable, the values it accepts, its default and what it means. `Config`
 * is derived from it, and the README's Configuration table is generated from it (`npm run docs:config`).
 *
 * A bound is named subject first: <SUBJECT>_MAX_<QUANTITY>, <SUBJECT>_MIN_<QUANTITY>, <SUBJECT>_TIMEOUT_MS
 * (VIDEO_MAX_FRAMES, BODY_MIN_BYTES_PER_SECOND, QUEUE_TIMEOUT_MS), so that the bounds of one subject sort together.
 * The MAX_<…> names that came before the rule keep their names: operators set them, and renaming would mean old
 * names kept working beside the new and every ConfigMap, alert and document changed, for order alone
 * (test/unit/config.test.ts lists them and refuses new ones).
 */

/** One setting: its environment variable, how its text is parsed and bounded, its default and what it means. */
interface Setting<T> {
  env: string;
  /** Parses the variable's text into the value; its messages say what is wrong with the text. */
  schema: z.ZodType<T, string>;
  /** The values accepted, as the README states them. */
  accepts: string;
  default: T | (() => T);
  /** How the README states a default that depends on the machine or the checkout. */
  documentedDefault?: string;
  description: string;
}

type Kind<T> = Pick<Setting<T>, 'schema' | 'accepts'>;

const setting = <T>(kind: Kind<T>, declaration: Omit<Setting<NoInfer<T>>, keyof Kind<T>>): Setting<T> => ({ ...kind, ...declaration });

/** A number in min..max, written as text that `isWellFormed` accepts; `kind` names such text in messages. */
function numberIn(kind: 'whole number' | 'number', isWellFormed: (raw: string) => boolean, min: number, max: number): Kind<number> {
  const outside = (issue: { input?: unknown }): string => `${String(issue.input)} is outside ${min}..${max}`;
  return {
    schema: z
      .string()
      .trim()
      .refine(isWellFormed, { error: (issue) => `"${String(issue.input)}" is not a ${kind}` })
      .transform(Number)
      .pipe(z.number().min(min, { error: outside }).max(max, { error: outside })),
    accepts: `${kind}, ${min}..${max}`,
  };
}

const wholeNumber = (min: number, max: number): Kind<number> => numberIn('whole number', (raw) => /^\d+$/.test(raw), min, max);

const decimal = (min: number, max: number): Kind<number> => numberIn('number', (raw) => raw !== '' && Number.isFinite(Number(raw)), min, max);

function oneOf<const T extends readonly [string, ...string[]]>(values: T): Kind<T[number]> {
  return {
    schema: z.enum(values, { error: (issue) => `"${String(issue.input)}" is not one of ${values.join(', ')}` }),
    accepts: values.join(', '),
  };
}

const trueOrFalse: Kind<boolean> = {
  schema: z.enum(['true', 'false'], { error: (issue) => `"${String(issue.input)}" is not true or false` }).transform((raw) => raw === 'true'),
  accepts: 'true, false',
};

const text = (accepts: string): Kind<string> => ({ schema: z.string().trim(), accepts });

const directoryPath: Kind<string> = { schema: z.string().transform((raw) => path.resolve(raw)), accepts: 'a directory' };

const existingFile: Kind<string> = {
  schema: z
    .string()
    .transform((raw) => path.resolve(raw.trim()))
    .refine((file) => existsSync(file), { error: (issue) => `${String(issue.input)} does not exist` }),
  accepts: 'an existing file',
};

const signingKeys: Kind<string[]> = {
  schema: z
    .string()
    .transform((raw) => raw.split(',').map((key) => key.trim()))
    .refine((keys) => keys.every((key) => key.length >= 32), { error: 'every key needs at least 32 characters' }),
  accepts: 'keys of 32+ characters, comma-separated',
};

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

const MB = 1024 * 1024;

/** Where Debian's maintained ffmpeg package installs its binary (the container image installs it). */
const DEBIAN_FFMPEG = '/usr/bin/ffmpeg';

const settings = {
  port: setting(wholeNumber(0, 65535), { env: 'PORT', default: 8080, description: 'TCP port the HTTP server listens on' }),
  host: setting(text('an address'), { env: 'HOST', default: '0.0.0.0', description: 'Address the HTTP server binds to' }),
  logLevel: setting(oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), {
    env: 'LOG_LEVEL',
    default: 'info',
    description: 'pino log level',
  }),
  modelsDir: setting(directoryPath, {
    env: 'MODELS_DIR',
    default: () => path.join(projectRoot, 'models'),
    documentedDefault: 'models/ of the checkout',
    description: 'Directory holding manifest.json and the ONNX files it lists',
  }),
  onnxIntraOpThreads: setting(wholeNumber(1, 64), {
    env: 'ONNX_INTRA_OP_THREADS',
    default: 1,
    description: 'Threads one model run may use inside its worker (1: the workers, not the threads, share the cores)',
  }),
  inferenceWorkers: setting(wholeNumber(1, 64), {
    env: 'INFERENCE_WORKERS',
    default: () => Math.max(1, Math.min(8, os.availableParallelism())),
    documentedDefault: 'cores, at most 8',
    description: 'Worker threads running the models, each with its own session of every model (the event loop never runs one)',
  }),
  maxImageBytes: setting(wholeNumber(1024, 1024 * MB), {
    env: 'MAX_IMAGE_BYTES',
    default: 10 * MB,
    description: 'Largest image body or part accepted, in bytes (base64 text may be 4/3 of it)',
  }),
  maxImagePixels: setting(wholeNumber(1, 1_000_000_000), {
    env: 'MAX_IMAGE_PIXELS',
    default: 40_000_000,
    description: 'Largest decoded image accepted, in pixels (width × height); larger images are refused before decoding',
  }),
  maxDecodedPixels: setting(wholeNumber(1_000_000, 1_000_000_000), {
    env: 'MAX_DECODED_PIXELS',
    default: 16_000_000,
    description: 'No decoded view of an image holds more pixels than this (JPEGs are decoded at the scale each step needs; a PNG is decoded once, scaled down to this many pixels when larger); bounds the memory of a request',
  }),
  maxImageAspectRatio: setting(decimal(1, 1_000_000), {
    env: 'MAX_IMAGE_ASPECT_RATIO',
    default: 20,
    description: 'Images more than this many times wider than tall, or taller than wide, are refused from their header (no photo of a face is; a 1×24,000,000 PNG costs seconds to decode)',
  }),
  maxJpegScans: setting(wholeNumber(1, 100_000), {
    env: 'MAX_JPEG_SCANS',
    default: 100,
    description: 'JPEGs with more scans are refused before decoding (encoders write 1 for baseline and about 10 for progressive; each scan is a pass over the whole image)',
  }),
  imageDecodeTimeoutMs: setting(wholeNumber(1_000, 600_000), {
    env: 'IMAGE_DECODE_TIMEOUT_MS',
    default: 5_000,
    description: 'Wall-clock limit of one image decode, rounded up to whole seconds; past it the sample is refused as unreadable',
  }),
  faceChoice: setting(oneOf(['dominant', 'strict'] as const), {
    env: 'FACE_CHOICE',
    default: 'dominant',
    description: 'dominant: a sample is about its dominant face and only another face as prominent is "more than one person"; strict: any second face of FACE_MIN_HEIGHT or more is',
  }),
  faceMinHeight: setting(wholeNumber(1, 10_000), {
    env: 'FACE_MIN_HEIGHT',
    default: 20,
    description: 'Faces shorter than this many pixels are ignored (too small to describe)',
  }),
  faceComparableRatio: setting(decimal(0.05, 1), {
    env: 'FACE_COMPARABLE_RATIO',
    default: 0.7,
    description: 'In dominant face choice, a second framed face at least this share of the subject\'s height makes a sample show "more than one person"',
  }),
  mirroredEmbedding: setting(trueOrFalse, {
    env: 'MIRRORED_EMBEDDING',
    default: false,
    description: 'true: a template is the mean of the embeddings of the aligned face and its mirror image (twice the embedder\'s cost per face; measured in docs/accuracy.md)',
  }),
  matchApproveThreshold: setting(decimal(0, 1), {
    env: 'MATCH_APPROVE_THRESHOLD',
    default: 0.85,
    description: 'Scores at or above this are "approved" (the default: false-accept rate at most 1e-4 on LFW dev)',
  }),
  matchDeclineThreshold: setting(decimal(0, 1), {
    env: 'MATCH_DECLINE_THRESHOLD',
    default: 0.5,
    description: 'Scores below this are "declined"; between the two thresholds "operator_required"',
  }),
  maxRequestBytes: setting(wholeNumber(1024, 4096 * MB), {
    env: 'MAX_REQUEST_BYTES',
    default: 64 * MB,
    description: 'Largest multipart request body, in bytes (10,000 base64 templates take about 28 MB)',
  }),
  maxTemplatesPerRequest: setting(wholeNumber(1, 1_000_000), {
    env: 'MAX_TEMPLATES_PER_REQUEST',
    default: 20_000,
    description: 'Most templates_n parts in one compare_n or verify_n request',
  }),
  maxImagesPerRequest: setting(wholeNumber(1, 1000), {
    env: 'MAX_IMAGES_PER_REQUEST',
    default: 10,
    description: 'Most images in one request (samples_n of extract_and_compare_n, media of a liveness folder)',
  }),
  livenessThreshold: setting(decimal(0, 1), {
    env: 'LIVENESS_THRESHOLD',
    default: 0.5,
    description: 'Default threshold_spoofing: a liveness score (attack probability) at or above it is an attack',
  }),
  maxMediaBytes: setting(wholeNumber(1024, 1024 * MB), {
    env: 'MAX_MEDIA_BYTES',
    default: 10 * MB,
    description: 'Largest media part of a liveness folder (image, video, archive, capture object), in bytes',
  }),
  livenessMaxFrames: setting(wholeNumber(1, 1000), {
    env: 'LIVENESS_MAX_FRAMES',
    default: 16,
    description: 'Frames scored per frame archive or capture object (evenly spread when there are more)',
  }),
  videoMaxFrames: setting(wholeNumber(1, 1000), {
    env: 'VIDEO_MAX_FRAMES',
    default: 16,
    description: 'Frames sampled per video, evenly over the clip',
  }),
  videoMaxSeconds: setting(wholeNumber(1, 3600), {
    env: 'VIDEO_MAX_SECONDS',
    default: 30,
    description: 'Only this many seconds from the start of a video are read',
  }),
  videoTimeoutMs: setting(wholeNumber(100, 600_000), {
    env: 'VIDEO_TIMEOUT_MS',
    default: 15_000,
    description: 'Wall-clock limit of decoding one video; ffmpeg is killed past it and the media fails',
  }),
  videoMaxFramePixels: setting(wholeNumber(4096, 100_000_000), {
    env: 'VIDEO_MAX_FRAME_PIXELS',
    default: 1280 * 720,
    description: 'Frames of videos, frame archives and capture objects larger than this many pixels are scaled down (aspect ratio kept) as they are decoded',
  }),
  archiveMaxEntries: setting(wholeNumber(1, 1_000_000), {
    env: 'ARCHIVE_MAX_ENTRIES',
    default: 2000,
    description: 'Most entries a frame archive (ZIP) may list',
  }),
  archiveMaxBytes: setting(wholeNumber(1024, 4096 * MB), {
    env: 'ARCHIVE_MAX_BYTES',
    default: 200 * MB,
    description: 'Most bytes the entries of a frame archive may inflate to, counted as they inflate',
  }),
  videoMaxSourcePixels: setting(wholeNumber(4096, 1_000_000_000), {
    env: 'VIDEO_MAX_SOURCE_PIXELS',
    default: 4096 * 4096,
    description: 'Videos whose frames are larger than this many pixels (as coded, before any scaling) are refused: from the probe, and by ffmpeg itself (-max_pixels) when a frame is larger than the container says',
  }),
  videoMaxMemoryBytes: setting(wholeNumber(64 * MB, 64 * 1024 * MB), {
    env: 'VIDEO_MAX_MEMORY_BYTES',
    default: 256 * MB,
    description: 'Data memory (heap and anonymous mappings, RLIMIT_DATA) each ffmpeg process may allocate; past it the allocation fails and the media fails',
  }),
  livenessMaxAnalyses: setting(wholeNumber(1, 10_000), {
    env: 'LIVENESS_MAX_ANALYSES',
    default: 16,
    description: 'Most analyses one liveness folder payload may ask for (each repeats the media and best shots in the answer)',
  }),
  livenessMaxPayloadBytes: setting(wholeNumber(1024, 64 * MB), {
    env: 'LIVENESS_MAX_PAYLOAD_BYTES',
    default: 64 * 1024,
    description: 'Largest payload part of a liveness folder, in bytes (its metadata is echoed in the answer)',
  }),
  maxResponseBytes: setting(wholeNumber(64 * 1024, 400 * MB), {
    env: 'MAX_RESPONSE_BYTES',
    default: 64 * MB,
    description: 'Largest JSON answer, in bytes; a request whose answer would be larger (1:N results, folder best shots) is refused with 413',
  }),
  maxConcurrentRequests: setting(wholeNumber(1, 1024), {
    env: 'MAX_CONCURRENT_REQUESTS',
    default: () => Math.max(4, 3 * os.availableParallelism()),
    documentedDefault: '3 × cores, at least 4',
    description: 'Requests doing inference at once (decoding, sampling and model runs overlap between them); a request takes a slot only once its body is in, and more wait in the queue',
  }),
  maxQueuedRequests: setting(wholeNumber(0, 100_000), {
    env: 'MAX_QUEUED_REQUESTS',
    default: 32,
    description: 'Requests that may wait (for body budget or for an inference slot) or be received while every slot is taken; past it the service answers 503 with Retry-After at once, before reading the body',
  }),
  maxInflightBodyBytes: setting(wholeNumber(1024, 64 * 1024 * MB), {
    env: 'MAX_INFLIGHT_BODY_BYTES',
    default: 64 * MB,
    description: 'Most body bytes (by Content-Length; a chunked body counts as MAX_IMAGE_BYTES) of the requests being received or worked on at once; more wait in the queue, and a request alone always runs. Slow uploads hold this budget, never an inference slot',
  }),
  queueTimeoutMs: setting(wholeNumber(1, 600_000), {
    env: 'QUEUE_TIMEOUT_MS',
    default: 10_000,
    description: 'Longest a request waits for body budget, and again for an inference slot, before it is answered 503',
  }),
  bodyTimeoutMs: setting(wholeNumber(100, 600_000), {
    env: 'BODY_TIMEOUT_MS',
    default: 30_000,
    description: 'A request body not received within this time of its admission is answered 408 and its connection closed',
  }),
  bodyMinBytesPerSecond: setting(wholeNumber(0, 1024 * MB), {
    env: 'BODY_MIN_BYTES_PER_SECOND',
    default: 1024,
    description: 'A request body whose average rate since its reading began falls below this, checked every second from the second second on, is answered 408 and its connection closed (0: no minimum)',
  }),
  headersTimeoutMs: setting(wholeNumber(100, 600_000), {
    env: 'HEADERS_TIMEOUT_MS',
    default: 15_000,
    description: 'A connection whose request headers are not complete this long after it opened (or after its previous answer) is answered 408 and closed',
  }),
  keepAliveTimeoutMs: setting(wholeNumber(100, 600_000), {
    env: 'KEEP_ALIVE_TIMEOUT_MS',
    default: 5_000,
    description: 'Idle kept-alive connections: clients are told (Keep-Alive: timeout) to close them this long after their last answer; Node closes them a second later',
  }),
  shutdownDelayMs: setting(wholeNumber(0, 600_000), {
    env: 'SHUTDOWN_DELAY_MS',
    default: 3_000,
    description: 'After SIGTERM, health reports 3 but requests are still taken for this long, so load balancers stop sending',
  }),
  shutdownGraceMs: setting(wholeNumber(0, 600_000), {
    env: 'SHUTDOWN_GRACE_MS',
    default: 25_000,
    description: 'After that, requests in flight get this long to finish before the process exits',
  }),
  templateKeys: setting(signingKeys, {
    env: 'TEMPLATE_KEYS',
    default: () => [],
    documentedDefault: 'none: templates are not signed',
    description: 'Comma-separated HMAC keys (32+ characters each): templates are signed with the first; unsigned templates, or ones no key verifies, are refused',
  }),
  ffmpegPath: setting(existingFile, {
    env: 'FFMPEG_PATH',
    default: () => (existsSync(DEBIAN_FFMPEG) ? DEBIAN_FFMPEG : ffmpegInstaller.path),
    documentedDefault: `${DEBIAN_FFMPEG} when installed (Debian's ffmpeg package), else the binary of @ffmpeg-installer/ffmpeg`,
    description: "The ffmpeg binary that decodes videos. Prefer a maintained build: the one @ffmpeg-installer/ffmpeg bundles dates from 2018 and gets no security fixes",
  }),
};

type Settings = typeof settings;

export type Config = { [K in keyof Settings]: Settings[K] extends Setting<infer T> ? T : never };

const declared = Object.entries(settings) as [keyof Config, Setting<Config[keyof Config]>][];

const defaultOf = <T>(s: Setting<T>): T => (typeof s.default === 'function' ? (s.default as () => T)() : s.default);

/** The README's Configuration table, row by row. */
export const settingDocs = declared.map(([key, s]) => ({
  key,
  env: s.env,
  defaultValue: s.documentedDefault ?? String(defaultOf(s)),
  accepts: s.accepts,
  description: s.description,
}));

/** The environment as the service reads it (a variable set to the empty string is unset), into the settings. */
const environment = z
  .object(Object.fromEntries(declared.map(([, s]) => [s.env, z.preprocess((raw) => (raw === '' ? undefined : raw), s.schema.optional())])))
  .transform((values) => Object.fromEntries(declared.map(([key, s]) => [key, values[s.env] ?? defaultOf(s)])) as Config)
  .refine((config) => config.matchDeclineThreshold <= config.matchApproveThreshold, {
    path: [settings.matchDeclineThreshold.env],
    error: `must not exceed ${settings.matchApproveThreshold.env}`,
  });

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads every setting; all problems are reported together. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = environment.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return parsed.data;
}
