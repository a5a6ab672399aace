import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { mjpegAvi } from '../helpers/avi.js';
import { drawScene, type DrawnFace, PRINTED_SKIN } from '../helpers/fake-models.js';
import { startFastService } from '../helpers/fast-service.js';
import { postMultipart, type RawPart } from '../helpers/multipart.js';
import { expectError, postImage, type TestService } from '../helpers/service.js';
import { zip } from '../helpers/zip.js';

interface Folder {
  system_resolution: string;
  media: { media_type: string; info: Record<string, Record<string, unknown>> }[];
  analyses: {
    state: string;
    resolution_status: string;
    results_media: {
      results_data: { confidence_spoofing: number; decided_by: string } | null;
      output_images: { image_b64: string; info: { original: { width: number; height: number } } }[];
    }[];
  }[];
}

const WIDTH = 400;
const HEIGHT = 300;
const face = (place: Partial<DrawnFace> = {}): DrawnFace => ({ person: 'ada', x: 200, y: 150, radius: 70, ...place });
/** A face turning its head: it drifts across the frame, as a live one does between frames. */
const moving = (count: number, place: Partial<DrawnFace> = {}): Promise<Buffer[]> =>
  Promise.all(Array.from({ length: count }, (_, i) => drawScene(WIDTH, HEIGHT, [face({ x: 160 + 12 * i, ...place })])));

const bestShotPayload: RawPart = { name: 'payload', body: JSON.stringify({ analyses: [{ type: 'quality', params: { extract_best_shot: true } }] }) };
const archive = (frames: readonly Buffer[]): RawPart => ({
  name: 'frames',
  filename: 'frames.zip',
  contentType: 'application/zip',
  body: zip(frames.map((data, i) => ({ name: `frame_${i}.jpg`, data, deflate: true }))),
});

describe('liveness over fake models (fast tier)', () => {
  let service: TestService;
  const url = (): string => `${service.url}/v1/face/liveness/detect`;
  const folder = async (parts: RawPart[]): Promise<Folder> => {
    const response = await postMultipart(url(), parts);
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as Folder;
  };

  before(async () => {
    service = await startFastService();
  });
  after(() => service.close());

  describe('single image', () => {
    it('passes a live face and fails its printed copy', async () => {
      const live = (await (await postImage(url(), await drawScene(WIDTH, HEIGHT, [face()]), 'image/jpeg')).json()) as { passed: boolean; score: number };
      assert.equal(live.passed, true, JSON.stringify(live));
      assert.ok(live.score < 0.1, JSON.stringify(live));
      const printed = (await (await postImage(url(), await drawScene(WIDTH, HEIGHT, [face({ skin: PRINTED_SKIN })]), 'image/jpeg')).json()) as { passed: boolean; score: number };
      assert.equal(printed.passed, false, JSON.stringify(printed));
      assert.ok(printed.score > 0.9, JSON.stringify(printed));
    });

    it('refuses an image without a face (LDE-002004)', async () => {
      await expectError(await postImage(url(), await drawScene(WIDTH, HEIGHT, [], 'png'), 'image/png'), 400, 'LDE-002004');
    });
  });

  describe('folder', () => {
    it('analyses a ZIP of frames of a moving live face to SUCCESS, with its best shot', async () => {
      const result = await folder([archive(await moving(6)), bestShotPayload]);
      assert.equal(result.media[0]!.media_type, 'SHOTS_SET');
      assert.equal(result.media[0]!.info.shots_set!.frames, 6);
      const [analysis] = result.analyses;
      assert.equal(analysis!.state, 'FINISHED');
      assert.equal(analysis!.resolution_status, 'SUCCESS');
      assert.equal(result.system_resolution, 'SUCCESS');
      const [media] = analysis!.results_media;
      assert.equal(media!.results_data!.decided_by, 'frames');
      assert.ok(media!.results_data!.confidence_spoofing < 0.5);
      const [shot] = media!.output_images;
      const decoded = await sharp(Buffer.from(shot!.image_b64, 'base64')).metadata();
      assert.deepEqual([decoded.format, decoded.width, decoded.height], ['jpeg', shot!.info.original.width, shot!.info.original.height]);
    });

    it('declines frames that never change (a still) and frames of a printed face', async () => {
      const still = await drawScene(WIDTH, HEIGHT, [face()]);
      const frozen = await folder([archive(Array.from({ length: 6 }, () => still))]);
      assert.equal(frozen.analyses[0]!.resolution_status, 'DECLINED');
      assert.equal(frozen.analyses[0]!.results_media[0]!.results_data!.decided_by, 'still_image');
      const printed = await folder([archive(await moving(6, { skin: PRINTED_SKIN }))]);
      assert.equal(printed.analyses[0]!.resolution_status, 'DECLINED');
      assert.equal(printed.analyses[0]!.results_media[0]!.results_data!.decided_by, 'frames');
    });

    it('declines frames in which the person changes', async () => {
      const frames = [...(await moving(3)), ...(await moving(3, { person: 'bob' }))];
      const result = await folder([archive(frames)]);
      assert.equal(result.analyses[0]!.resolution_status, 'DECLINED');
      assert.equal(result.analyses[0]!.results_media[0]!.results_data!.decided_by, 'identity_change');
    });

    it('analyses a video (Motion-JPEG AVI) decoded by ffmpeg', async () => {
      const video = mjpegAvi(await moving(8), WIDTH, HEIGHT);
      const result = await folder([{ name: 'clip', filename: 'clip.avi', contentType: 'video/x-msvideo', body: video }]);
      assert.equal(result.media[0]!.media_type, 'VIDEO_FOLDER');
      assert.equal(result.analyses[0]!.resolution_status, 'SUCCESS', JSON.stringify(result.analyses[0]!.results_media[0]!.results_data));
    });
  });
});
