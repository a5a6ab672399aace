import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { dataPath } from '../../test/helpers/data.js';

/** The photos every benchmark uses, from the shared data (read in place, never copied). */
export const benchPhotos = {
  lfw250: 'faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg',
  secondLfw250: 'faces/lfw_color/Colin_Powell/Colin_Powell_0001.jpg',
  selfieSource: 'faces/face_recognition_examples/barack_obama/obama1.jpg',
  passport: 'documents/passporteye_tests/passport-td3.jpg',
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

/** A selfie-like 1280×720 JPEG (quality 90), made in memory from a real photo: the size phones upload. */
export async function selfie720(): Promise<Buffer> {
  return sharp(await readBenchData(benchPhotos.selfieSource)).resize(1280, 720, { fit: 'cover' }).jpeg({ quality: 90 }).toBuffer();
}

export type ExtractImageName = 'lfw250' | 'selfie720' | 'passport';

export interface ExtractImage {
  name: ExtractImageName;
  label: string;
  bytes: Buffer;
}

export async function extractImages(): Promise<Record<ExtractImageName, ExtractImage>> {
  return {
    lfw250: { name: 'lfw250', label: 'LFW 250×250', bytes: await readBenchData(benchPhotos.lfw250) },
    selfie720: { name: 'selfie720', label: 'selfie 1280×720', bytes: await selfie720() },
    passport: { name: 'passport', label: 'passport scan', bytes: await readBenchData(benchPhotos.passport) },
  };
}
