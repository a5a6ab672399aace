/**
 * Bad templates, made from real extracted ones, sent to every place a template goes: both parts of compare, the
 * template of verify, template_1 and a templates_n candidate of compare_n, and a templates_n candidate of verify_n.
 * With TEMPLATE_KEYS set: unsigned, altered and foreign-signed templates.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TEMPLATE_HEADER_BYTES } from '../../src/biometry/template.js';
import { needsData, readData } from '../helpers/data.js';
import { postMultipart, type RawPart } from '../helpers/multipart.js';
import { postImage, type TestService, startService } from '../helpers/service.js';
import {
  accepted,
  assertNo5xx,
  assertNoLeaks,
  assertUnharmed,
  type Expected,
  Ledger,
  memoryGauge,
  type SettledMemory,
} from '../helpers/bad-input.js';

const face = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');
const otherFace = await readData('faces/face_recognition_examples/joe_biden/biden.jpg');
const KEY = 'bad-input-suite-key-0123456789abcdef';
const OTHER_KEY = 'another-key-this-service-does-not-hold-0123';

async function extract(service: TestService, image: Buffer): Promise<Buffer> {
  const response = await postImage(`${service.url}/v1/face/pattern/extract`, image, 'image/jpeg');
  assert.equal(response.status, 200);
  return Buffer.from(await response.arrayBuffer());
}

/** A copy of the template with the float at `index` of its values replaced. */
function withValue(template: Buffer, index: number, value: number): Buffer {
  const out = Buffer.from(template);
  out.writeFloatLE(value, TEMPLATE_HEADER_BYTES + 4 * index);
  return out;
}

/** A copy of the template with its values scaled (no longer a unit vector when `factor` is not ±1). */
function scaled(template: Buffer, factor: number, dimension = 512): Buffer {
  const out = Buffer.from(template);
  for (let i = 0; i < dimension; i++) out.writeFloatLE(template.readFloatLE(TEMPLATE_HEADER_BYTES + 4 * i) * factor, TEMPLATE_HEADER_BYTES + 4 * i);
  return out;
}

function withByte(template: Buffer, offset: number, value: number): Buffer {
  const out = Buffer.from(template);
  out.writeUInt8(value, offset);
  return out;
}

/** A well-formed template of another dimension: its header says so and its length agrees. */
function ofDimension(template: Buffer, dimension: number): Buffer {
  const out = Buffer.alloc(TEMPLATE_HEADER_BYTES + 4 * dimension);
  template.copy(out, 0, 0, TEMPLATE_HEADER_BYTES);
  out.writeUInt16LE(dimension, 6);
  if (dimension > 0) out.writeFloatLE(1, TEMPLATE_HEADER_BYTES);
  return out;
}

interface TemplateCase {
  label: string;
  body: Buffer | string;
  /** The part's declared Content-Type; none by default, as the published examples send templates. */
  type?: string;
  expect: Expected;
}

const unreadable = (detail: RegExp): Expected => ({ code: 'BPE-002004', detail });

