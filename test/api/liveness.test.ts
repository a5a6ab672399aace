import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { mediaSettings } from '../../src/compose.js';
import { loadConfig } from '../../src/config.js';
import { needsData, readCsv, readData } from '../helpers/data.js';
import { postMultipart, type RawPart } from '../helpers/multipart.js';
import { expectError, postImage, type TestService, startService } from '../helpers/service.js';
import { zip } from '../helpers/zip.js';

interface Folder {
  folder_id: string;
  resolution_status: string;
  system_resolution: string;
  meta_data: Record<string, unknown>;
  media: { media_id: string; media_type: string; original_name: string; tags: string[]; meta_data: Record<string, unknown>; info: Record<string, Record<string, unknown>> }[];
  analyses: {
    analysis_id: string;
    type: string;
    state: string;
    resolution_status: string;
    error_code: string | null;
    error_message: string | null;
    confs: { threshold_spoofing: number; extract_best_shot: boolean };
    meta_data: Record<string, unknown>;
    results_media: {
      source_media_id: string;
      results_data: { confidence_spoofing: number; from_virtual_camera?: boolean; decided_by: string; frames_confidence_spoofing: number } | null;
      output_images: { image_b64: string; info: { original: { width: number; height: number; md5: string } } }[];
    }[];
  }[];
}

const contentTypeOf = (file: string): string => (file.toLowerCase().endsWith('.png') ? 'image/png' : 'image/jpeg');
const payload = (value: unknown): RawPart => ({ name: 'payload', body: JSON.stringify(value) });
const bestShotPayload = payload({ analyses: [{ type: 'quality', params: { extract_best_shot: true } }] });

/** JPEG frames of a real clip, taken from the decoded video through the service's own decoder. */
async function framesOfSelfie(count: number): Promise<Buffer[]> {
  const { decodeVideo } = await import('../../src/media/video.js');
  const video = await decodeVideo(await readData('video/selfie_6s.mp4'), { ...mediaSettings(loadConfig({})).limits.video, maxFrames: count, maxDurationSeconds: 10, timeoutMs: 10_000, maxFramePixels: 1e6 });
  return Promise.all(video.frames.map((f) => sharp(f.raster.data, { raw: { width: f.raster.width, height: f.raster.height, channels: 3 } }).jpeg().toBuffer()));
}

