/**
 * Bad images, and bad base64 around good ones, sent to every place an image goes: the body of extract and of
 * single-image liveness, each image part of verify, extract_and_compare, verify_n and extract_and_compare_n, and a
 * liveness folder's media. All are made here from real photos.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { dataMissing, needsData, readData } from '../helpers/data.js';
import { postMultipart, type RawPart } from '../helpers/multipart.js';
import { postImage, type TestService, startService } from '../helpers/service.js';
import {
  accepted,
  assertNo5xx,
  assertNoLeaks,
  assertUnharmed,
  type Expected,
  failedAnalysis,
  Ledger,
  memoryGauge,
  pngOfZeros,
  type SettledMemory,
} from '../helpers/bad-input.js';

const face = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');
const facePng = dataMissing ? face : await sharp(face).png().toBuffer();

interface BadImage {
  body: Buffer | string;
  /** The declared Content-Type: of the body, or of the part. */
  type: string;
}

/** Where an image goes, and so which of a case's expectations applies. */
type Role = 'extract' | 'part' | 'livenessImage' | 'folder';

interface ImageCase extends BadImage {
  label: string;
  expect: Record<Role, Expected>;
}

const code = (value: string, detail?: RegExp): Expected => (detail ? { code: value, detail } : { code: value });
/**
 * Not JPEG/PNG, or not decodable: a request error in the pattern area and for one liveness image; a failed analysis
 * in a folder, whose media are recognised by their bytes (so bytes that are no image are tried as a video there).
 */
const unreadable = (detail?: RegExp, folderDetail: RegExp | undefined = detail): Record<Role, Expected> => ({
  extract: code('BPE-002003', detail),
  part: code('BPE-002003', detail),
  livenessImage: code('LDE-002004', detail),
  folder: failedAnalysis(folderDetail),
});
const notAnImage = unreadable(/not an image/, /not a readable video|container is not MP4/);
/** Bytes that are not what their declared image type says: refused, except in a folder, where the bytes decide. */
const mislabelled: Record<Role, Expected> = { ...unreadable(/is declared image\/(jpeg|png) but holds/), folder: accepted };
const noFace: Record<Role, Expected> = { extract: code('BPE-003002'), part: code('BPE-003002'), livenessImage: code('LDE-002004', /no face/), folder: failedAnalysis(/no face/) };
/** A declared type an image may not have. */
const refusedType: Record<Role, Expected> = { extract: code('BPE-002001'), part: code('BPE-002005'), livenessImage: code('LDE-002001'), folder: code('LDE-002005') };
const everywhereAccepted: Record<Role, Expected> = { extract: accepted, part: accepted, livenessImage: accepted, folder: accepted };

/** The bytes with their start overwritten: the right Content-Type, the wrong magic. */
const wrongMagic = (bytes: Buffer): Buffer => Buffer.concat([Buffer.from('GIF89a'), bytes.subarray(6)]);

/** The JPEG with the size in its frame header replaced: a header that claims billions of pixels. */
function jpegClaiming(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let at = 2; at < out.length - 9; ) {
    const marker = out[at + 1]!;
    if (marker >= 0xc0 && marker <= 0xc2) {
      out.writeUInt16BE(height, at + 5);
      out.writeUInt16BE(width, at + 7);
      return out;
    }
    at += 2 + out.readUInt16BE(at + 2);
  }
  throw new Error('no frame header');
}

/** The PNG with one byte of its first IDAT chunk's data flipped: the chunk's CRC no longer matches. */
function pngWithBadCrc(png: Buffer): Buffer {
  const out = Buffer.from(png);
  const idat = out.indexOf('IDAT', 8, 'latin1');
  out.writeUInt8(out.readUInt8(idat + 10) ^ 0xff, idat + 10);
  return out;
}

async function animated(format: 'gif' | 'webp'): Promise<Buffer> {
  const frames = [await sharp(face).toBuffer(), await sharp(face).flop().toBuffer()];
  return sharp(frames, { join: { animated: true } })[format]().toBuffer();
}