function templateCases(template: Buffer): TemplateCase[] {
  const length = template.length;
  return [
    { label: 'an empty template', body: Buffer.alloc(0), expect: unreadable(/empty/) },
    { label: 'a template of 10 bytes', body: template.subarray(0, 10), expect: unreadable(/truncated/) },
    { label: 'the header and half the values', body: template.subarray(0, TEMPLATE_HEADER_BYTES + 1024), expect: unreadable(/truncated/) },
    { label: 'a template one byte short', body: template.subarray(0, length - 1), expect: unreadable(/truncated/) },
    { label: 'a template with a trailing byte', body: Buffer.concat([template, Buffer.from([0])]), expect: unreadable(/trailing bytes/) },
    { label: 'a template with 32 trailing bytes', body: Buffer.concat([template, Buffer.alloc(32)]), expect: unreadable(/trailing bytes/) },
    { label: 'a template with a wrong magic', body: Buffer.concat([Buffer.from('XBT1'), template.subarray(4)]), expect: unreadable(/not a template/) },
    { label: 'a JPEG sent as a template', body: face, expect: unreadable(/not a template/) },
    { label: 'base64 text sent without the base64 header', body: template.toString('base64'), expect: unreadable(/not a template/) },
    { label: 'format version 2', body: withByte(template, 4, 2), expect: unreadable(/format version 2 is not supported/) },
    { label: 'format version 0', body: withByte(template, 4, 0), expect: unreadable(/format version 0 is not supported/) },
    { label: 'an unknown flag', body: withByte(template, 5, 0x02), expect: unreadable(/unknown flags/) },
    { label: 'the signed flag without a signature', body: withByte(template, 5, 0x01), expect: unreadable(/truncated/) },
    { label: 'another model fingerprint', body: withByte(template, 8, template.readUInt8(8) ^ 0xff), expect: unreadable(/another face model/) },
    { label: 'dimension 256', body: ofDimension(template, 256), expect: unreadable(/dimension 256 differs/) },
    { label: 'dimension 0', body: ofDimension(template, 0), expect: unreadable(/dimension 0 differs/) },
    { label: 'dimension 513 with 512 values', body: withByte(template, 6, 1), expect: unreadable(/dimension 513 differs/) },
    { label: 'a NaN value', body: withValue(template, 7, Number.NaN), expect: unreadable(/not a finite number/) },
    { label: 'a +Infinity value', body: withValue(template, 100, Number.POSITIVE_INFINITY), expect: unreadable(/not a finite number/) },
    { label: 'a -Infinity value', body: withValue(template, 511, Number.NEGATIVE_INFINITY), expect: unreadable(/not a finite number/) },
    { label: 'values twice a unit vector', body: scaled(template, 2), expect: unreadable(/not a unit vector/) },
    { label: 'values of a zero vector', body: scaled(template, 0), expect: unreadable(/not a unit vector/) },
    { label: 'a value nudged off the unit sphere', body: withValue(template, 0, template.readFloatLE(TEMPLATE_HEADER_BYTES) + 0.2), expect: unreadable(/not a unit vector/) },
    { label: 'a template declared image/jpeg', body: template, type: 'image/jpeg', expect: { code: 'BPE-002005' } },
    { label: 'a template declared text/html', body: template, type: 'text/html', expect: { code: 'BPE-002005' } },
    { label: 'a template declared application/json', body: template, type: 'application/json', expect: { code: 'BPE-002005' } },
  ];
}

interface Target {
  label: string;
  send(template: TemplateCase, base64: boolean): Promise<Response>;
}

/** Every place a template goes; `good` is a valid template of the service, `image` a good photo. */
function templateTargets(service: TestService, good: Buffer, image: Buffer): Target[] {
  const url = (method: string): string => `${service.url}/v1/face/pattern/${method}`;
  const headers = (base64: boolean): Record<string, string> => (base64 ? { 'content-transfer-encoding': 'base64' } : {});
  const encode = (bytes: Buffer, base64: boolean): Buffer | string => (base64 ? bytes.toString('base64') : bytes);
  const bad = (name: string, template: TemplateCase, filename?: string): RawPart => ({
    name,
    body: template.body,
    ...(template.type ? { contentType: template.type } : {}),
    ...(filename ? { filename } : {}),
  });
  const goodPart = (name: string, base64: boolean, filename?: string): RawPart => ({
    name,
    body: encode(good, base64),
    contentType: 'application/octet-stream',
    ...(filename ? { filename } : {}),
  });
  const imagePart = (name: string, base64: boolean): RawPart => ({ name, body: encode(image, base64), contentType: 'image/jpeg' });
  const send = (method: string, parts: RawPart[], base64: boolean): Promise<Response> => postMultipart(url(method), parts, headers(base64));
  return [
    { label: 'compare bio_feature', send: (t, b) => send('compare', [bad('bio_feature', t), goodPart('bio_template', b)], b) },
    { label: 'compare bio_template', send: (t, b) => send('compare', [goodPart('bio_feature', b), bad('bio_template', t)], b) },
    { label: 'verify bio_template', send: (t, b) => send('verify', [imagePart('sample', b), bad('bio_template', t)], b) },
    { label: 'compare_n template_1', send: (t, b) => send('compare_n', [bad('template_1', t), goodPart('templates_n', b, 'a.bin')], b) },
    {
      label: 'compare_n templates_n',
      send: (t, b) => send('compare_n', [goodPart('template_1', b), goodPart('templates_n', b, 'a.bin'), bad('templates_n', t, 'bad.bin'), goodPart('templates_n', b, 'c.bin')], b),
    },
    { label: 'verify_n templates_n', send: (t, b) => send('verify_n', [imagePart('sample_1', b), goodPart('templates_n', b, 'a.bin'), bad('templates_n', t, 'bad.bin')], b) },
  ];
}

