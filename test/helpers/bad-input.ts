/**
 * What the bad-input suite shares: a ledger of every answer (so that each file can check, once it is done, that no
 * 5xx slipped out and that no message leaks a path, a stack or a client's name), raw HTTP exchanges for what fetch
 * cannot send, and a settled RSS reading.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after } from 'node:test';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { constants, crc32, deflateRawSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { TICKS_PER_SECOND, treeTicks } from '../../bench/lib/cpu.js';
import { treeRssMb } from '../../bench/lib/rss.js';
import { projectRoot } from '../../src/config.js';
import { errorCatalogue } from '../../src/errors.js';
import { dataDir } from './data.js';
import type { TestService } from './service.js';

/** What a bad request must get. */
export type Expected =
  /** An error answer: the code's status (from the catalogue) and the code. */
  | { code: string; detail?: RegExp }
  /** A liveness folder: 200, and every analysis FAILED with LDE-002004. */
  | { analysis: 'FAILED'; detail?: RegExp }
  /** An answer without a body (HEAD), or one Node's HTTP server gives before the app sees the request. */
  | { status: number }
  /** A documented acceptance: not a bad request, but checked all the same. */
  | { ok: true };

export const failedAnalysis = (detail?: RegExp): Expected => (detail ? { analysis: 'FAILED', detail } : { analysis: 'FAILED' });
export const accepted: Expected = { ok: true };

export function statusOf(code: string): number {
  for (const area of Object.values(errorCatalogue)) {
    for (const entry of Object.values(area)) if (entry.code === code) return entry.status;
  }
  throw new Error(`${code} is not in the catalogue`);
}

interface Folder {
  system_resolution: string;
  analyses: { state: string; resolution_status: string; error_code: string | null; error_message: string | null }[];
}

export interface Recorded {
  label: string;
  status: number;
  code: string | undefined;
  /** Error messages: the body's, or those of a folder's failed analyses. */
  messages: string[];
  /** Names the client chose (part names, filenames, media keys, payload keys). */
  clientNames: readonly string[];
}

/** Every answer of one suite file, and the distinct bad requests among them. */
export class Ledger {
  readonly answers: Recorded[] = [];
  private readonly bad = new Set<string>();

  get badRequests(): number {
    return this.bad.size;
  }

  /**
   * Reads an answer, records it and checks it against what is expected. Error answers and failed analyses count as
   * bad requests; their labels must be distinct. Returns the parsed body (JSON when it is JSON).
   */
  async check(label: string, sending: Response | Promise<Response>, expected: Expected, clientNames: readonly string[] = []): Promise<unknown> {
    const response = await sending;
    const text = await response.text();
    const isJson = (response.headers.get('content-type') ?? '').startsWith('application/json');
    const body: unknown = isJson && text ? JSON.parse(text) : text;
    const error = isJson && response.status >= 400 ? (body as { code?: string; message?: string }) : undefined;
    const folder = isJson && response.status === 200 && Array.isArray((body as Partial<Folder>).analyses) ? (body as Folder) : undefined;
    const messages = [
      ...(error?.message !== undefined ? [error.message] : []),
      ...(folder?.analyses.flatMap((a) => (a.error_message === null ? [] : [a.error_message])) ?? []),
    ];
    this.answers.push({ label, status: response.status, code: error?.code, messages, clientNames });
    const seen = `${label}: ${response.status} ${text.slice(0, 300)}`;

    if ('ok' in expected) {
      assert.ok(response.status >= 200 && response.status < 300, `${seen}\nexpected a success`);
      if (folder) assert.ok(folder.analyses.every((a) => a.state !== 'FAILED'), `${seen}\nexpected no failed analysis`);
      return body;
    }
    this.countBad(label);
    if ('status' in expected) {
      assert.equal(response.status, expected.status, seen);
    } else if ('code' in expected) {
      assert.equal(response.status, statusOf(expected.code), seen);
      assert.equal(error?.code, expected.code, seen);
      if (expected.detail) assert.match(error.message ?? '', expected.detail, seen);
    } else {
      assert.equal(response.status, 200, seen);
      assert.ok(folder && folder.analyses.length > 0, `${seen}\nexpected a folder with analyses`);
      for (const analysis of folder.analyses) {
        assert.equal(analysis.state, 'FAILED', seen);
        assert.equal(analysis.resolution_status, 'FAILED', seen);
        assert.equal(analysis.error_code, 'LDE-002004', seen);
        if (expected.detail) assert.match(analysis.error_message ?? '', expected.detail, seen);
      }
      assert.equal(folder.system_resolution, 'FAILED', seen);
    }
    return body;
  }