describe('POST /v1/face/liveness/detect', needsData, () => {
  let service: TestService;
  let url: string;
  before(async () => {
    service = await startService();
    url = `${service.url}/v1/face/liveness/detect`;
  });
  after(() => service.close());

  describe('single image', () => {
    it('scores every image of spoof/ with a probability of attack', async () => {
      const rows = await readCsv('spoof', 'labels.csv');
      assert.ok(rows.length >= 250);
      for (const row of rows) {
        const response = await postImage(url, await readData('spoof', row.path!), contentTypeOf(row.path!));
        assert.equal(response.status, 200, `${row.path}: ${await response.clone().text()}`);
        const body = (await response.json()) as { passed: boolean; score: number };
        assert.ok(body.score >= 0 && body.score <= 1);
        assert.equal(body.passed, body.score < 0.5);
      }
    });

    it('passes the live photo and fails the printed-photo attacks of silent_face', async () => {
      const live = (await (await postImage(url, await readData('spoof/silent_face/real/image_T1.jpg'), 'image/jpeg')).json()) as { passed: boolean };
      assert.equal(live.passed, true);
      for (const file of ['spoof/silent_face/spoof/image_F1.jpg', 'spoof/silent_face/spoof/image_F2.jpg']) {
        const attack = (await (await postImage(url, await readData(file), 'image/jpeg')).json()) as { passed: boolean; score: number };
        assert.equal(attack.passed, false, `${file}: ${attack.score}`);
      }
    });

    it('takes base64 and gives the same answer', async () => {
      const image = await readData('spoof/silent_face/real/image_T1.jpg');
      const binary = await (await postImage(url, image, 'image/jpeg')).json();
      const base64 = await (await postImage(url, image.toString('base64'), 'image/jpeg', { 'content-transfer-encoding': 'base64' })).json();
      assert.deepEqual(base64, binary);
    });

    it('LDE-002004 for an image without a face or bytes that are not one', async () => {
      await expectError(await postImage(url, await readData('no_face/skimage/coffee.png'), 'image/png'), 400, 'LDE-002004');
      await expectError(await postImage(url, Buffer.from('nope'), 'image/jpeg'), 400, 'LDE-002004');
    });
  });

  describe('folder (multipart)', () => {
    for (const file of ['selfie_6s.mp4', 'selfie_6s.webm', 'selfie_6s.mov']) {
      it(`analyses ${file} to a finished analysis with a best shot`, async () => {
        const response = await postMultipart(url, [{ name: 'media_key1', filename: file, contentType: 'multipart/form-data', body: await readData('video', file) }, bestShotPayload]);
        assert.equal(response.status, 200);
        const folder = (await response.json()) as Folder;
        const [analysis] = folder.analyses;
        assert.equal(analysis!.state, 'FINISHED');
        assert.equal(analysis!.resolution_status, 'SUCCESS');
        assert.equal(folder.system_resolution, 'SUCCESS');
        assert.equal(folder.resolution_status, 'FINISHED');
        const [media] = folder.media;
        assert.equal(media!.media_type, 'VIDEO_FOLDER');
        const info = media!.info.video!;
        assert.ok(Math.abs((info.duration as number) - 6) < 0.5, JSON.stringify(info));
        assert.ok((info.FPS as number) > 0);
        assert.match(info.md5 as string, /^[0-9a-f]{32}$/);
        const [result] = analysis!.results_media;
        assert.equal(result!.source_media_id, media!.media_id);
        assert.ok(result!.results_data!.confidence_spoofing < 0.5);
        const [shot] = result!.output_images;
        const decoded = await sharp(Buffer.from(shot!.image_b64, 'base64')).metadata();
        assert.equal(decoded.format, 'jpeg');
        assert.equal(decoded.width, shot!.info.original.width);
      });
    }

    it('analyses a ZIP of real frames, ignoring entries that are not images', async () => {
      const frames = await framesOfSelfie(8);
      const archive = zip([
        ...frames.map((data, i) => ({ name: `frame_${i}.jpg`, data, deflate: true })),
        { name: '__MACOSX/._frame_0.jpg', data: Buffer.from('resource fork') },
        { name: 'meta.json', data: Buffer.from('{}') },
      ]);
      const response = await postMultipart(url, [{ name: 'frames', filename: 'frames.zip', contentType: 'application/zip', body: archive }, bestShotPayload]);
      const folder = (await response.json()) as Folder;
      assert.equal(folder.media[0]!.media_type, 'SHOTS_SET');
      assert.equal(folder.media[0]!.info.shots_set!.frames, 8);
      assert.equal(folder.analyses[0]!.state, 'FINISHED');
      assert.equal(folder.analyses[0]!.results_media[0]!.output_images.length, 1);
    });

    it('analyses a capture-plugin result object; a virtual camera is always declined', async () => {
      const frames = (await framesOfSelfie(4)).map((jpeg) => `data:image/jpeg;base64,${jpeg.toString('base64')}`);
      const capture = { action: 'video_selfie_blank', best_frame: frames[1], frame_list: frames, from_virtual_camera: null, additional_info: 'x' };
      const ok = (await (await postMultipart(url, [{ name: 'capture', contentType: 'application/json', body: JSON.stringify(capture) }])).json()) as Folder;
      assert.equal(ok.analyses[0]!.resolution_status, 'SUCCESS');
      assert.equal(ok.media[0]!.info.shots_set!.frames, 4);

      const virtual = { action: 'video_selfie_blank', best_frame: null, frame_list: null, from_virtual_camera: { best_frame: frames[1], frame_list: frames } };
      const declined = (await (await postMultipart(url, [{ name: 'capture', contentType: 'application/json', body: JSON.stringify(virtual) }])).json()) as Folder;
      assert.equal(declined.analyses[0]!.resolution_status, 'DECLINED');
      assert.equal(declined.system_resolution, 'DECLINED');
      const results = declined.analyses[0]!.results_media[0]!.results_data!;
      assert.deepEqual([results.confidence_spoofing, results.from_virtual_camera, results.decided_by], [1, true, 'virtual_camera']);
      assert.ok(results.frames_confidence_spoofing! < 0.5, 'the frames themselves look live');
    });

    it('echoes the payload: folder and media metadata, tags, analysis metadata and effective parameters', async () => {
      const response = await postMultipart(url, [
        { name: 'live', filename: 'live.jpg', contentType: 'image/jpeg', body: await readData('spoof/silent_face/real/image_T1.jpg') },
        { name: 'attack', filename: 'attack.jpg', contentType: 'image/jpeg', body: await readData('spoof/silent_face/spoof/image_F1.jpg') },
        payload({
          'folder:meta_data': { partner_side_folder_id: 'p-1' },
          'media:meta_data': { live: { foo: 'bar' } },
          'media:tags': { attack: ['photo_selfie'] },
          resolution_endpoint: 'https://example.invalid/hook',
          analyses: [
            { type: 'quality', meta_data: { some_key: 'some_value' }, params: { threshold_spoofing: 0.42 } },
            { type: 'QUALITY', params: { threshold_spoofing: 1 } },
          ],
        }),
      ]);
      const folder = (await response.json()) as Folder;
      assert.deepEqual(folder.meta_data, { partner_side_folder_id: 'p-1' });
      assert.deepEqual(folder.media.map((m) => [m.original_name, m.media_type, m.tags, m.meta_data]), [
        ['live.jpg', 'IMAGE_FOLDER', [], { foo: 'bar' }],
        ['attack.jpg', 'IMAGE_FOLDER', ['photo_selfie'], {}],
      ]);
      const [strict, lenient] = folder.analyses;
      assert.deepEqual(strict!.confs, { threshold_spoofing: 0.42, extract_best_shot: false });
      assert.deepEqual(strict!.meta_data, { some_key: 'some_value' });
      assert.equal(strict!.resolution_status, 'DECLINED', 'the attack is above 0.42');
      assert.equal(lenient!.resolution_status, 'SUCCESS', 'nothing reaches a threshold of 1');
      assert.equal(folder.system_resolution, 'DECLINED', 'the worst of the analyses');
      assert.notEqual(strict!.analysis_id, lenient!.analysis_id);
    });

    it('fails the analysis, not the request, for a media without a face or that cannot be decoded', async () => {
      const response = await postMultipart(url, [
        { name: 'good', contentType: 'image/jpeg', body: await readData('spoof/silent_face/real/image_T1.jpg') },
        { name: 'blank', contentType: 'image/png', body: await readData('no_face/faceapi/white.png') },
      ]);
      assert.equal(response.status, 200);
      const folder = (await response.json()) as Folder;
      assert.equal(folder.analyses[0]!.state, 'FAILED');
      assert.equal(folder.analyses[0]!.resolution_status, 'FAILED');
      assert.equal(folder.analyses[0]!.error_code, 'LDE-002004');
      assert.match(folder.analyses[0]!.error_message!, /media "blank": no face/);
      assert.equal(folder.system_resolution, 'FAILED');
      assert.equal(folder.resolution_status, 'FAILED');
      assert.equal(folder.analyses[0]!.results_media[1]!.results_data, null);

      const notVideo = (await (await postMultipart(url, [{ name: 'v', filename: 'v.mp4', contentType: 'video/mp4', body: Buffer.from('definitely not a video') }])).json()) as Folder;
      assert.equal(notVideo.analyses[0]!.state, 'FAILED');
    });

    it('leaves no file behind in the temp or working directory after video requests', async () => {
      // A temp directory of our own: other processes on the machine may write to the shared one meanwhile.
      const temp = await mkdtemp(path.join(os.tmpdir(), 'liveness-temp-'));
      const previous = process.env.TMPDIR;
      process.env.TMPDIR = temp;
      try {
        const workingBefore = (await readdir(process.cwd())).sort();
        for (const file of ['selfie_6s.mp4', 'selfie_6s.webm', 'selfie_6s.mov']) {
          await (await postMultipart(url, [{ name: 'm', filename: file, body: await readData('video', file) }])).arrayBuffer();
        }
        await (await postMultipart(url, [{ name: 'm', body: (await readData('video/selfie_6s.mp4')).subarray(0, 20_000) }])).arrayBuffer();
        assert.equal(os.tmpdir(), temp);
        assert.deepEqual(await readdir(temp), []);
        assert.deepEqual((await readdir(process.cwd())).sort(), workingBefore);
      } finally {
        if (previous === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = previous;
        await rm(temp, { recursive: true, force: true });
      }
    });
  });

  describe('errors', () => {
    it('LDE-002001 for a Content-Type that is neither an image nor multipart', async () => {
      for (const type of ['application/json', 'video/mp4', 'text/plain']) {
        await expectError(await postImage(url, Buffer.from('{}'), type), 400, 'LDE-002001');
      }
    });

    it('LDE-002002 for other methods', async () => {
      const response = await fetch(url, { method: 'GET' });
      await expectError(response, 400, 'LDE-002002');
      assert.equal(response.headers.get('allow'), 'POST');
    });

    it('LDE-002005 for media or payload parts declared with a wrong Content-Type', async () => {
      const image = await readData('spoof/silent_face/real/image_T1.jpg');
      await expectError(await postMultipart(url, [{ name: 'm', contentType: 'text/html', body: image }]), 400, 'LDE-002005');
      await expectError(await postMultipart(url, [{ name: 'm', contentType: 'image/jpeg', body: image }, { name: 'payload', contentType: 'image/png', filename: 'p', body: '{}' }]), 400, 'LDE-002005');
    });

    it('LDE-002008 for malformed payload JSON, unknown analyses, thresholds out of range and unknown media keys', async () => {
      const image: RawPart = { name: 'm', contentType: 'image/jpeg', body: await readData('spoof/silent_face/real/image_T1.jpg') };
      const cases = [
        { name: 'payload', body: '{"analyses": [' },
        payload({ analyses: [{ type: 'biometry' }] }),
        payload({ analyses: [{ type: 'quality', params: { threshold_spoofing: 1.5 } }] }),
        payload({ analyses: [{ type: 'quality', params: { threshold_spoofing: -0.1 } }] }),
        payload({ analyses: 'quality' }),
        payload({ 'media:tags': { elsewhere: ['x'] } }),
      ];
      for (const bad of cases) await expectError(await postMultipart(url, [image, bad]), 400, 'LDE-002008');
    });

    it('takes as many media as MAX_IMAGES_PER_REQUEST, with a payload, and refuses one more', async () => {
      const image = await readData('spoof/silent_face/real/image_T1.jpg');
      const media = (count: number): RawPart[] => Array.from({ length: count }, (_, i) => ({ name: `m${i}`, contentType: 'image/jpeg', body: image }));
      const full = await postMultipart(url, [...media(service.config.maxImagesPerRequest), payload({})]);
      assert.equal(full.status, 200);
      assert.equal(((await full.json()) as Folder).media.length, service.config.maxImagesPerRequest);
      await expectError(await postMultipart(url, [...media(service.config.maxImagesPerRequest + 1), payload({})]), 413, 'LDE-002006');
    });

    it('LDE-002007 for a media key used twice; LDE-002004 for a folder without media', async () => {
      const image: RawPart = { name: 'm', contentType: 'image/jpeg', body: await readData('spoof/silent_face/real/image_T1.jpg') };
      await expectError(await postMultipart(url, [image, image]), 400, 'LDE-002007');
      await expectError(await postMultipart(url, [payload({})]), 400, 'LDE-002004');
    });
  });
});

describe('liveness when a model fails', needsData, () => {
  it('LDE-001002 when the anti-spoof model fails to run', async () => {
    const service = await startService({}, { modelId: 'fr_liveness', fault: 'runtime-error' });
    try {
      const url = `${service.url}/v1/face/liveness/detect`;
      await expectError(await postImage(url, await readData('spoof/silent_face/real/image_T1.jpg'), 'image/jpeg'), 400, 'LDE-001002');
      const folder = await postMultipart(url, [{ name: 'm', contentType: 'image/jpeg', body: await readData('spoof/silent_face/real/image_T1.jpg') }]);
      await expectError(folder, 400, 'LDE-001002');
    } finally {
      await service.close();
    }
  });

  it('LDE-001001, without details, when a model answers with outputs we do not expect', async () => {
    const service = await startService({}, { modelId: 'fr_liveness', fault: 'wrong-outputs' });
    try {
      const body = await expectError(await postImage(`${service.url}/v1/face/liveness/detect`, await readData('spoof/silent_face/real/image_T1.jpg'), 'image/jpeg'), 500, 'LDE-001001');
      assert.equal(body.message, 'Liveness detection processor internal error');
    } finally {
      await service.close();
    }
  });
});
