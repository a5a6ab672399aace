/**
 * Bad requests at the HTTP level: wrong methods on every route, unknown routes, Content-Types and encodings the
 * routes do not take, bodies over the limits with and without Content-Length, bodies and headers that trickle in,
 * and uploads the client abandons. The service answers each with its code and keeps serving.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { needsData, readData } from '../helpers/data.js';
import { multipart } from '../helpers/multipart.js';
import { type TestService, startService } from '../helpers/service.js';
import {
  accepted,
  assertNo5xx,
  assertNoLeaks,
  assertStillServing,
  assertUnharmed,
  exchange,
  type Expected,
  Ledger,
  memoryGauge,
  rawExchange,
  requestHead,
  type SettledMemory,
} from '../helpers/bad-input.js';

const face = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');

const getRoutes = ['/version', '/openapi.json', '/metrics', '/v1/face/pattern/health', '/v1/face/liveness/health'];
const postRoutes = [
  '/v1/face/pattern/extract',
  '/v1/face/pattern/compare',
  '/v1/face/pattern/verify',
  '/v1/face/pattern/extract_and_compare',
  '/v1/face/pattern/compare_n',
  '/v1/face/pattern/verify_n',
  '/v1/face/pattern/extract_and_compare_n',
  '/v1/face/liveness/detect',
];
const areaCode = (path: string, suffix: string): string => {
  const lower = path.toLowerCase();
  if (lower.startsWith('/v1/face/pattern/')) return `BPE-${suffix}`;
  if (lower.startsWith('/v1/face/liveness/')) return `LDE-${suffix}`;
  return `SVC-${suffix}`;
};
/** The body-deadline code has its own number in each area. */
const timeoutCode = (path: string): string => (path.startsWith('/v1/face/liveness/') ? 'LDE-002009' : 'BPE-002008');