  /** Records an answer read off a raw socket (no fetch Response). */
  recordRaw(label: string, raw: RawAnswer, clientNames: readonly string[] = []): void {
    const error = raw.json as { code?: string; message?: string } | undefined;
    this.answers.push({ label, status: raw.status, code: error?.code, messages: error?.message !== undefined ? [error.message] : [], clientNames });
    this.countBad(label);
  }

  private countBad(label: string): void {
    assert.ok(!this.bad.has(label), `two bad requests are labelled "${label}"`);
    this.bad.add(label);
  }
}

/** What may never appear in a message: server paths, stack frames, raw bytes, more than 64 characters of a client's name. */
export function assertNoLeaks(answers: readonly Recorded[]): void {
  const paths = [...new Set([projectRoot, dataDir, os.tmpdir(), '/work/', '/tmp/', 'node_modules', 'file://'])];
  for (const answer of answers) {
    for (const message of answer.messages) {
      const where = `${answer.label}: "${message}"`;
      for (const path of paths) assert.ok(!message.includes(path), `${where} holds the path ${path}`);
      assert.doesNotMatch(message, /\bat \S+ \(|\.(?:ts|js|mjs|cjs):\d+|Error:/, `${where} holds a stack frame or an exception`);
      // Controls, format characters (bidirectional overrides), lone surrogates, unassigned code points, U+FFFD.
      assert.doesNotMatch(message, /[\p{C}\p{Zl}\p{Zp}\ufffd]/u, `${where} holds unprintable characters or undecodable bytes`);
      assert.ok(message.length <= 400, `${where} is ${message.length} characters long`);
      for (const name of answer.clientNames) {
        const codePoints = [...name];
        if (codePoints.length > 64) assert.ok(!message.includes(codePoints.slice(0, 65).join('')), `${where} holds more than 64 characters of a client's name`);
      }
    }
  }
}

/** A status the catalogue gives to a kind the suite may provoke on purpose (a model answering nonsense). */
export function assertNo5xx(answers: readonly Recorded[], allowedCodes: readonly string[] = []): void {
  const unexpected = answers.filter((a) => a.status >= 500 && !(a.code && allowedCodes.includes(a.code)));
  assert.deepEqual(
    unexpected.map((a) => `${a.label}: ${a.status} ${a.code}`),
    [],
    'a bad request got a 5xx',
  );
}

// ---------------------------------------------------------------- memory and cost

export interface Cost<T> {
  result: T;
  wallMs: number;
  /** CPU of this process (the service runs in it) and its child processes (ffmpeg), seconds. */
  cpuSeconds: number;
  /** Highest RSS of this process with its children while the work ran, above where it started, MiB. */
  peakRssGrowthMib: number;
}

/** What `work` costs the process that serves it: wall time, CPU seconds and peak RSS growth, ffmpeg counted. */
export async function costOf<T>(work: () => Promise<T>): Promise<Cost<T>> {
  const startMib = treeRssMb(process.pid);
  let peakMib = startMib;
  const sampler = setInterval(() => {
    peakMib = Math.max(peakMib, treeRssMb(process.pid));
  }, 10);
  const ticks = treeTicks(process.pid);
  const started = performance.now();
  try {
    const result = await work();
    return { result, wallMs: performance.now() - started, cpuSeconds: (treeTicks(process.pid) - ticks) / TICKS_PER_SECOND, peakRssGrowthMib: Math.max(peakMib, treeRssMb(process.pid)) - startMib };
  } finally {
    clearInterval(sampler);
  }
}

export interface SettledMemory {
  rss: number;
  /** Memory of Buffers and other ArrayBuffers still referenced from JavaScript: request bodies, parts, rasters. */
  arrayBuffers: number;
}

/** The memory limit of the pod (k8s/deployment.yaml), in bytes. */
function podMemoryLimit(): number {
  const deployment = parseYaml(readFileSync(path.join(projectRoot, 'k8s', 'deployment.yaml'), 'utf8')) as {
    spec: { template: { spec: { containers: { resources: { limits: { memory: string } } }[] } } };
  };
  const limit = deployment.spec.template.spec.containers[0]!.resources.limits.memory;
  const match = /^(\d+)(Mi|Gi)$/.exec(limit);
  if (!match) throw new Error(`cannot read the pod's memory limit "${limit}"`);
  return Number(match[1]) * 2 ** (match[2] === 'Gi' ? 30 : 20);
}

export const POD_MEMORY_LIMIT = podMemoryLimit();

/**
 * Memory after full garbage collections (gc is exposed at run time when the process was not started with
 * --expose-gc), and the highest RSS of this process with its children (ffmpeg), sampled every 20 ms from the
 * gauge's creation: what a container memory limit counts.
 */
export function memoryGauge(): { settled(): Promise<SettledMemory>; peakTreeRss(): number } {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  let peakMib = 0;
  setInterval(() => {
    peakMib = Math.max(peakMib, treeRssMb(process.pid));
  }, 20).unref();
  return {
    peakTreeRss: () => peakMib * 2 ** 20,
    async settled() {
      for (let i = 0; i < 4; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const { rss, arrayBuffers } = process.memoryUsage();
      return { rss, arrayBuffers };
    },
  };
}

/**
 * How far memory may stay above where a suite file started, once its bad requests are done. The baseline is taken
 * after every method has served a success, so that ONNX Runtime's arenas, libvips's threads and the JIT are warm.
 *
 * - RSS: 96 MiB. What stays after a file is mostly glibc keeping freed chunks (zlib's 64 KiB output chunks, libvips
 *   and ffmpeg-pipe buffers, video frames). `npm test` therefore runs with MALLOC_ARENA_MAX=2 (as the Dockerfile runs
 *   the service) and MALLOC_MMAP_THRESHOLD_=131072, which stops glibc from raising that threshold as large buffers
 *   come and go, so that buffers of 128 KiB and more go back to the system when freed: without them a loaded machine
 *   measured up to 122 MiB on the liveness file with heap and ArrayBuffers flat; with them 0–32 MiB per file, a
 *   plateau, not a trend. Three times that leaves room for the noise and still fails a leak of request-sized native
 *   memory.
 * - ArrayBuffers (Buffers still referenced from JavaScript: bodies, parts, rasters): 8 MiB; measured growth is under
 *   0.2 MiB. This one is exact, not blurred by the allocator: one retained 15 MB body, or one 250 x 250 raster kept
 *   per bad image, would exceed it.
 */
export const MEMORY_BOUNDS = { rss: 96 * 2 ** 20, arrayBuffers: 8 * 2 ** 20 };

/**
 * The last check of a suite file, on the service instance that took its bad requests: still serving, no 5xx (but
 * `allowedCodes`), no leak in any message, memory back within MEMORY_BOUNDS of `baseline`, and at least
 * `minimumBadRequests` distinct bad requests sent.
 */
export async function assertUnharmed(
  t: { diagnostic(message: string): void },
  run: { service: TestService; face: Buffer; ledger: Ledger; memory: ReturnType<typeof memoryGauge>; baseline: SettledMemory; minimumBadRequests: number },
): Promise<void> {
  await assertStillServing(run.service, run.face);
  assertNo5xx(run.ledger.answers);
  assertNoLeaks(run.ledger.answers);
  const after = await run.memory.settled();
  const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
  t.diagnostic(
    `${run.ledger.badRequests} distinct bad requests; RSS ${mib(run.baseline.rss)} → ${mib(after.rss)} MiB; ` +
      `ArrayBuffers ${mib(run.baseline.arrayBuffers)} → ${mib(after.arrayBuffers)} MiB`,
  );
  assert.ok(run.ledger.badRequests >= run.minimumBadRequests, `${run.ledger.badRequests} bad requests`);
  // The service, the test's client and ffmpeg together: the pod holds only the first and ffmpeg.
  const peak = run.memory.peakTreeRss();
  t.diagnostic(`peak RSS of the process with its children: ${mib(peak)} MiB (pod limit ${mib(POD_MEMORY_LIMIT)} MiB)`);
  assert.ok(peak < POD_MEMORY_LIMIT, `peak RSS ${mib(peak)} MiB passed the pod's memory limit`);
  assert.ok(after.rss - run.baseline.rss < MEMORY_BOUNDS.rss, `RSS grew by ${mib(after.rss - run.baseline.rss)} MiB`);
  assert.ok(after.arrayBuffers - run.baseline.arrayBuffers < MEMORY_BOUNDS.arrayBuffers, `ArrayBuffers grew by ${mib(after.arrayBuffers - run.baseline.arrayBuffers)} MiB`);
}

/**
 * Every file that sends bad input (it imports this module) ends by checking that the process, the service in it with
 * its ffmpeg children, never passed the pod's memory limit while the file ran.
 */
const wholeFile = memoryGauge();
after(() => {
  const peak = wholeFile.peakTreeRss();
  assert.ok(peak < POD_MEMORY_LIMIT, `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB passed the pod's memory limit`);
});

/** Errors nothing caught while a suite file ran: in the real server, each would have ended the process. */
const uncaught: unknown[] = [];
process.on('uncaughtException', (error) => uncaught.push(error));
process.on('unhandledRejection', (reason) => uncaught.push(reason));

/**
 * The service still answers as new after a file's bad requests: nothing was thrown past it (the process would be
 * gone), health is 0 on both routes, and a real extraction works.
 */
export async function assertStillServing(service: TestService, face: Buffer): Promise<void> {
  assert.deepEqual(
    uncaught.map((error) => String(error)),
    [],
    'an error escaped the service: the server process would have exited',
  );
  for (const area of ['pattern', 'liveness']) {
    const health = await fetch(`${service.url}/v1/face/${area}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 0, message: '' });
  }
  const extract = await fetch(`${service.url}/v1/face/pattern/extract`, { method: 'POST', body: face, headers: { 'content-type': 'image/jpeg' } });
  assert.equal(extract.status, 200, await extract.clone().text());
  assert.ok((await extract.arrayBuffer()).byteLength > 0);
}

// ---------------------------------------------------------------- raw HTTP

/** Any method (fetch refuses TRACE) and any path, sent as written (a URL would resolve its dot segments). */
export function exchange(
  baseUrl: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Response> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const sent = request({ hostname, port, method, path, headers: options.headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') headers.set(name, value);
        const bodyless = method === 'HEAD' || response.statusCode === 204;
        resolve(new Response(bodyless ? null : Buffer.concat(chunks), { status: response.statusCode!, headers }));
      });
    });
    sent.on('error', reject);
    sent.end(options.body);
  });
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  json: unknown;
  /** Milliseconds from connecting to the server closing the connection (or to the end of the answer when it stays open). */
  elapsedMs: number;
  closedByServer: boolean;
  /** HTTP answers on the connection: more than one when a pipelined request behind the first was served. */
  answers: number;
}

/** A request line and headers, ended by the blank line. */
export const requestHead = (method: string, path: string, headers: readonly string[] = []): string =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((header) => `${header}\r\n`).join('')}\r\n`;

/**
 * Writes `chunks` to a new connection, `intervalMs` apart (all at once for 0), and reads the answer off the socket;
 * gives up waiting `patienceMs` after connecting.
 */
export function rawExchange(baseUrl: string, chunks: readonly (Buffer | string)[], intervalMs = 0, patienceMs = 5000): Promise<RawAnswer> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(Number(port), '127.0.0.1');
    const received: Buffer[] = [];
    let closedByServer = true;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      closedByServer = false;
      socket.destroy();
    }, patienceMs);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(giveUp);
      clearInterval(timer);
      resolve({ ...parseAnswer(Buffer.concat(received)), elapsedMs: performance.now() - started, closedByServer });
    });
    let next = 0;
    const writeNext = (): void => {
      if (next < chunks.length && !socket.destroyed) socket.write(chunks[next++]!);
    };
    if (intervalMs === 0) while (next < chunks.length) writeNext();
    else timer = setInterval(writeNext, intervalMs);
  });
}

