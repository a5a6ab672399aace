/**
 * What a bad request must never cause: a file written anywhere (TMPDIR or the working directory), or a message that
 * echoes the client's bytes, a server path or a stack, or more than 64 characters of a name the client chose.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { mediaSettings } from '../../src/compose.js';
import { loadConfig } from '../../src/config.js';
import { decodeVideo } from '../../src/media/video.js';
import { needsData, readData } from '../helpers/data.js';
import { postMultipart, type RawPart } from '../helpers/multipart.js';
import { postImage, type TestService, startService } from '../helpers/service.js';
import { deflatedZeros, zip } from '../helpers/zip.js';
import { accepted, assertNo5xx, assertNoLeaks, assertStillServing, type Expected, failedAnalysis, Ledger, longName, pngOfZeros } from '../helpers/bad-input.js';

const face = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');
const otherFace = await readData('faces/face_recognition_examples/joe_biden/biden.jpg');
const selfie = await readData('spoof/silent_face/real/image_T1.jpg');
const noFace = await readData('no_face/skimage/coffee.png');
const videos = await Promise.all(['selfie_6s.mp4', 'selfie_6s.webm', 'selfie_6s.mov'].map((file) => readData('video', file)));

/** JPEG frames of a real clip, for archives and capture objects. */
async function framesOfSelfie(count: number): Promise<Buffer[]> {
  const video = await decodeVideo(videos[0]!, { ...mediaSettings(loadConfig({})).limits.video, maxFrames: count, maxDurationSeconds: 10, timeoutMs: 10_000, maxFramePixels: 1e6 });
  return Promise.all(video.frames.map((f) => sharp(f.raster.data, { raw: { width: f.raster.width, height: f.raster.height, channels: 3 } }).jpeg().toBuffer()));
}