/** A failing 1:N candidate is named in the message by its position and filename. */
const candidateNamed = (target: Target, expected: Expected): Expected =>
  'code' in expected && target.label.endsWith('templates_n')
    ? { code: expected.code, detail: new RegExp(`template 2 \\("bad\\.bin"\\)${expected.detail ? `: .*${expected.detail.source}` : ''}`) }
    : expected;

describe('bad templates, to every method that takes a template', needsData, () => {
  const ledger = new Ledger();
  const memory = memoryGauge();
  let service: TestService;
  let template: Buffer;
  let targets: Target[];
  let baseline: SettledMemory;

  before(async () => {
    service = await startService();
    template = await extract(service, face);
    assert.equal(template.length, 2064);
    targets = templateTargets(service, await extract(service, otherFace), face);
    for (const target of targets) await ledger.check(`warm-up: ${target.label}`, target.send({ label: 'good', body: template, expect: accepted }, false), accepted);
    baseline = await memory.settled();
  });
  after(() => service.close());

  it('answers each bad template with BPE-002004 (BPE-002005 for a wrong part type), naming what is wrong', async () => {
    for (const bad of templateCases(template)) {
      for (const target of targets) await ledger.check(`${bad.label} → ${target.label}`, target.send(bad, false), candidateNamed(target, bad.expect));
    }
  });

  it('answers bad base64 with BPE-002004; takes line breaks, white space and no padding', async () => {
    const text = template.toString('base64');
    const unpadded = text.replace(/=+$/, '');
    const bad: [string, Buffer | string][] = [
      ['a character outside the alphabet', `${text.slice(0, 40)}!${text.slice(40)}`],
      ['the URL-safe alphabet', text.replaceAll('+', '-').replaceAll('/', '_')],
      ['padding inside the text', `${text.slice(0, 40)}=${text.slice(40)}`],
      ['three padding characters', `${unpadded}===`],
      ['a length that cannot be base64', `${unpadded.slice(0, unpadded.length - (unpadded.length % 4))}Q`],
      ['a binary body', template],
    ];
    assert.notEqual(bad[1]![1], text, 'the template text holds + or /');
    for (const [label, body] of bad) {
      for (const target of targets) {
        const expected = candidateNamed(target, { code: 'BPE-002004', detail: /not valid base64/ });
        await ledger.check(`base64 with ${label} → ${target.label}`, target.send({ label, body, expect: accepted }, true), expected);
      }
    }
    const good: [string, string][] = [
      ['CRLF line breaks every 76 characters', text.replace(/.{76}/g, '$&\r\n')],
      ['spaces, tabs and LF line breaks', `  ${text.replace(/.{30}/g, '$& \t\n')}\n`],
      ['no padding', unpadded],
    ];
    for (const [label, body] of good) {
      for (const target of targets) await ledger.check(`base64 with ${label} → ${target.label}`, target.send({ label, body, expect: accepted }, true), accepted);
    }
  });

  it('keeps serving: health 0, no 5xx, no leaks, memory back near where it started', (t) =>
    assertUnharmed(t, { service, face, ledger, memory, baseline, minimumBadRequests: 150 }));
});

