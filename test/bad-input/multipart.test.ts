/**
 * Malformed multipart bodies, sent to every multipart method: the six matching methods and the liveness folder.
 * Each method starts from a valid request of real photos and templates, which each case breaks in one way.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync, deflateSync } from 'node:zlib';
import { base64Allowance } from '../../src/http/body.js';
import { needsData, readData } from '../helpers/data.js';
import { multipart, type RawPart } from '../helpers/multipart.js';
import { postImage, type TestService, startService } from '../helpers/service.js';
import {
  accepted,
  assertNo5xx,
  assertNoLeaks,
  assertStillServing,
  assertUnharmed,
  type Expected,
  Ledger,
  longName,
  memoryGauge,
  rawExchange,
  requestHead,
  type SettledMemory,
} from '../helpers/bad-input.js';

const face = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');
const image = (name: string, filename?: string): RawPart => ({ name, body: face, contentType: 'image/jpeg', ...(filename ? { filename } : {}) });

interface Method {
  name: string;
  path: string;
  /** The code prefix of the method's area. */
  area: 'BPE' | 'LDE';
  /** A complete, valid request. */
  parts: RawPart[];
  /** Each required part, and the code its absence gets. */
  required: [name: string, code: string][];
  /** Parts that may appear only once. */
  single: string[];
  /** A repeated part that must carry a filename. */
  named?: string;
  /** Any part the method does not take is refused; a liveness folder takes any name as a media key. */
  refusesUnknownParts: boolean;
  maxParts: number;
}

function methods(template: Buffer): Method[] {
  const templatePart = (name: string, filename?: string): RawPart => ({ name, body: template, ...(filename ? { filename } : {}) });
  return [
    {
      name: 'compare',
      path: '/v1/face/pattern/compare',
      area: 'BPE',
      parts: [templatePart('bio_feature'), templatePart('bio_template')],
      required: [['bio_feature', 'BPE-002004'], ['bio_template', 'BPE-002004']],
      single: ['bio_feature', 'bio_template'],
      refusesUnknownParts: true,
      maxParts: 4,
    },
    {
      name: 'verify',
      path: '/v1/face/pattern/verify',
      area: 'BPE',
      parts: [image('sample'), templatePart('bio_template')],
      required: [['sample', 'BPE-002003'], ['bio_template', 'BPE-002004']],
      single: ['sample', 'bio_template'],
      refusesUnknownParts: true,
      maxParts: 4,
    },
    {
      name: 'extract_and_compare',
      path: '/v1/face/pattern/extract_and_compare',
      area: 'BPE',
      parts: [image('sample_1'), image('sample_2')],
      required: [['sample_1', 'BPE-002003'], ['sample_2', 'BPE-002003']],
      single: ['sample_1', 'sample_2'],
      refusesUnknownParts: true,
      maxParts: 4,
    },
    {
      name: 'compare_n',
      path: '/v1/face/pattern/compare_n',
      area: 'BPE',
      parts: [templatePart('template_1'), templatePart('templates_n', 'a.bin'), templatePart('templates_n', 'b.bin')],
      required: [['template_1', 'BPE-002004'], ['templates_n', 'BPE-002004']],
      single: ['template_1'],
      named: 'templates_n',
      refusesUnknownParts: true,
      maxParts: 20_001,
    },
    {
      name: 'verify_n',
      path: '/v1/face/pattern/verify_n',
      area: 'BPE',
      parts: [image('sample_1'), templatePart('templates_n', 'a.bin')],
      required: [['sample_1', 'BPE-002003'], ['templates_n', 'BPE-002004']],
      single: ['sample_1'],
      named: 'templates_n',
      refusesUnknownParts: true,
      maxParts: 20_001,
    },
    {
      name: 'extract_and_compare_n',
      path: '/v1/face/pattern/extract_and_compare_n',
      area: 'BPE',
      parts: [image('sample_1'), image('samples_n', 'a.jpg')],
      required: [['sample_1', 'BPE-002003'], ['samples_n', 'BPE-002003']],
      single: ['sample_1'],
      named: 'samples_n',
      refusesUnknownParts: true,
      maxParts: 11,
    },
    {
      name: 'liveness folder',
      path: '/v1/face/liveness/detect',
      area: 'LDE',
      parts: [image('selfie', 'selfie.jpg'), { name: 'payload', body: JSON.stringify({ analyses: [{ type: 'quality' }] }) }],
      required: [['selfie', 'LDE-002004']],
      single: ['payload', 'selfie'],
      refusesUnknownParts: false,
      maxParts: 11,
    },
  ];
}