describe('no file is written, whatever the request', needsData, () => {
  it('every method, success and failure, every media kind: TMPDIR and the working directory stay empty', async () => {
    // Every input is made before the watch begins: making them (sharp, ffmpeg) is the test's doing, not the service's.
    const frames = await framesOfSelfie(6);
    const archive = zip(frames.map((data, i) => ({ name: `frame_${i}.jpg`, data, deflate: true })));
    const capture = JSON.stringify({ frame_list: frames.map((jpeg) => `data:image/jpeg;base64,${jpeg.toString('base64')}`), from_virtual_camera: null });
    // Large enough that a decoder could be tempted to spill to disk: 6000 x 6000 (108 MB decoded).
    const large = await sharp(selfie).rotate().resize(6000, 6000, { fit: 'fill' }).jpeg({ quality: 80 }).toBuffer();
    const png = await sharp(face).png().toBuffer();
    const bomb = pngOfZeros(30_000, 30_000);
    const zipBomb = zip([{ name: 'f.jpg', deflated: deflatedZeros(1024), size: 1000, crc: 0 }]);

    const temp = await mkdtemp(path.join(os.tmpdir(), 'bad-input-tmpdir-'));
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'bad-input-cwd-'));
    const previousTemp = process.env.TMPDIR;
    const previousCwd = process.cwd();
    const ledger = new Ledger();
    let service: TestService | undefined;
    process.env.TMPDIR = temp;
    process.chdir(cwd);
    try {
      assert.equal(os.tmpdir(), temp);
      service = await startService();
      const pattern = (method: string): string => `${service!.url}/v1/face/pattern/${method}`;
      const detect = `${service.url}/v1/face/liveness/detect`;
      const jpeg = (name: string, body: Buffer, filename?: string): RawPart => ({ name, body, contentType: 'image/jpeg', ...(filename ? { filename } : {}) });
      const base64 = { 'content-transfer-encoding': 'base64' };

      const templateResponse = await postImage(pattern('extract'), face, 'image/jpeg');
      const template = Buffer.from(await templateResponse.arrayBuffer());
      const other = Buffer.from(await (await postImage(pattern('extract'), otherFace, 'image/jpeg')).arrayBuffer());
      const broken = template.subarray(0, 100);
      const checks: [string, () => Promise<Response>, Expected][] = [
        ['extract: a JPEG', () => postImage(pattern('extract'), face, 'image/jpeg'), accepted],
        ['extract: a PNG', () => postImage(pattern('extract'), png, 'image/png'), accepted],
        ['extract: base64', () => postImage(pattern('extract'), face.toString('base64'), 'image/jpeg', base64), accepted],
        ['extract: a 6000 x 6000 photo', () => postImage(pattern('extract'), large, 'image/jpeg'), accepted],
        ['extract: half a JPEG', () => postImage(pattern('extract'), face.subarray(0, face.length >> 1), 'image/jpeg'), { code: 'BPE-002003' }],
        ['extract: no face', () => postImage(pattern('extract'), noFace, 'image/png'), { code: 'BPE-003002' }],
        ['extract: a PNG bomb', () => postImage(pattern('extract'), bomb, 'image/png'), { code: 'BPE-002003' }],
        ['compare', () => postMultipart(pattern('compare'), [{ name: 'bio_feature', body: template }, { name: 'bio_template', body: other }]), accepted],
        ['compare: a broken template', () => postMultipart(pattern('compare'), [{ name: 'bio_feature', body: broken }, { name: 'bio_template', body: other }]), { code: 'BPE-002004' }],
        ['verify', () => postMultipart(pattern('verify'), [jpeg('sample', otherFace), { name: 'bio_template', body: template }]), accepted],
        ['verify: no face', () => postMultipart(pattern('verify'), [{ name: 'sample', contentType: 'image/png', body: noFace }, { name: 'bio_template', body: template }]), { code: 'BPE-003002' }],
        ['extract_and_compare', () => postMultipart(pattern('extract_and_compare'), [jpeg('sample_1', face), jpeg('sample_2', otherFace)]), accepted],
        ['extract_and_compare: half a JPEG', () => postMultipart(pattern('extract_and_compare'), [jpeg('sample_1', face), jpeg('sample_2', face.subarray(0, 5000))]), { code: 'BPE-002003' }],
        ['compare_n', () => postMultipart(pattern('compare_n'), [{ name: 'template_1', body: template }, { name: 'templates_n', filename: 'a', body: other }]), accepted],
        ['compare_n: a broken candidate', () => postMultipart(pattern('compare_n'), [{ name: 'template_1', body: template }, { name: 'templates_n', filename: 'a', body: broken }]), { code: 'BPE-002004' }],
        ['verify_n', () => postMultipart(pattern('verify_n'), [jpeg('sample_1', face), { name: 'templates_n', filename: 'a', body: other }]), accepted],
        ['verify_n: a broken candidate', () => postMultipart(pattern('verify_n'), [jpeg('sample_1', face), { name: 'templates_n', filename: 'a', body: broken }]), { code: 'BPE-002004' }],
        ['extract_and_compare_n', () => postMultipart(pattern('extract_and_compare_n'), [jpeg('sample_1', face), jpeg('samples_n', otherFace, 'b.jpg')]), accepted],
        ['extract_and_compare_n: a GIF', () => postMultipart(pattern('extract_and_compare_n'), [jpeg('sample_1', face), { name: 'samples_n', filename: 'b.gif', contentType: 'image/gif', body: face }]), { code: 'BPE-002005' }],
        ['liveness image', () => postImage(detect, selfie, 'image/jpeg'), accepted],
        ['liveness image: base64', () => postImage(detect, selfie.toString('base64'), 'image/jpeg', base64), accepted],
        ['liveness image: no face', () => postImage(detect, noFace, 'image/png'), { code: 'LDE-002004' }],
        ['liveness folder: an image, with a best shot', () => postMultipart(detect, [jpeg('m', selfie), { name: 'payload', body: JSON.stringify({ analyses: [{ type: 'quality', params: { extract_best_shot: true } }] }) }]), accepted],
        ...videos.map((video, i): [string, () => Promise<Response>, Expected] => [`liveness folder: video ${i}`, () => postMultipart(detect, [{ name: 'v', filename: `v${i}`, body: video }]), accepted]),
        ['liveness folder: an archive', () => postMultipart(detect, [{ name: 'a', contentType: 'application/zip', body: archive }]), accepted],
        ['liveness folder: a capture object', () => postMultipart(detect, [{ name: 'c', contentType: 'application/json', body: capture }]), accepted],
        ['liveness folder: half an MP4', () => postMultipart(detect, [{ name: 'v', body: videos[0]!.subarray(0, 40_000) }]), failedAnalysis()],
        ['liveness folder: a ZIP bomb', () => postMultipart(detect, [{ name: 'a', body: zipBomb }]), failedAnalysis()],
        ['liveness folder: a bad payload', () => postMultipart(detect, [jpeg('m', selfie), { name: 'payload', body: '{' }]), { code: 'LDE-002008' }],
      ];
      for (const [label, send, expected] of checks) await ledger.check(label, send(), expected);
      assertNo5xx(ledger.answers);
      await assertStillServing(service, face);
      await service.close();
      service = undefined;
      assert.deepEqual(await readdir(temp), [], 'TMPDIR');
      assert.deepEqual(await readdir(cwd), [], 'working directory');
    } finally {
      await service?.close();
      process.chdir(previousCwd);
      if (previousTemp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previousTemp;
      await rm(temp, { recursive: true, force: true });
      await rm(cwd, { recursive: true, force: true });
    }
  });
});

