/**
 * Hostile requests, one class of issue 16 at a time, against the compiled service with its default settings: what
 * each answers, and what it costs the service (wall time, CPU seconds of the service and its ffmpeg children, peak
 * growth of their resident memory). Run it on two commits to compare a bound's cost before and after.
 *
 *   npm run bench:hostile [-- --only <case text> --no-build]
 */
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { greyJpeg, mjpegAvi } from '../test/helpers/avi.js';
import { multipart } from '../test/helpers/multipart.js';
import { TICKS_PER_SECOND, treeTicks } from './lib/cpu.js';
import { readBenchData, benchPhotos, selfie720 } from './lib/images.js';
import { treeRssMb } from './lib/rss.js';
import { runInfo, writeResults } from './lib/run-info.js';
import { buildService, startServiceProcess } from './lib/service-process.js';
import { sleep } from './lib/stats.js';
import { fixed, markdownTable } from './lib/table.js';

const { values: options } = parseArgs({
  options: {
    only: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
  },
});

interface Outcome {
  /** What the client got, in a few words. */
  answer: string;
  /** Anything else worth knowing about the answer. */
  notes?: string;
}

interface HostileCase {
  bound: string;
  name: string;
  run: (url: string) => Promise<Outcome>;
}

export interface CaseResult extends Outcome {
  bound: string;
  name: string;
  wallMs: number;
  /** CPU of the service and its children (ffmpeg), seconds. */
  cpuSeconds: number;
  /** Highest RSS of the service with its children during the case, above what it was before, MB. */
  peakRssGrowthMb: number;
}

// ---------------------------------------------------------------- measuring

async function measure(pid: number, hostile: HostileCase, url: string): Promise<CaseResult> {
  const restMb = treeRssMb(pid);
  let peakMb = restMb;
  const sampler = setInterval(() => {
    peakMb = Math.max(peakMb, treeRssMb(pid));
  }, 20);
  const ticks = treeTicks(pid);
  const started = performance.now();
  let outcome: Outcome;
  try {
    outcome = await hostile.run(url);
  } catch (error) {
    outcome = { answer: `the bench failed: ${(error as Error).message}` };
  }
  const wallMs = performance.now() - started;
  clearInterval(sampler);
  peakMb = Math.max(peakMb, treeRssMb(pid));
  return { bound: hostile.bound, name: hostile.name, ...outcome, wallMs, cpuSeconds: (treeTicks(pid) - ticks) / TICKS_PER_SECOND, peakRssGrowthMb: peakMb - restMb };
}

// ---------------------------------------------------------------- talking to the service

interface RawReply {
  text: string;
  /** Status of each HTTP answer on the connection, in order. */
  statuses: number[];
  /** Milliseconds from connecting until the server closed, or undefined when it kept the connection open. */
  closedAfterMs: number | undefined;
}

/** Writes `chunks` on a new connection, `intervalMs` apart, and reads whatever comes back for `patienceMs`. */
function raw(url: string, chunks: readonly (string | Buffer)[], intervalMs = 0, patienceMs = 3000): Promise<RawReply> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(Number(port), '127.0.0.1');
    const received: Buffer[] = [];
    let closedAfterMs: number | undefined;
    let next = 0;
    const timer = intervalMs > 0 ? setInterval(() => next < chunks.length && !socket.destroyed && socket.write(chunks[next++]!), intervalMs) : undefined;
    if (!timer) for (const chunk of chunks) socket.write(chunk);
    const done = (): void => {
      clearInterval(timer);
      clearTimeout(giveUp);
      const text = Buffer.concat(received).toString('latin1');
      resolve({ text, statuses: [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1])), closedAfterMs });
    };
    const giveUp = setTimeout(() => {
      socket.destroy();
      done();
    }, patienceMs);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => {});
    socket.on('end', () => {
      closedAfterMs = performance.now() - started;
      socket.destroy();
      done();
    });
  });
}

const head = (method: string, path: string, headers: readonly string[] = []): string =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;

async function describe(response: Response): Promise<{ answer: string; body: string }> {
  const body = await response.text();
  let code = '';
  try {
    code = (JSON.parse(body) as { code?: string }).code ?? '';
  } catch {
    // not JSON
  }
  return { answer: `${response.status}${code ? ` ${code}` : ''}`, body };
}

/** What a message shows that a message should not: control characters, U+FFFD, lone surrogates. */
function unprintable(message: string): string {
  const found: string[] = [];
  if (/[\u0000-\u001f\u007f-\u009f]/.test(message)) found.push('control characters');
  if (message.includes('\ufffd')) found.push('U+FFFD');
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(message)) found.push('a lone surrogate');
  return found.length ? `message holds ${found.join(', ')}` : 'message printable';
}