interface Sent {
  body: Buffer | Readable;
  contentType: string;
  headers?: Record<string, string>;
}

const boundaryOf = (contentType: string): string => contentType.slice(contentType.indexOf('boundary=') + 'boundary='.length);

/** The body without its closing delimiter, ready for raw parts to be appended. */
function open(parts: RawPart[]): { body: Buffer; boundary: string; contentType: string } {
  const { body, contentType } = multipart(parts);
  const boundary = boundaryOf(contentType);
  return { body: body.subarray(0, body.length - `--${boundary}--\r\n`.length), boundary, contentType };
}

function withRaw(parts: RawPart[], raw: (boundary: string) => string): Sent {
  const { body, boundary, contentType } = open(parts);
  return { body: Buffer.concat([body, Buffer.from(raw(boundary), 'utf8'), Buffer.from(`--${boundary}--\r\n`)]), contentType };
}

const sent = (parts: RawPart[], headers?: Record<string, string>): Sent => ({ ...multipart(parts), ...(headers ? { headers } : {}) });

function post(baseUrl: string, path: string, request: Sent): Promise<Response> {
  const init: RequestInit & { duplex?: 'half' } = {
    method: 'POST',
    body: request.body instanceof Readable ? (Readable.toWeb(request.body) as ReadableStream) : request.body,
    headers: { 'content-type': request.contentType, ...request.headers },
  };
  if (request.body instanceof Readable) init.duplex = 'half';
  return fetch(`${baseUrl}${path}`, init);
}

interface Case {
  label: string;
  request: Sent;
  expect: Expected;
  clientNames?: string[];
}