describe('messages never echo client bytes, server paths or long client names', needsData, () => {
  let service: TestService;
  let template: Buffer;
  const pattern = (method: string): string => `${service.url}/v1/face/pattern/${method}`;
  const detectUrl = (): string => `${service.url}/v1/face/liveness/detect`;
  before(async () => {
    service = await startService();
    template = Buffer.from(await (await postImage(pattern('extract'), face, 'image/jpeg')).arrayBuffer());
  });
  after(() => service.close());

  it('truncates names the client chose to 64 characters, and never quotes the bytes it sent', async () => {
    const ledger = new Ledger();
    const detect = detectUrl();
    const name = longName('client-name-');
    // A Content-Type that is not a plain type/subtype counts as none, so the long name goes in a valid token.
    const typeName = `client-type-${'t'.repeat(988)}`;
    const onePixel = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } }).png().toBuffer();
    const marker = 'CLIENT-BYTES-7f3a9c';
    const markerBytes = Buffer.from(`${marker} `.repeat(40));
    const cases: [string, () => Promise<Response>, Expected][] = [
      ...['compare', 'verify', 'extract_and_compare', 'compare_n', 'verify_n', 'extract_and_compare_n'].map((method): [string, () => Promise<Response>, Expected] => [
        `a 1000-character part name → ${method}`,
        () => postMultipart(pattern(method), [{ name, body: 'x' }]),
        { code: 'BPE-002007' },
      ]),
      ['a 1000-character filename of a bad compare_n candidate', () => postMultipart(pattern('compare_n'), [{ name: 'template_1', body: template }, { name: 'templates_n', filename: name, body: markerBytes }]), { code: 'BPE-002004' }],
      ['a 1000-character filename of a bad verify_n candidate', () => postMultipart(pattern('verify_n'), [{ name: 'sample_1', contentType: 'image/jpeg', body: face }, { name: 'templates_n', filename: name, body: 'x' }]), { code: 'BPE-002004' }],
      [
        'a 1000-character filename of a candidate without a face',
        () => postMultipart(pattern('extract_and_compare_n'), [{ name: 'sample_1', contentType: 'image/jpeg', body: face }, { name: 'samples_n', filename: name, contentType: 'image/png', body: onePixel }]),
        { code: 'BPE-003002' },
      ],
      ['a 1000-character part Content-Type', () => postMultipart(pattern('compare'), [{ name: 'bio_feature', contentType: `application/${typeName}`, body: template }, { name: 'bio_template', body: template }]), { code: 'BPE-002005' }],
      ['a 1000-character media key of a media that fails', () => postMultipart(detect, [{ name, body: markerBytes }]), failedAnalysis()],
      ['a 1000-character media key declared text/html', () => postMultipart(detect, [{ name, contentType: 'text/html', body: selfie }]), { code: 'LDE-002005' }],
      ['a 1000-character media key twice', () => postMultipart(detect, [{ name, contentType: 'image/jpeg', body: selfie }, { name, contentType: 'image/jpeg', body: selfie }]), { code: 'LDE-002007' }],
      ['a 1000-character media Content-Type', () => postMultipart(detect, [{ name: 'm', contentType: `text/${typeName}`, body: selfie }]), { code: 'LDE-002005' }],
      ['a 1000-character payload Content-Type', () => postMultipart(detect, [{ name: 'm', contentType: 'image/jpeg', body: selfie }, { name: 'payload', contentType: `text/${typeName}`, body: '{}' }]), { code: 'LDE-002005' }],
      ['client bytes as an image', () => postImage(pattern('extract'), markerBytes, 'image/jpeg'), { code: 'BPE-002003' }],
      ['client bytes as a template', () => postMultipart(pattern('compare'), [{ name: 'bio_feature', body: markerBytes }, { name: 'bio_template', body: template }]), { code: 'BPE-002004' }],
      ['client bytes as invalid base64', () => postImage(pattern('extract'), `${marker}!`, 'image/jpeg', { 'content-transfer-encoding': 'base64' }), { code: 'BPE-002003' }],
      ['client bytes as a video', () => postMultipart(detect, [{ name: 'v', contentType: 'video/mp4', body: markerBytes }]), failedAnalysis()],
      ['client bytes as a capture object', () => postMultipart(detect, [{ name: 'c', body: JSON.stringify({ frame_list: [`data:image/jpeg;base64,${marker}`] }) }]), failedAnalysis()],
      ['client bytes as a payload', () => postMultipart(detect, [{ name: 'm', contentType: 'image/jpeg', body: selfie }, { name: 'payload', body: `{"${marker}` }]), { code: 'LDE-002008' }],
      ['client bytes as a threshold', () => postMultipart(detect, [{ name: 'm', contentType: 'image/jpeg', body: selfie }, { name: 'payload', body: JSON.stringify({ analyses: [{ type: 'quality', params: { threshold_spoofing: marker } }] }) }]), { code: 'LDE-002008' }],
    ];
    for (const [label, send, expected] of cases) await ledger.check(label, send(), expected, [name, typeName]);
    assertNoLeaks(ledger.answers);
    for (const answer of ledger.answers) {
      for (const message of answer.messages) assert.ok(!message.includes(marker), `${answer.label}: "${message}" quotes the client's bytes`);
    }
    assert.ok(
      ledger.answers.filter((a) => a.messages.some((m) => m.includes(name.slice(0, 64)))).length >= 5,
      'names are still shown, cut to 64 characters, so a client can find which one failed',
    );
    assertNo5xx(ledger.answers);
    await assertStillServing(service, face);
  });

  it('shows every name the client chose printable: controls, bidirectional overrides and undecodable bytes as \\u escapes, cut between code points', async () => {
    const ledger = new Ledger();
    const detect = detectUrl();
    const controls = 'a\u001b[31m\u0000\u0007\u202eb';
    const emojiAcrossTheCut = `${'e'.repeat(63)}\u{1f600}tail`;
    const boundary = 'names-boundary';
    /** A multipart body whose headers are written byte for byte: RFC 5987 filenames, invalid UTF-8. */
    const rawParts = (...parts: (string | Buffer)[]): Promise<Response> =>
      fetch(pattern('compare_n'), {
        method: 'POST',
        body: Buffer.concat([...parts.flatMap((part) => [Buffer.from(`--${boundary}\r\n`), Buffer.from(part), Buffer.from('\r\n')]), Buffer.from(`--${boundary}--\r\n`)]),
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      });
    const templatePart = Buffer.concat([Buffer.from('Content-Disposition: form-data; name="template_1"\r\n\r\n'), template]);
    const badCandidate = (disposition: string | Buffer): Buffer => Buffer.concat([Buffer.from('Content-Disposition: form-data; name="templates_n"; '), Buffer.from(disposition), Buffer.from('\r\n\r\nbroken')]);
    const payload = (body: unknown): Promise<Response> => postMultipart(detect, [{ name: 'm', contentType: 'image/jpeg', body: selfie }, { name: 'payload', body: JSON.stringify(body) }]);
    const cases: [string, () => Promise<Response>, Expected, RegExp][] = [
      ['a part named with ESC, NUL, BEL and a right-to-left override', () => postMultipart(pattern('compare'), [{ name: controls, body: 'x' }]), { code: 'BPE-002007' }, /"a\\u001B\[31m\\u0000\\u0007\\u202Eb"/],
      ['an RFC 5987 filename holding CR and LF', () => rawParts(templatePart, badCandidate("filename*=UTF-8''x%0D%0AInjected%3A%201")), { code: 'BPE-002004' }, /\("x\\u000D\\u000AInjected: 1"\)/],
      ['a filename with an emoji across the 64th character', () => rawParts(templatePart, badCandidate(`filename="${emojiAcrossTheCut}"`)), { code: 'BPE-002004' }, /\("e{63}\u{1f600}…"\)/u],
      ['a filename of invalid UTF-8', () => rawParts(templatePart, badCandidate(Buffer.concat([Buffer.from('filename="'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"')]))), { code: 'BPE-002004' }, /\("\\uFFFD\(\\uFFFD"\)/],
      ['a media key with controls, twice', () => postMultipart(detect, [{ name: controls, contentType: 'image/jpeg', body: selfie }, { name: controls, contentType: 'image/jpeg', body: selfie }]), { code: 'LDE-002007' }, /\\u001B/],
      ['payload metadata for a media key with controls', () => payload({ 'media:meta_data': { [`x\r\n${controls}`]: {} } }), { code: 'LDE-002008' }, /"x\\u000D\\u000Aa\\u001B/],
      ['an analysis type with controls', () => payload({ analyses: [{ type: `${controls}\ud800` }] }), { code: 'LDE-002008' }, /\\u0007\\u202Eb\\uD800/],
      ['a payload key with controls where a value is invalid', () => payload({ 'media:meta_data': { [controls]: 1 } }), { code: 'LDE-002008' }, /\\u0000/],
    ];
    for (const [label, send, expected, shown] of cases) {
      await ledger.check(label, send(), expected, [controls, emojiAcrossTheCut]);
      const { messages } = ledger.answers.at(-1)!;
      assert.match(messages.join(' '), shown, `${label}: the name is shown, escaped`);
    }
    assertNoLeaks(ledger.answers);
    assertNo5xx(ledger.answers);
  });
});