const folderPost = (url: string, parts: Parameters<typeof multipart>[0]): Promise<Response> => {
  const { body, contentType } = multipart(parts);
  return fetch(`${url}/v1/face/liveness/detect`, { method: 'POST', body, headers: { 'content-type': contentType } });
};

// ---------------------------------------------------------------- the cases

const selfie = await selfie720();
const face = await readBenchData(benchPhotos.lfw250);

const cases: HostileCase[] = [
  {
    bound: 'slow clients',
    name: 'six uploads that send 1 byte of a declared 200 kB body, then one good extract',
    async run(url) {
      const slow = Array.from({ length: 6 }, () => raw(url, [head('POST', '/v1/face/pattern/extract', ['Content-Type: image/jpeg', 'Content-Length: 200000']), 'x'], 0, 45_000));
      await sleep(500);
      const started = performance.now();
      const good = await describe(await fetch(`${url}/v1/face/pattern/extract`, { method: 'POST', body: selfie, headers: { 'content-type': 'image/jpeg' } }));
      const goodMs = performance.now() - started;
      const slowAnswers = await Promise.all(slow);
      return {
        answer: `good extract: ${good.answer} after ${fixed(goodMs)} ms`,
        notes: `slow uploads: ${slowAnswers.map((s) => `${s.statuses[0] ?? 'none'} at ${s.closedAfterMs === undefined ? 'open' : `${fixed(s.closedAfterMs / 1000, 1)} s`}`).join(', ')}`,
      };
    },
  },
  {
    bound: 'connection timeouts',
    name: 'an idle connection, headers at 1 byte/s, an idle keep-alive connection: when each is cut',
    async run(url) {
      const request = head('GET', '/v1/face/pattern/health');
      const [idle, trickle, keepAlive] = await Promise.all([
        raw(url, [], 0, 60_000),
        raw(url, request.split(''), 1000, 60_000),
        raw(url, [request], 0, 60_000),
      ]);
      const cut = (reply: RawReply): string => (reply.closedAfterMs === undefined ? 'not within 60 s' : `${fixed(reply.closedAfterMs / 1000, 1)} s (${reply.statuses.join(', ') || 'no answer'})`);
      return { answer: `idle: ${cut(idle)}; headers 1 byte/s: ${cut(trickle)}; keep-alive after an answer: ${cut(keepAlive)}` };
    },
  },
  {
    bound: 'request smuggling',
    name: 'GET /version with Transfer-Encoding: xchunked, a second request pipelined behind it',
    async run(url) {
      const reply = await raw(url, [head('GET', '/version', ['Transfer-Encoding: xchunked']) + head('GET', '/metrics')]);
      const swallowed = reply.statuses.length < 2 && reply.statuses[0] === 200;
      return {
        answer: `answers ${reply.statuses.join(', ') || 'none'}; ${reply.closedAfterMs === undefined ? 'connection kept open' : 'connection closed'}`,
        notes: swallowed ? 'the pipelined request was taken as the body' : reply.statuses.length < 2 ? 'the pipelined request was never served' : '',
      };
    },
  },
  {
    bound: 'request smuggling',
    name: 'GET /v1/face/pattern/health with a 5-byte body, a second request pipelined behind it',
    async run(url) {
      const reply = await raw(url, [`${head('GET', '/v1/face/pattern/health', ['Content-Length: 5'])}hello${head('GET', '/version')}`]);
      return { answer: `answers ${reply.statuses.join(', ') || 'none'}; ${reply.closedAfterMs === undefined ? 'connection kept open' : 'connection closed'}` };
    },
  },
  {
    bound: 'client names',
    name: 'compare with a part named with ESC, NUL and BEL',
    async run(url) {
      const { body, contentType } = multipart([{ name: 'a\u001b[31m\u0000\u0007b', body: 'x' }]);
      const reply = await describe(await fetch(`${url}/v1/face/pattern/compare`, { method: 'POST', body, headers: { 'content-type': contentType } }));
      return { answer: reply.answer, notes: unprintable((JSON.parse(reply.body) as { message: string }).message) };
    },
  },
  {
    bound: 'client names',
    name: 'compare_n with a broken candidate: its RFC 5987 filename holds CR and LF; its filename has an emoji across the 64th character',
    async run(url) {
      const template = Buffer.from(await (await fetch(`${url}/v1/face/pattern/extract`, { method: 'POST', body: face, headers: { 'content-type': 'image/jpeg' } })).arrayBuffer());
      const boundary = 'hostile-boundary';
      const answers: string[] = [];
      const notes: string[] = [];
      for (const filename of ["filename*=UTF-8''a%0D%0AInjected%3A%201%1B%5B31m", `filename="${'a'.repeat(63)}\u{1f600}tail"`]) {
        const body = Buffer.concat([
          Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="template_1"\r\n\r\n`),
          template,
          Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="templates_n"; ${filename}\r\n\r\nbroken\r\n--${boundary}--\r\n`),
        ]);
        const reply = await describe(await fetch(`${url}/v1/face/pattern/compare_n`, { method: 'POST', body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }));
        answers.push(reply.answer);
        notes.push(unprintable((JSON.parse(reply.body) as { message: string }).message));
      }
      return { answer: answers.join(', '), notes: notes.join('; ') };
    },
  },
  {
    bound: 'client names',
    name: 'compare with a part name of invalid UTF-8 bytes',
    async run(url) {
      const boundary = 'hostile-boundary';
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="`),
        Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
        Buffer.from(`"\r\n\r\nx\r\n--${boundary}--\r\n`),
      ]);
      const reply = await describe(await fetch(`${url}/v1/face/pattern/compare`, { method: 'POST', body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }));
      return { answer: reply.answer, notes: unprintable((JSON.parse(reply.body) as { message: string }).message) };
    },
  },
  {
    bound: 'liveness payload and answer size',
    name: 'a folder whose payload analyses are 1.5 M numbers',
    async run(url) {
      const payload = `{"analyses":[${Array.from({ length: 1_500_000 }, () => '1').join(',')}]}`;
      return describe(await folderPost(url, [{ name: 'photo', contentType: 'image/jpeg', body: face }, { name: 'payload', contentType: 'application/json', body: payload }]));
    },
  },
  {
    bound: 'liveness payload and answer size',
    name: 'a folder whose payload folder:meta_data holds 1.5 M numbers',
    async run(url) {
      const payload = `{"folder:meta_data":{"n":[${Array.from({ length: 1_500_000 }, () => '1').join(',')}]}}`;
      return describe(await folderPost(url, [{ name: 'photo', contentType: 'image/jpeg', body: face }, { name: 'payload', contentType: 'application/json', body: payload }]));
    },
  },
  {
    bound: 'liveness payload and answer size',
    name: 'a folder of one 720p selfie asking for 5,000 analyses with the best shot',
    async run(url) {
      const analyses = Array.from({ length: 5000 }, () => ({ type: 'quality', params: { extract_best_shot: true } }));
      return describe(await folderPost(url, [{ name: 'photo', contentType: 'image/jpeg', body: selfie }, { name: 'payload', contentType: 'application/json', body: JSON.stringify({ analyses }) }]));
    },
  },
  {
    bound: 'ffmpeg',
    name: 'a folder with an 8 MB MJPEG AVI of two 16000×16000 frames',
    async run(url) {
      const frame = await greyJpeg(16_000, 16_000);
      const reply = await describe(await folderPost(url, [{ name: 'clip', contentType: 'video/x-msvideo', body: mjpegAvi([frame, frame], 16_000, 16_000) }]));
      const folder = JSON.parse(reply.body) as { analyses?: { resolution_status: string; error_message: string | null }[] };
      const analysis = folder.analyses?.[0];
      return { answer: analysis ? `${reply.answer}, analysis ${analysis.resolution_status}` : reply.answer, notes: analysis?.error_message ?? '' };
    },
  },
  {
    bound: 'unsigned templates',
    name: 'GET /version and health: do they say whether templates are signed',
    async run(url) {
      const version = await (await fetch(`${url}/version`)).text();
      const health = await (await fetch(`${url}/v1/face/pattern/health`)).text();
      return { answer: /sign/i.test(version + health) ? 'reported' : 'not reported', notes: `version: ${version.slice(0, 120)}; health: ${health}` };
    },
  },
];

// ---------------------------------------------------------------- run

if (!options['no-build']) buildService();
const selected = cases.filter((c) => !options.only || `${c.bound} ${c.name}`.includes(options.only));
const results: CaseResult[] = [];
for (const hostile of selected) {
  // A fresh service per case: what one case leaves in the allocator is not charged to the next.
  const service = await startServiceProcess();
  try {
    await sleep(500);
    const result = await measure(service.pid, hostile, service.url);
    results.push(result);
    console.log(`${result.bound} — ${result.name}: ${result.answer}`);
  } finally {
    await service.stop();
  }
}

console.log(
  markdownTable(
    ['bound', 'hostile request', 'answer', 'wall', 'CPU', 'peak RSS growth (with ffmpeg)', 'notes'],
    results.map((r) => [r.bound, r.name, r.answer, `${fixed(r.wallMs / 1000, 2)} s`, `${fixed(r.cpuSeconds, 2)} s`, `${fixed(r.peakRssGrowthMb, 0)} MB`, r.notes ?? '']),
  ),
);
// A partial run (--only) prints its table but keeps the results of the last full run.
if (!options.only) console.log(`results: ${await writeResults('hostile', { run: runInfo({}), results })}`);