/** Every way this suite breaks a multipart request of `method`. */
function cases(method: Method): Case[] {
  const code = (suffix: string, detail?: RegExp): Expected => ({ code: `${method.area}-${suffix}`, ...(detail ? { detail } : {}) });
  const valid = multipart(method.parts);
  const { body: unclosed, contentType } = open(method.parts);
  const [firstRequired] = method.required[0]!;
  const first = method.parts.find((p) => p.name === firstRequired)!;
  const others = method.parts.filter((p) => p !== first);
  const list: Case[] = [
    { label: 'Content-Type multipart/form-data without a boundary', request: { body: valid.body, contentType: 'multipart/form-data' }, expect: code('002001') },
    { label: 'an empty boundary', request: { body: valid.body, contentType: 'multipart/form-data; boundary=' }, expect: code('002001') },
    { label: 'Content-Type multipart/mixed', request: { body: valid.body, contentType: valid.contentType.replace('form-data', 'mixed') }, expect: code('002001') },
    { label: 'Content-Type application/x-www-form-urlencoded', request: { body: Buffer.from('a=b'), contentType: 'application/x-www-form-urlencoded' }, expect: code('002001') },
    { label: 'a gzip-compressed body', request: { body: gzipSync(valid.body), contentType, headers: { 'content-encoding': 'gzip' } }, expect: code('002001', /compressed/) },
    { label: 'a deflate-compressed body', request: { body: deflateSync(valid.body), contentType, headers: { 'content-encoding': 'deflate' } }, expect: code('002001', /compressed/) },
    { label: 'Content-Transfer-Encoding quoted-printable', request: sent(method.parts, { 'content-transfer-encoding': 'quoted-printable' }), expect: code('002001') },
    { label: 'no closing delimiter', request: { body: unclosed, contentType }, expect: code('002007') },
    { label: 'a body cut inside a part', request: { body: valid.body.subarray(0, 300), contentType }, expect: code('002007') },
    { label: 'an empty body', request: { body: Buffer.alloc(0), contentType }, expect: code('002007') },
    { label: 'a body written with another boundary', request: { body: valid.body, contentType: 'multipart/form-data; boundary=not-the-one-used' }, expect: code('002007') },
    { label: 'only a preamble', request: { body: Buffer.from('preamble without any part\r\n'), contentType }, expect: code('002007') },
    {
      label: 'a header-only part',
      request: withRaw(method.parts, (b) => `--${b}\r\nContent-Disposition: form-data; name="extra"\r\n--${b}--\r\n`),
      expect: code('002007'),
    },
    { label: 'a part without a name', request: withRaw(method.parts, (b) => `--${b}\r\nContent-Disposition: form-data\r\n\r\nx\r\n`), expect: code('002007', /no name/) },
    { label: 'a part with an empty name', request: withRaw(method.parts, (b) => `--${b}\r\nContent-Disposition: form-data; name=""\r\n\r\nx\r\n`), expect: code('002007', /no name/) },
    {
      label: 'a part header of 100 kB',
      request: withRaw(method.parts, (b) => `--${b}\r\nContent-Disposition: form-data; name="x"\r\nX-Padding: ${'p'.repeat(100_000)}\r\n\r\nx\r\n`),
      expect: code('002007'),
    },
    {
      // RFC 7578 parsers skip a part that is not form-data: the method then misses it.
      label: `the ${firstRequired} part without Content-Disposition`,
      request: withRaw(others, (b) => `--${b}\r\nContent-Type: ${first.contentType ?? 'application/octet-stream'}\r\n\r\nx\r\n`),
      expect: { code: method.required[0]![1] },
    },
    {
      label: `the ${firstRequired} part declared text/html`,
      request: sent([{ ...first, contentType: 'text/html' }, ...others]),
      expect: code('002005', new RegExp(`${firstRequired}.* is declared text/html`)),
    },
    {
      label: `the ${firstRequired} part declared application/x-msdownload`,
      request: sent([{ ...first, contentType: 'application/x-msdownload' }, ...others]),
      expect: code('002005'),
    },
    {
      label: `${method.maxParts + 5000} parts`,
      request: sent(Array.from({ length: method.maxParts + 5000 }, (_, i) => ({ name: method.parts[i % method.parts.length]!.name, filename: `f${i}`, body: 'x' }))),
      expect: code('002006', /more than \d+ parts/),
    },
  ];
  for (const [name, missingCode] of method.required) {
    list.push({ label: `no ${name} part`, request: sent(method.parts.filter((p) => p.name !== name)), expect: { code: missingCode, detail: /missing|no media/ } });
  }
  for (const name of method.single) {
    const part = method.parts.find((p) => p.name === name)!;
    list.push({ label: `the ${name} part twice`, request: sent([...method.parts, part]), expect: code('002007', /appears|more than once/) });
  }
  if (method.named) {
    list.push({
      label: `a ${method.named} part without a filename`,
      request: sent([...method.parts, { name: method.named, body: method.parts.find((p) => p.name === method.named)!.body }]),
      expect: code('002007', /needs a filename/),
    });
  }
  if (method.refusesUnknownParts) {
    const long = longName('part-');
    for (const name of ['unexpected', '../../etc/passwd', 'é😀 ünïcödé', 'sample 1', 'a\\"quoted\\"name', long]) {
      list.push({
        label: `an unknown part named "${name.slice(0, 24)}"`,
        request: sent([...method.parts, { name, body: 'x' }]),
        expect: code('002007', /unexpected part/),
        clientNames: [name],
      });
    }
  } else {
    list.push({ label: 'the payload declared image/png', request: sent([...method.parts.filter((p) => p.name !== 'payload'), { name: 'payload', contentType: 'image/png', filename: 'p', body: '{}' }]), expect: code('002005', /payload/) });
  }
  return list;
}