describe('templates when TEMPLATE_KEYS is set', needsData, () => {
  const ledger = new Ledger();
  let signing: TestService;
  let targets: Target[];
  let signed: Buffer;
  let unsigned: Buffer;
  let foreign: Buffer;

  before(async () => {
    const plain = await startService();
    unsigned = await extract(plain, face);
    await plain.close();
    const other = await startService({ TEMPLATE_KEYS: OTHER_KEY });
    foreign = await extract(other, face);
    await other.close();
    signing = await startService({ TEMPLATE_KEYS: `${KEY},${'old-key-still-accepted-0123456789abcdef'}` });
    signed = await extract(signing, face);
    assert.equal(signed.length, 2096);
    targets = templateTargets(signing, await extract(signing, otherFace), face);
  });
  after(() => signing.close());

  it('refuses unsigned, altered and foreign-signed templates everywhere; takes one signed by an older key', async () => {
    const values = TEMPLATE_HEADER_BYTES + 4 * 512;
    const cases: TemplateCase[] = [
      { label: 'an unsigned template', body: unsigned, expect: unreadable(/not signed/) },
      { label: 'a value altered after signing', body: withValue(signed, 3, signed.readFloatLE(TEMPLATE_HEADER_BYTES + 12) * -1), expect: unreadable(/signature does not match/) },
      { label: 'two values swapped after signing', body: Buffer.concat([signed.subarray(0, 16), signed.subarray(20, 24), signed.subarray(16, 20), signed.subarray(24)]), expect: unreadable(/signature does not match/) },
      { label: 'a signature byte altered', body: withByte(signed, values + 5, signed.readUInt8(values + 5) ^ 0x01), expect: unreadable(/signature does not match/) },
      { label: 'a template signed with a key the service does not hold', body: foreign, expect: unreadable(/signature does not match/) },
      { label: 'the signature cut short', body: signed.subarray(0, signed.length - 1), expect: unreadable(/truncated/) },
      { label: 'the signature cut off', body: signed.subarray(0, values), expect: unreadable(/truncated/) },
      { label: 'a signed template with a trailing byte', body: Buffer.concat([signed, Buffer.from([0])]), expect: unreadable(/trailing bytes/) },
      { label: 'the signed flag cleared', body: withByte(signed, 5, 0), expect: unreadable(/trailing bytes/) },
    ];
    for (const bad of cases) {
      for (const target of targets) await ledger.check(`keys: ${bad.label} → ${target.label}`, target.send(bad, false), candidateNamed(target, bad.expect));
    }
    const rotatedOut = await startService({ TEMPLATE_KEYS: 'old-key-still-accepted-0123456789abcdef' });
    const signedByOldKey = await extract(rotatedOut, face);
    await rotatedOut.close();
    for (const target of targets) {
      await ledger.check(`keys: a template signed by the older key → ${target.label}`, target.send({ label: 'old key', body: signedByOldKey, expect: accepted }, false), accepted);
    }
    assertNo5xx(ledger.answers);
    assertNoLeaks(ledger.answers);
    assert.ok(ledger.badRequests >= 50, `${ledger.badRequests} bad requests`);
  });
});