/** An SVG holding the real photo: a vector wrapper the decoder must never be handed. */
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="250" height="250"><image width="250" height="250" href="data:image/jpeg;base64,${face.toString('base64')}"/></svg>`;

async function imageCases(): Promise<ImageCase[]> {
  const gif = await animated('gif');
  const webp = await animated('webp');
  const onePixel = (format: 'jpeg' | 'png'): Promise<Buffer> => sharp({ create: { width: 1, height: 1, channels: 3, background: '#7f7f7f' } })[format]().toBuffer();
  const cmyk = await sharp(face).toColourspace('cmyk').jpeg().toBuffer();
  const sixteenBit = await sharp(face).toColourspace('rgb16').png().toBuffer();
  const greyAlpha = await sharp(face).toColourspace('b-w').ensureAlpha(0.8).png().toBuffer();
  assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
  assert.equal((await sharp(sixteenBit).metadata()).depth, 'ushort');
  assert.equal(greyAlpha.readUInt8(25), 4, 'PNG colour type 4: grey and alpha');
  return [
    { label: 'an empty JPEG body', body: Buffer.alloc(0), type: 'image/jpeg', expect: unreadable() },
    { label: 'an empty PNG body', body: Buffer.alloc(0), type: 'image/png', expect: unreadable() },
    { label: 'half a JPEG', body: face.subarray(0, face.length >> 1), type: 'image/jpeg', expect: unreadable(/cannot be decoded/) },
    { label: 'a JPEG cut after 600 bytes', body: face.subarray(0, 600), type: 'image/jpeg', expect: unreadable(/cannot be decoded/) },
    { label: 'half a PNG', body: facePng.subarray(0, facePng.length >> 1), type: 'image/png', expect: unreadable(/cannot be decoded/) },
    { label: 'a PNG cut after its header chunk', body: facePng.subarray(0, 33), type: 'image/png', expect: unreadable(/cannot be decoded/) },
    { label: 'a PNG whose IDAT fails its CRC', body: pngWithBadCrc(facePng), type: 'image/png', expect: unreadable(/cannot be decoded/) },
    { label: 'a JPEG with a wrong magic', body: wrongMagic(face), type: 'image/jpeg', expect: unreadable() },
    { label: 'a PNG with a wrong magic', body: wrongMagic(facePng), type: 'image/png', expect: unreadable() },
    { label: 'text declared image/jpeg', body: 'this is not an image', type: 'image/jpeg', expect: unreadable() },
    { label: 'PNG bytes declared image/jpeg', body: facePng, type: 'image/jpeg', expect: mislabelled },
    { label: 'JPEG bytes declared image/png', body: face, type: 'image/png', expect: mislabelled },
    { label: 'JPEG bytes declared image/gif', body: face, type: 'image/gif', expect: refusedType },
    { label: 'JPEG bytes declared text/html', body: face, type: 'text/html', expect: refusedType },
    {
      label: 'JPEG bytes declared application/octet-stream',
      body: face,
      type: 'application/octet-stream',
      expect: { extract: code('BPE-002001'), part: accepted, livenessImage: code('LDE-002001'), folder: accepted },
    },
    { label: 'a 30000 x 30000 PNG bomb', body: pngOfZeros(30_000, 30_000), type: 'image/png', expect: unreadable(/more than 40000000 pixels/) },
    { label: 'a JPEG header claiming 65000 x 65000', body: jpegClaiming(face, 65_000, 65_000), type: 'image/jpeg', expect: unreadable(/more than 40000000 pixels/) },
    { label: 'a 1x1 JPEG', body: await onePixel('jpeg'), type: 'image/jpeg', expect: noFace },
    { label: 'a 1x1 PNG', body: await onePixel('png'), type: 'image/png', expect: noFace },
    { label: 'an animated GIF declared image/jpeg', body: gif, type: 'image/jpeg', expect: notAnImage },
    { label: 'an animated GIF declared image/gif', body: gif, type: 'image/gif', expect: refusedType },
    { label: 'an animated WebP declared image/jpeg', body: webp, type: 'image/jpeg', expect: notAnImage },
    { label: 'an animated WebP declared image/webp', body: webp, type: 'image/webp', expect: refusedType },
    { label: 'an SVG declared image/jpeg', body: svg, type: 'image/jpeg', expect: notAnImage },
    { label: 'an SVG declared image/png', body: svg, type: 'image/png', expect: notAnImage },
    { label: 'an SVG declared image/svg+xml', body: svg, type: 'image/svg+xml', expect: refusedType },
    // Unusual but valid: decoded to 8-bit RGB, as the README says.
    { label: 'a CMYK JPEG', body: cmyk, type: 'image/jpeg', expect: everywhereAccepted },
    { label: 'a 16-bit PNG', body: sixteenBit, type: 'image/png', expect: everywhereAccepted },
    { label: 'a grey + alpha PNG', body: greyAlpha, type: 'image/png', expect: everywhereAccepted },
  ];
}

interface Target {
  label: string;
  role: Role;
  send(image: BadImage, base64: boolean): Promise<Response>;
}

/** A failing 1:N candidate is named in the message by its position and filename. */
const candidateNamed = (target: Target, expected: Expected): Expected =>
  'code' in expected && target.label.endsWith('samples_n')
    ? { code: expected.code, detail: new RegExp(`sample 2 \\("bad\\.jpg"\\)${expected.detail ? `: .*${expected.detail.source}` : ''}`) }
    : expected;

/** Every place an image goes; the other parts of each request are good: `companion` is a good image. */
function imageTargets(service: TestService, template: Buffer, companion: Buffer): Target[] {
  const url = (method: string): string => (method === 'detect' ? `${service.url}/v1/face/liveness/detect` : `${service.url}/v1/face/pattern/${method}`);
  const headers = (base64: boolean): Record<string, string> => (base64 ? { 'content-transfer-encoding': 'base64' } : {});
  const good = (bytes: Buffer, base64: boolean): Buffer | string => (base64 ? bytes.toString('base64') : bytes);
  const bad = (name: string, image: BadImage, filename?: string): RawPart => ({ name, body: image.body, contentType: image.type, ...(filename ? { filename } : {}) });
  const goodFace = (name: string, base64: boolean, filename?: string): RawPart => ({
    name,
    body: good(companion, base64),
    contentType: 'image/jpeg',
    ...(filename ? { filename } : {}),
  });
  const goodTemplate = (name: string, base64: boolean, filename?: string): RawPart => ({ name, body: good(template, base64), ...(filename ? { filename } : {}) });
  const multipart = (method: string, parts: (base64: boolean) => RawPart[]) => (base64: boolean) => postMultipart(url(method), parts(base64), headers(base64));
  return [
    { label: 'extract', role: 'extract', send: (image, base64) => postImage(url('extract'), image.body, image.type, headers(base64)) },
    { label: 'liveness image', role: 'livenessImage', send: (image, base64) => postImage(url('detect'), image.body, image.type, headers(base64)) },
    { label: 'verify sample', role: 'part', send: (image, base64) => multipart('verify', (b) => [bad('sample', image), goodTemplate('bio_template', b)])(base64) },
    {
      label: 'extract_and_compare sample_1',
      role: 'part',
      send: (image, base64) => multipart('extract_and_compare', (b) => [bad('sample_1', image), goodFace('sample_2', b)])(base64),
    },
    {
      label: 'extract_and_compare sample_2',
      role: 'part',
      send: (image, base64) => multipart('extract_and_compare', (b) => [goodFace('sample_1', b), bad('sample_2', image)])(base64),
    },
    {
      label: 'verify_n sample_1',
      role: 'part',
      send: (image, base64) => multipart('verify_n', (b) => [bad('sample_1', image), goodTemplate('templates_n', b, 'a.bin')])(base64),
    },
    {
      label: 'extract_and_compare_n sample_1',
      role: 'part',
      send: (image, base64) => multipart('extract_and_compare_n', (b) => [bad('sample_1', image), goodFace('samples_n', b, 'good.jpg')])(base64),
    },
    {
      label: 'extract_and_compare_n samples_n',
      role: 'part',
      send: (image, base64) =>
        multipart('extract_and_compare_n', (b) => [goodFace('sample_1', b), goodFace('samples_n', b, 'good.jpg'), bad('samples_n', image, 'bad.jpg')])(base64),
    },
    { label: 'liveness folder media', role: 'folder', send: (image, base64) => multipart('detect', () => [bad('media', image, 'media.bin')])(base64) },
  ];
}

describe('bad images, to every method that takes an image', needsData, () => {
  const ledger = new Ledger();
  const memory = memoryGauge();
  let service: TestService;
  let targets: Target[];
  let baseline: SettledMemory;

  before(async () => {
    service = await startService();
    const extracted = await postImage(`${service.url}/v1/face/pattern/extract`, face, 'image/jpeg');
    assert.equal(extracted.status, 200);
    targets = imageTargets(service, Buffer.from(await extracted.arrayBuffer()), face);
    // Warm every target once with a good image, so that the baseline holds what serving costs, not first-use growth.
    for (const target of targets) await ledger.check(`warm-up: ${target.label}`, target.send({ body: face, type: 'image/jpeg' }, false), accepted);
    baseline = await memory.settled();
  });
  after(() => service.close());

  it('the PNG bomb generator makes valid PNGs (checked on a small one)', async () => {
    const { data, info } = await sharp(pngOfZeros(3001, 17)).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [3001, 17]);
    assert.ok(data.every((byte) => byte === 0));
    const bomb = pngOfZeros(30_000, 30_000);
    assert.ok(bomb.length < 200_000, `${bomb.length} bytes`);
    assert.deepEqual(await sharp(bomb, { limitInputPixels: false }).metadata().then((m) => [m.width, m.height]), [30_000, 30_000]);
  });

  it('answers each bad image with its code, everywhere', async () => {
    for (const image of await imageCases()) {
      for (const target of targets) await ledger.check(`${image.label} → ${target.label}`, target.send(image, false), candidateNamed(target, image.expect[target.role]));
    }
  });

  it('answers bad base64 with the unreadable code of what it carries; takes line breaks, white space and no padding', async () => {
    const text = face.toString('base64');
    assert.match(text, /[+/]/);
    const unpadded = text.replace(/=+$/, '');
    const bad: [string, Buffer | string][] = [
      ['a character outside the alphabet', `${text.slice(0, 100)}*${text.slice(100)}`],
      ['the URL-safe alphabet', text.replaceAll('+', '-').replaceAll('/', '_')],
      ['padding inside the text', `${text.slice(0, 100)}==${text.slice(100)}`],
      ['three padding characters', `${unpadded}${'='.repeat(3)}`],
      ['a length that cannot be base64', `${unpadded.slice(0, unpadded.length - (unpadded.length % 4))}A`],
      ['a binary body', face],
      ['a data URL', `data:image/jpeg;base64,${text}`],
    ];
    const expectBad: Record<Role, Expected> = { ...unreadable(/not valid base64/), folder: code('LDE-002004', /not valid base64/) };
    for (const [label, body] of bad) {
      for (const target of targets) {
        await ledger.check(`base64 with ${label} → ${target.label}`, target.send({ body, type: 'image/jpeg' }, true), candidateNamed(target, expectBad[target.role]));
      }
    }
    const good: [string, string][] = [
      ['CRLF line breaks every 76 characters', text.replace(/.{76}/g, '$&\r\n')],
      ['spaces, tabs and LF line breaks', text.replace(/.{50}/g, '$& \t\n')],
      ['no padding', unpadded],
    ];
    for (const [label, body] of good) {
      for (const target of targets) await ledger.check(`base64 with ${label} → ${target.label}`, target.send({ body, type: 'image/jpeg' }, true), accepted);
    }
  });

  it('keeps serving: health 0, no 5xx, no leaks, memory back near where it started', (t) =>
    assertUnharmed(t, { service, face, ledger, memory, baseline, minimumBadRequests: 200 }));
});

describe('images over MAX_IMAGE_PIXELS', needsData, () => {
  const ledger = new Ledger();
  let service: TestService;
  let targets: Target[];
  /** The same photo at 200 x 200: exactly at the limit, which is within it. */
  let atLimit: Buffer;
  before(async () => {
    service = await startService({ MAX_IMAGE_PIXELS: '40000' });
    atLimit = await sharp(face).resize(200, 200).jpeg().toBuffer();
    const extracted = await postImage(`${service.url}/v1/face/pattern/extract`, atLimit, 'image/jpeg');
    assert.equal(extracted.status, 200, await extracted.clone().text());
    targets = imageTargets(service, Buffer.from(await extracted.arrayBuffer()), atLimit);
  });
  after(() => service.close());

  it('refuses a real 250 x 250 photo from its header when the limit is 200 x 200, everywhere', async () => {
    for (const target of targets) {
      await ledger.check(`a photo over the pixel limit → ${target.label}`, target.send({ body: face, type: 'image/jpeg' }, false), unreadable(/more than 40000 pixels/)[target.role]);
      await ledger.check(`a photo at the pixel limit → ${target.label}`, target.send({ body: atLimit, type: 'image/jpeg' }, false), accepted);
    }
    assertNo5xx(ledger.answers);
    assertNoLeaks(ledger.answers);
  });
});