describe('bad requests at the HTTP level', needsData, () => {
  const ledger = new Ledger();
  const memory = memoryGauge();
  let service: TestService;
  let baseline: SettledMemory;

  before(async () => {
    service = await startService();
    await ledger.check('warm-up: extract', fetch(`${service.url}/v1/face/pattern/extract`, { method: 'POST', body: face, headers: { 'content-type': 'image/jpeg' } }), accepted);
    await ledger.check('warm-up: liveness', fetch(`${service.url}/v1/face/liveness/detect`, { method: 'POST', body: face, headers: { 'content-type': 'image/jpeg' } }), accepted);
    baseline = await memory.settled();
  });
  after(() => service.close());

  it('answers every method a route does not serve with the area code and an Allow header', async () => {
    const check = async (path: string, method: string, allow: string, body?: Buffer): Promise<void> => {
      const response = await exchange(service.url, method, path, body ? { body, headers: { 'content-type': 'image/jpeg' } } : {});
      assert.equal(response.headers.get('allow'), allow, `${method} ${path}`);
      const expected: Expected = method === 'HEAD' ? { status: 400 } : { code: areaCode(path, '002002'), detail: new RegExp(`${method} is not served here`) };
      await ledger.check(`${method} ${path}${body ? ' with a body' : ''}`, response, expected);
    };
    for (const path of getRoutes) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND']) await check(path, method, 'GET, HEAD');
    }
    for (const path of postRoutes) {
      for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND']) await check(path, method, 'POST');
      await check(path, 'PUT', 'POST', face);
    }
  });

  it('answers unknown routes with 404 SVC-004004, whatever the method', async () => {
    const paths = [
      '/',
      '/v1',
      '/v1/face',
      '/v1/face/pattern',
      '/v1/face/pattern/',
      '/v1/face/pattern/extract/more',
      '/v1/face/pattern/extract%00',
      '/v1/face/pattern/extract;jsessionid=1',
      '/v1/face/pattern/%',
      '/v1/face/pattern//health',
      '/v1/face/pattern/../liveness/detect',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/v2/face/pattern/extract',
      '/v1/face/liveness/detect.json',
      '/models/manifest.json',
      '/docs/openapi.json',
      '/node_modules/express/package.json',
      '/.env',
      `/${'x'.repeat(8000)}`,
    ];
    for (const path of paths) {
      for (const method of ['GET', 'POST', 'DELETE']) {
        await ledger.check(`${method} ${path.slice(0, 48)}`, exchange(service.url, method, path), { code: 'SVC-004004' });
      }
    }
  });

  it('answers a route written in other letter cases with the errors of its own area', async () => {
    const cases: [string, string, Record<string, string>, Buffer | string, string][] = [
      ['POST', '/V1/FACE/PATTERN/EXTRACT', { 'content-type': 'text/plain' }, 'x', 'BPE-002001'],
      ['POST', '/v1/face/PATTERN/extract', { 'content-type': 'image/jpeg' }, '', 'BPE-002003'],
      ['POST', '/v1/face/Pattern/Compare', { 'content-type': 'multipart/form-data' }, 'x', 'BPE-002001'],
      ['POST', '/V1/Face/Liveness/Detect', { 'content-type': 'text/plain' }, 'x', 'LDE-002001'],
      ['PUT', '/V1/FACE/PATTERN/HEALTH', {}, '', 'BPE-002002'],
      ['DELETE', '/V1/FACE/LIVENESS/HEALTH', {}, '', 'LDE-002002'],
      ['DELETE', '/Version', {}, '', 'SVC-002002'],
    ];
    for (const [method, path, headers, body, code] of cases) {
      await ledger.check(`${method} ${path}`, exchange(service.url, method, path, { headers, body }), { code });
    }
  });

  it('answers a Content-Type a route does not take with the area code', async () => {
    for (const path of postRoutes) {
      await ledger.check(`no Content-Type → ${path}`, exchange(service.url, 'POST', path, { body: face }), { code: areaCode(path, '002001') });
      await ledger.check(`Content-Type text/plain → ${path}`, exchange(service.url, 'POST', path, { body: face, headers: { 'content-type': 'text/plain' } }), { code: areaCode(path, '002001') });
      await ledger.check(`Content-Type image/* → ${path}`, exchange(service.url, 'POST', path, { body: face, headers: { 'content-type': 'image/*' } }), { code: areaCode(path, '002001') });
    }
    for (const path of postRoutes.filter((p) => p.startsWith('/v1/face/pattern/') && !p.endsWith('/extract'))) {
      await ledger.check(`a JPEG body → ${path}`, exchange(service.url, 'POST', path, { body: face, headers: { 'content-type': 'image/jpeg' } }), { code: 'BPE-002001' });
    }
    const { body, contentType } = multipart([{ name: 'image', contentType: 'image/jpeg', body: face }]);
    await ledger.check('a multipart body → extract', exchange(service.url, 'POST', '/v1/face/pattern/extract', { body, headers: { 'content-type': contentType } }), { code: 'BPE-002001' });
  });

  it('refuses compressed bodies and transfer encodings other than base64; takes identity, binary, 8bit and 7bit', async () => {
    const single = ['/v1/face/pattern/extract', '/v1/face/liveness/detect'];
    const compressed: [string, Buffer][] = [
      ['gzip', gzipSync(face)],
      ['deflate', deflateSync(face)],
      ['br', brotliCompressSync(face)],
      ['compress', face],
    ];
    for (const path of single) {
      for (const [encoding, body] of compressed) {
        const sent = exchange(service.url, 'POST', path, { body, headers: { 'content-type': 'image/jpeg', 'content-encoding': encoding } });
        await ledger.check(`Content-Encoding ${encoding} → ${path}`, sent, { code: areaCode(path, '002001'), detail: /compressed/ });
      }
      for (const transfer of ['quoted-printable', 'x-uuencode', 'base32']) {
        const sent = exchange(service.url, 'POST', path, { body: face, headers: { 'content-type': 'image/jpeg', 'content-transfer-encoding': transfer } });
        await ledger.check(`Content-Transfer-Encoding ${transfer} → ${path}`, sent, { code: areaCode(path, '002001'), detail: /Content-Transfer-Encoding/ });
      }
      for (const [header, value] of [
        ['content-encoding', 'identity'],
        ['content-transfer-encoding', 'binary'],
        ['content-transfer-encoding', '8bit'],
        ['content-transfer-encoding', '7bit'],
      ] as const) {
        await ledger.check(`${header} ${value} → ${path}`, exchange(service.url, 'POST', path, { body: face, headers: { 'content-type': 'image/jpeg', [header]: value } }), accepted);
      }
    }
  });

  it('answers 413 at once, and closes, for a body declared over the limit; 413 for one that turns out over it', async () => {
    for (const [path, type] of [
      ['/v1/face/pattern/extract', 'image/jpeg'],
      ['/v1/face/liveness/detect', 'image/png'],
      ['/v1/face/pattern/compare', 'multipart/form-data; boundary=b'],
      ['/v1/face/pattern/compare_n', 'multipart/form-data; boundary=b'],
      ['/v1/face/liveness/detect', 'multipart/form-data; boundary=b'],
    ] as const) {
      const answer = await rawExchange(service.url, [requestHead('POST', path, [`Content-Type: ${type}`, 'Content-Length: 1000000000']), face]);
      ledger.recordRaw(`a body declared as 1 GB (${type.split(';')[0]}) → ${path}`, answer);
      assert.equal(answer.status, 413, JSON.stringify(answer));
      assert.equal((answer.json as { code: string }).code, areaCode(path, '002006'));
      assert.ok(answer.closedByServer && answer.elapsedMs < 1000, `closed: ${answer.closedByServer}, after ${answer.elapsedMs.toFixed(0)} ms`);
    }
    // Chunked, with no length, 15 MB: read up to the limit, then refused.
    const huge = Buffer.concat([face, Buffer.alloc(15_000_000 - face.length)]);
    for (const path of ['/v1/face/pattern/extract', '/v1/face/liveness/detect']) {
      const sent = fetch(`${service.url}${path}`, { method: 'POST', body: Readable.toWeb(Readable.from([huge])) as ReadableStream, headers: { 'content-type': 'image/jpeg' }, duplex: 'half' } as RequestInit);
      await ledger.check(`a chunked 15 MB body → ${path}`, sent, { code: areaCode(path, '002006') });
    }
  });

  it('answers 400 and closes for framing that could smuggle a request, and never serves the request hidden behind it', async () => {
    const before = await (await fetch(`${service.url}/metrics`)).text();
    const extractsBefore = Number(/^http_requests_total\{route="\/v1\/face\/pattern\/extract",method="POST",status_code="200"\} (\d+)$/m.exec(before)?.[1] ?? 0);
    const hidden = `${requestHead('POST', '/v1/face/pattern/extract', ['Content-Type: image/jpeg', `Content-Length: ${face.length}`])}${face.toString('latin1')}`;
    // undefined: Node's own parser answers 400 (without a body) before the app sees the request.
    const cases: [string, string, string[], string, string | undefined][] = [
      ['Transfer-Encoding: xchunked on GET', '/version', ['Transfer-Encoding: xchunked'], '', 'SVC-002007'],
      ['Transfer-Encoding: xchunked on a health method', '/v1/face/pattern/health', ['Transfer-Encoding: xchunked'], '', 'BPE-002007'],
      ['Transfer-Encoding: xchunked on POST', '/v1/face/pattern/extract', ['Content-Type: image/jpeg', 'Transfer-Encoding: xchunked'], '', 'BPE-002007'],
      ['Transfer-Encoding: chunked, identity on POST', '/v1/face/pattern/extract', ['Content-Type: image/jpeg', 'Transfer-Encoding: chunked, identity'], '', undefined],
      ['Transfer-Encoding: gzip, chunked on POST', '/v1/face/liveness/detect', ['Content-Type: image/jpeg', 'Transfer-Encoding: gzip, chunked'], '0\r\n\r\n', 'LDE-002007'],
      ['a body on GET', '/v1/face/liveness/health', ['Content-Length: 5'], 'hello', 'LDE-002007'],
      ['a chunked body on GET', '/metrics', ['Transfer-Encoding: chunked'], '5\r\nhello\r\n0\r\n\r\n', 'SVC-002007'],
      ['a body on DELETE', '/v1/face/pattern/extract', ['Content-Length: 5'], 'hello', 'BPE-002007'],
    ];
    for (const [label, path, headers, body, code] of cases) {
      const method = label.includes('DELETE') ? 'DELETE' : label.includes('POST') ? 'POST' : 'GET';
      const answer = await rawExchange(service.url, [`${requestHead(method, path, headers)}${body}${hidden}`], 0, 3000);
      ledger.recordRaw(`${label}, an extract pipelined behind it`, answer);
      assert.equal(answer.status, 400, `${label}: ${JSON.stringify(answer)}`);
      assert.equal((answer.json as { code: string } | undefined)?.code, code, label);
      assert.equal(answer.headers.connection, 'close', label);
      assert.equal(answer.answers, 1, `${label}: the request behind it was answered`);
      assert.ok(answer.closedByServer && answer.elapsedMs < 1000, `${label}: closed ${answer.closedByServer}, after ${answer.elapsedMs.toFixed(0)} ms`);
    }
    const after = await (await fetch(`${service.url}/metrics`)).text();
    assert.equal(Number(/^http_requests_total\{route="\/v1\/face\/pattern\/extract",method="POST",status_code="200"\} (\d+)$/m.exec(after)?.[1] ?? 0), extractsBefore, 'no hidden extract was served');
    assert.match(after, new RegExp(`^face_api_rejected_requests_total\\{reason="bad_framing"\\} ${cases.filter((c) => c[4]).length}$`, 'm'));
    // Chunked bodies with a plain Content-Length of 0 on GET are framed soundly, and answered.
    await ledger.check('GET with Content-Length: 0', exchange(service.url, 'GET', '/version', { headers: { 'content-length': '0' } }), accepted);
  });

  it('does not fall over when clients abandon their uploads half way', async () => {
    const { body, contentType } = multipart([{ name: 'template_1', body: face }, { name: 'templates_n', filename: 'a.bin', body: Buffer.alloc(200_000, 1) }]);
    const uploads: [string, string, Buffer][] = [
      ['/v1/face/pattern/extract', 'image/jpeg', face],
      ['/v1/face/pattern/compare_n', contentType, body],
      ['/v1/face/liveness/detect', contentType, body],
      ['/v1/face/liveness/detect', 'image/jpeg', face],
    ];
    for (const [path, type, bytes] of uploads) {
      const socket = connect(Number(new URL(service.url).port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${bytes.length}\r\n\r\n`);
      socket.write(bytes.subarray(0, bytes.length >> 1));
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    await assertStillServing(service, face);
  });

  it('keeps serving: health 0, no 5xx, no leaks, memory back near where it started', (t) =>
    assertUnharmed(t, { service, face, ledger, memory, baseline, minimumBadRequests: 200 }));
});

describe('bodies over MAX_IMAGE_BYTES once decoded', needsData, () => {
  it('answers 413 for a base64 or raw image within the body allowance but over the image limit', async () => {
    const ledger = new Ledger();
    const service = await startService({ MAX_IMAGE_BYTES: '20000' });
    try {
      const over = Buffer.concat([face, Buffer.alloc(21_000 - face.length)]);
      for (const path of ['/v1/face/pattern/extract', '/v1/face/liveness/detect']) {
        const base64 = fetch(`${service.url}${path}`, { method: 'POST', body: over.toString('base64'), headers: { 'content-type': 'image/jpeg', 'content-transfer-encoding': 'base64' } });
        await ledger.check(`base64 of 21,000 bytes → ${path}`, base64, { code: areaCode(path, '002006'), detail: /exceeds 20000 bytes/ });
        const raw = fetch(`${service.url}${path}`, { method: 'POST', body: over, headers: { 'content-type': 'image/jpeg' } });
        await ledger.check(`21,000 raw bytes → ${path}`, raw, { code: areaCode(path, '002006'), detail: /exceeds 20000 bytes/ });
      }
      assertNo5xx(ledger.answers);
      assertNoLeaks(ledger.answers);
    } finally {
      await service.close();
    }
  });
});

describe('bodies and headers that trickle in', needsData, () => {
  const ledger = new Ledger();
  let service: TestService;
  before(async () => {
    service = await startService({ BODY_TIMEOUT_MS: '300' });
  });
  after(() => service.close());

  it('answers 408 and closes the connection when a body is not in within BODY_TIMEOUT_MS, while serving everyone else', async () => {
    const { body: multipartBody, contentType } = multipart([{ name: 'bio_feature', body: face }, { name: 'bio_template', body: face }]);
    const chunked = chunksOf(face, 100).map((c) => Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]));
    const trickles: [string, string, string[], Buffer[]][] = [
      ['a JPEG, 100 bytes every 50 ms', '/v1/face/pattern/extract', ['Content-Type: image/jpeg', `Content-Length: ${face.length}`], chunksOf(face, 100)],
      ['a chunked JPEG, 100 bytes every 50 ms', '/v1/face/pattern/extract', ['Content-Type: image/jpeg', 'Transfer-Encoding: chunked'], chunked],
      ['a declared body that never comes', '/v1/face/pattern/extract', ['Content-Type: image/jpeg', 'Content-Length: 5000'], []],
      ['a multipart body, 100 bytes every 50 ms', '/v1/face/pattern/compare', [`Content-Type: ${contentType}`, `Content-Length: ${multipartBody.length}`], chunksOf(multipartBody, 100)],
      ['a 1:N multipart body, 100 bytes every 50 ms', '/v1/face/pattern/compare_n', [`Content-Type: ${contentType}`, `Content-Length: ${multipartBody.length}`], chunksOf(multipartBody, 100)],
      ['a liveness image, 100 bytes every 50 ms', '/v1/face/liveness/detect', ['Content-Type: image/jpeg', `Content-Length: ${face.length}`], chunksOf(face, 100)],
      ['a liveness folder, 100 bytes every 50 ms', '/v1/face/liveness/detect', [`Content-Type: ${contentType}`, `Content-Length: ${multipartBody.length}`], chunksOf(multipartBody, 100)],
    ];
    const slow = Promise.all(trickles.map(([, path, headers, chunks]) => rawExchange(service.url, [requestHead('POST', path, headers), ...chunks], 50)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const healthStarted = performance.now();
    assert.equal((await fetch(`${service.url}/v1/face/pattern/health`)).status, 200);
    assert.ok(performance.now() - healthStarted < 250, 'health answers while bodies trickle in');
    const answers = await slow;
    trickles.forEach(([label, path], i) => {
      const answer = answers[i]!;
      ledger.recordRaw(`${label} → ${path}`, answer);
      assert.equal(answer.status, 408, `${label}: ${JSON.stringify(answer)}`);
      assert.equal((answer.json as { code: string }).code, timeoutCode(path));
      assert.equal(answer.headers.connection, 'close');
      assert.ok(answer.closedByServer && answer.elapsedMs < 300 + 1500, `${label}: closed after ${answer.elapsedMs.toFixed(0)} ms`);
    });
    assertNo5xx(ledger.answers);
    assertNoLeaks(ledger.answers);
    await assertStillServing(service, face);
  });

  it('cuts connections when the configured timeouts say: headers trickling or never finished (408 from Node), idle, idle after an answer', async () => {
    const headersTimeoutMs = 400;
    const keepAliveTimeoutMs = 300;
    const timed = await startService({ HEADERS_TIMEOUT_MS: String(headersTimeoutMs), KEEP_ALIVE_TIMEOUT_MS: String(keepAliveTimeoutMs) });
    try {
      await fetch(`${timed.url}/v1/face/liveness/health`);
      const byteByByte = rawExchange(timed.url, requestHead('POST', '/v1/face/pattern/extract', ['Content-Type: image/jpeg']).split(''), 60, 3000);
      const unfinished = rawExchange(timed.url, ['POST /v1/face/pattern/extract HTTP/1.1\r\nHost: 127.0.0.1\r\n'], 0, 3000);
      const silent = rawExchange(timed.url, [], 0, 3000);
      const keptAlive = rawExchange(timed.url, [requestHead('GET', '/v1/face/pattern/health')], 0, 3000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const healthStarted = performance.now();
      assert.equal((await fetch(`${timed.url}/v1/face/liveness/health`)).status, 200);
      assert.ok(performance.now() - healthStarted < 250, 'health answers while headers trickle in');
      // Node checks its timeouts every tenth of the headers timeout here (every second by default, not every 30 s).
      const slack = 250;
      for (const [label, answer] of [
        ['a request sent a byte every 60 ms', await byteByByte],
        ['headers never finished', await unfinished],
      ] as const) {
        ledger.recordRaw(`${label} (Node's headers timeout)`, answer);
        assert.equal(answer.status, 408, `${label}: ${JSON.stringify(answer)}`);
        assert.ok(answer.closedByServer && answer.elapsedMs >= headersTimeoutMs && answer.elapsedMs < headersTimeoutMs + slack, `${label}: closed after ${answer.elapsedMs.toFixed(0)} ms`);
      }
      const idle = await silent;
      assert.ok(idle.closedByServer && idle.elapsedMs >= headersTimeoutMs && idle.elapsedMs < headersTimeoutMs + slack, `a silent connection closed after ${idle.elapsedMs.toFixed(0)} ms`);
      // The Keep-Alive header tells the client the timeout; Node waits a second more, so that the client closes first.
      const answered = await keptAlive;
      assert.equal(answered.status, 200);
      assert.equal(answered.headers['keep-alive'], 'timeout=0');
      const idleAfterAnswer = keepAliveTimeoutMs + 1000;
      assert.ok(answered.closedByServer && answered.elapsedMs >= idleAfterAnswer && answered.elapsedMs < idleAfterAnswer + slack, `an idle kept-alive connection closed after ${answered.elapsedMs.toFixed(0)} ms`);
    } finally {
      await timed.close();
    }
  });
});

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}