describe('forged templates (morphing)', needsData, () => {
  /** The normalised mean of two templates' embeddings, in the first one's header: a template no photo gave. */
  function morph(first: Buffer, second: Buffer, dimension = 512): Buffer {
    const values = Array.from({ length: dimension }, (_, i) => first.readFloatLE(TEMPLATE_HEADER_BYTES + 4 * i) + second.readFloatLE(TEMPLATE_HEADER_BYTES + 4 * i));
    const norm = Math.hypot(...values);
    const out = Buffer.from(first.subarray(0, TEMPLATE_HEADER_BYTES + 4 * dimension));
    values.forEach((value, i) => out.writeFloatLE(value / norm, TEMPLATE_HEADER_BYTES + 4 * i));
    return out;
  }
  const people = ['Ariel_Sharon', 'Colin_Powell', 'Donald_Rumsfeld', 'George_W_Bush', 'Gerhard_Schroeder', 'Tony_Blair'];
  const photos = (person: string): Promise<Buffer[]> =>
    Promise.all(Array.from({ length: 10 }, (_, i) => readData('faces', 'lfw_color', person, `${person}_${String(i + 1).padStart(4, '0')}.jpg`)));

  it('unsigned: the mean of two people\'s templates is approved against both; with TEMPLATE_KEYS it is refused', async (t) => {
    const unsigned = await startService();
    const signed = await startService({ TEMPLATE_KEYS: KEY });
    try {
      // Photos that show a second face of comparable size (LFW has some) give no template and are left out.
      const templateOf = async (photo: Buffer): Promise<Buffer[]> => {
        const response = await postImage(`${unsigned.url}/v1/face/pattern/extract`, photo, 'image/jpeg');
        return response.status === 200 ? [Buffer.from(await response.arrayBuffer())] : [];
      };
      const enrolled = new Map<string, Buffer[]>();
      for (const person of people) enrolled.set(person, (await Promise.all((await photos(person)).map(templateOf))).flat());
      let pairs = 0;
      let approvedAgainstBoth = 0;
      const medians: number[] = [];
      for (const [a, first] of people.entries()) {
        for (const second of people.slice(a + 1)) {
          const [mine, theirs] = [enrolled.get(first)!, enrolled.get(second)!];
          const forged = morph(mine[0]!, theirs[0]!);
          // Against each person's other photos: approved against both when each person's median score is.
          const candidates = [...mine.slice(1), ...theirs.slice(1)].map((template, i): RawPart => ({ name: 'templates_n', filename: String(i), body: template }));
          const answer = await postMultipart(`${unsigned.url}/v1/face/pattern/compare_n`, [{ name: 'template_1', body: forged }, ...candidates]);
          assert.equal(answer.status, 200, 'an unsigned forgery is read like any template');
          const scores = ((await answer.json()) as { results: { score: number }[] }).results.map((r) => r.score);
          const median = (values: number[]): number => [...values].sort((x, y) => x - y)[values.length >> 1]!;
          const [forFirst, forSecond] = [median(scores.slice(0, mine.length - 1)), median(scores.slice(mine.length - 1))];
          medians.push(forFirst, forSecond);
          pairs++;
          if (forFirst >= unsigned.config.matchApproveThreshold && forSecond >= unsigned.config.matchApproveThreshold) approvedAgainstBoth++;
        }
      }
      t.diagnostic(`${approvedAgainstBoth} of ${pairs} morphs of two LFW colour people approved against both (median scores ${Math.min(...medians)}–${Math.max(...medians)})`);
      assert.ok(approvedAgainstBoth > 0, 'the risk the README describes is real with this model');

      // Signed: the forgery carries no valid signature, and cannot be given one without the key.
      const [mine, theirs] = await Promise.all([extract(signed, face), extract(signed, otherFace)]);
      const forged = morph(mine, theirs);
      const answer = await postMultipart(`${signed.url}/v1/face/pattern/compare`, [{ name: 'bio_feature', body: forged }, { name: 'bio_template', body: mine }]);
      assert.equal(answer.status, 400);
      assert.equal(((await answer.json()) as { code: string }).code, 'BPE-002004');
      const version = (await (await fetch(`${signed.url}/version`)).json()) as { templates_signed: boolean };
      assert.equal(version.templates_signed, true);
      assert.equal(((await (await fetch(`${unsigned.url}/version`)).json()) as { templates_signed: boolean }).templates_signed, false);
      assert.match(await (await fetch(`${unsigned.url}/metrics`)).text(), /^face_api_templates_signed 0$/m);
    } finally {
      await unsigned.close();
      await signed.close();
    }
  });
});