describe('malformed multipart bodies, to every multipart method', needsData, () => {
  const ledger = new Ledger();
  const memory = memoryGauge();
  let service: TestService;
  let all: Method[];
  let baseline: SettledMemory;

  before(async () => {
    service = await startService();
    const extracted = await postImage(`${service.url}/v1/face/pattern/extract`, face, 'image/jpeg');
    all = methods(Buffer.from(await extracted.arrayBuffer()));
    for (const method of all) await ledger.check(`warm-up: ${method.name}`, post(service.url, method.path, sent(method.parts)), accepted);
    baseline = await memory.settled();
  });
  after(() => service.close());

  it('answers each malformed request with its code, for every method', async () => {
    for (const method of all) {
      for (const bad of cases(method)) await ledger.check(`${bad.label} → ${method.name}`, post(service.url, method.path, bad.request), bad.expect, bad.clientNames);
    }
  });

  it('takes exactly as many parts as the limits allow', async () => {
    // A liveness folder of MAX_IMAGES_PER_REQUEST media and a payload, and extract_and_compare_n of 1 + 10 samples.
    const folder = [...Array.from({ length: 10 }, (_, i) => image(`m${i}`)), { name: 'payload', body: '{}' }];
    await ledger.check('a full folder', post(service.url, '/v1/face/liveness/detect', sent(folder)), accepted);
    await ledger.check('11 media', post(service.url, '/v1/face/liveness/detect', sent([...folder, image('m10')])), { code: 'LDE-002006' });
    const samples = [image('sample_1'), ...Array.from({ length: 10 }, (_, i) => image('samples_n', `${i}.jpg`))];
    await ledger.check('1 + 10 samples', post(service.url, '/v1/face/pattern/extract_and_compare_n', sent(samples)), accepted);
    await ledger.check('1 + 11 samples', post(service.url, '/v1/face/pattern/extract_and_compare_n', sent([...samples, image('samples_n', 'x.jpg')])), { code: 'BPE-002006' });
  });

  it('keeps serving: health 0, no 5xx, no leaks, memory back near where it started', (t) =>
    assertUnharmed(t, { service, face, ledger, memory, baseline, minimumBadRequests: 150 }));
});

describe('parts and bodies over the size limits', needsData, () => {
  const ledger = new Ledger();
  let service: TestService;
  let all: Method[];
  const limits = { MAX_IMAGE_BYTES: '20000', MAX_MEDIA_BYTES: '20000', MAX_REQUEST_BYTES: '60000' };

  before(async () => {
    service = await startService(limits);
    const extracted = await postImage(`${service.url}/v1/face/pattern/extract`, face, 'image/jpeg');
    assert.equal(extracted.status, 200);
    assert.ok(face.length < 20_000);
    all = methods(Buffer.from(await extracted.arrayBuffer()));
  });
  after(() => service.close());

  it('answers 413 for a part over the part limit, an image over MAX_IMAGE_BYTES, and a body over MAX_REQUEST_BYTES with or without Content-Length', async () => {
    const partLimit = base64Allowance(20_000);
    const padded = Buffer.concat([face, Buffer.alloc(22_000 - face.length)]);
    for (const method of all) {
      const code = `${method.area}-002006`;
      const [firstRequired] = method.required[0]!;
      const first = method.parts.find((p) => p.name === firstRequired)!;
      const others = method.parts.filter((p) => p !== first);
      const overPart = sent([{ ...first, body: Buffer.alloc(partLimit + 1, 0x41) }, ...others]);
      await ledger.check(`a part over the part limit → ${method.name}`, post(service.url, method.path, overPart), { code, detail: /a part exceeds/ });
      if (first.contentType === 'image/jpeg') {
        // Within the part limit (which leaves room for base64), over the image limit once read.
        await ledger.check(`an image over MAX_IMAGE_BYTES → ${method.name}`, post(service.url, method.path, sent([{ ...first, body: padded }, ...others])), { code, detail: /exceeds 20000 bytes/ });
      }
      // Two more parts just within the part limit: over the body limit before any part or count limit.
      const overBody = [...method.parts, ...[1, 2].map((i) => ({ ...first, name: `${first.name}${method.refusesUnknownParts ? '' : i}`, body: Buffer.alloc(partLimit - 200, 0x41) }))];
      const { body, contentType } = multipart(overBody);
      assert.ok(body.length > 60_000);
      // Declared too large: refused before the body is read, and the connection closed.
      const head = requestHead('POST', method.path, [`Content-Type: ${contentType}`, `Content-Length: ${body.length}`]);
      const declared = await rawExchange(service.url, [head, body.subarray(0, 1000)]);
      ledger.recordRaw(`a body declared over MAX_REQUEST_BYTES → ${method.name}`, declared);
      assert.equal(declared.status, 413, JSON.stringify(declared));
      assert.equal((declared.json as { code: string }).code, code);
      assert.ok(declared.closedByServer, 'the server closes the connection instead of reading the rest');
      // Chunked, with no length: counted as it arrives.
      await ledger.check(`a chunked body over MAX_REQUEST_BYTES → ${method.name}`, post(service.url, method.path, { body: Readable.from([body.subarray(0, 30_000), body.subarray(30_000)]), contentType }), {
        code,
        detail: /the body exceeds 60000 bytes/,
      });
    }
    assertNo5xx(ledger.answers);
    assertNoLeaks(ledger.answers);
    await assertStillServing(service, face);
  });
});