function parseAnswer(raw: Buffer): Pick<RawAnswer, 'status' | 'headers' | 'json' | 'answers'> {
  const answers = raw.toString('latin1').match(/^HTTP\/1\.1 \d{3} /gm)?.length ?? 0;
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) return { status: 0, headers: {}, json: undefined, answers };
  const [statusLine = '', ...lines] = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  const length = Number(headers['content-length']);
  const body = raw.subarray(headEnd + 4, Number.isInteger(length) ? headEnd + 4 + length : undefined).toString('utf8');
  let json: unknown;
  try {
    json = body ? JSON.parse(body) : undefined;
  } catch {
    json = undefined;
  }
  return { status: Number(statusLine.split(' ')[1]), headers, json, answers };
}

// ---------------------------------------------------------------- generated inputs

/**
 * A valid PNG of width × height black pixels (1-bit grey), a few hundred KB at most whatever its size: the zlib
 * stream repeats one sync-flushed deflate block of zeros, as test/helpers/zip.ts does for archives. sharp would
 * take about 10 s to encode the same picture.
 */
export function pngOfZeros(width: number, height: number): Buffer {
  const rowBytes = 1 + Math.ceil(width / 8);
  let remaining = rowBytes * height;
  const block = 1 << 20;
  const full = deflateRawSync(Buffer.alloc(block), { finishFlush: constants.Z_SYNC_FLUSH });
  const pieces: Buffer[] = [Buffer.from([0x78, 0x01])];
  for (; remaining >= block; remaining -= block) pieces.push(full);
  pieces.push(deflateRawSync(Buffer.alloc(remaining)));
  // Adler-32 of n zero bytes: a stays 1, b adds 1 per byte.
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((rowBytes * height) % 65521) * 65536 + 1) >>> 0);
  pieces.push(adler);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([1, 0, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', Buffer.concat(pieces)), chunk('IEND', Buffer.alloc(0))]);
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

/** A name of `length` characters that no message of the service could hold by chance. */
export const longName = (prefix: string, length = 1000): string => `${prefix}${'Ωz'.repeat(length)}`.slice(0, length);
