/**
 * Photos as users send them (lib/images.ts: portrait selfies, 12–36 MP phone photos, document scans, LFW), each sent
 * alone to the compiled service over HTTP, one request at a time: extract latency per photo and per class, the face
 * search it took (detector passes per request, from the service's own metrics), and for every photo the time sharp
 * takes merely to decode it whole, measured in this run, interleaved with the requests.
 *
 *   npm run bench:user-photos [-- --requests 15 --no-build]
 */
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { waitForQuietMachine } from './lib/cpu.js';
import { type PhotoClass, type UserPhoto, userPhotos } from './lib/images.js';
import { positiveNumber } from './lib/options.js';
import { type RunInfo, runInfo, writeResults } from './lib/run-info.js';
import { buildService, startServiceProcess } from './lib/service-process.js';
import { median } from '../src/statistics.js';
import { textTable } from './lib/table.js';
import { USER_PHOTO_STAGES, userPhotoHeaders, userPhotoRows } from './lib/user-photo-table.js';

export interface PhotoResult {
  id: string;
  photoClass: PhotoClass;
  label: string;
  width: number;
  height: number;
  /** HTTP status of the answers (all equal, or the first that differed). */
  status: number;
  extractP50Ms: number;
  /** sharp decoding the whole JPEG to RGB (EXIF rotation applied), in this process: the cost of reading every pixel. */
  fullDecodeP50Ms: number;
  /** Detector passes per request, from the service's detector_pass stage count. */
  detectorRunsPerRequest: number;
  /** Stage time per request from the service's metrics, ms. */
  stagesMs: Record<string, number>;
}

export interface UserPhotosReport {
  run: RunInfo;
  requestsPerPhoto: number;
  photos: PhotoResult[];
}

const { values: options } = parseArgs({ options: { requests: { type: 'string', default: '15' }, 'no-build': { type: 'boolean', default: false } } });
const requests = positiveNumber(options.requests, 'requests');

if (!options['no-build']) buildService();
await waitForQuietMachine();
const service = await startServiceProcess();

const stageSum = (text: string, stage: string): number =>
  Number(new RegExp(`^face_api_stage_duration_seconds_sum\\{stage="${stage}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
const detectorRuns = (text: string): number => Number(/^face_api_stage_duration_seconds_count\{stage="detector_pass"\} (\S+)$/m.exec(text)?.[1] ?? 0);
const metricsText = async (): Promise<string> => (await fetch(`${service.url}/metrics`)).text();

async function extractOnce(photo: UserPhoto): Promise<{ ms: number; status: number }> {
  const started = performance.now();
  const response = await fetch(`${service.url}/v1/face/pattern/extract`, { method: 'POST', body: photo.bytes, headers: { 'content-type': photo.contentType } });
  await response.arrayBuffer();
  return { ms: performance.now() - started, status: response.status };
}

async function fullDecodeOnce(photo: UserPhoto): Promise<number> {
  const started = performance.now();
  await sharp(photo.bytes).rotate().raw().toBuffer();
  return performance.now() - started;
}

try {
  const photos = await userPhotos();
  const results: PhotoResult[] = [];
  for (const photo of photos) {
    const { width = 0, height = 0, orientation = 1 } = await sharp(photo.bytes).metadata();
    for (let i = 0; i < 2; i++) await extractOnce(photo);
    const before = await metricsText();
    const extracts: number[] = [];
    const decodes: number[] = [];
    let status = 0;
    for (let i = 0; i < requests; i++) {
      const answer = await extractOnce(photo);
      if (status === 0 || answer.status !== 200) status = answer.status;
      extracts.push(answer.ms);
      decodes.push(await fullDecodeOnce(photo));
    }
    const after = await metricsText();
    results.push({
      id: photo.id,
      photoClass: photo.photoClass,
      label: photo.label,
      width: orientation >= 5 ? height : width,
      height: orientation >= 5 ? width : height,
      status,
      extractP50Ms: median(extracts),
      fullDecodeP50Ms: median(decodes),
      detectorRunsPerRequest: (detectorRuns(after) - detectorRuns(before)) / requests,
      stagesMs: Object.fromEntries(USER_PHOTO_STAGES.map((stage) => [stage, ((stageSum(after, stage) - stageSum(before, stage)) * 1000) / requests])),
    });
    console.log(`${photo.id}: done`);
  }
  const report: UserPhotosReport = { run: runInfo({ LOG_LEVEL: service.config.logLevel }, []), requestsPerPhoto: requests, photos: results };
  console.log(`\n${textTable(userPhotoHeaders, userPhotoRows(results))}\n`);
  console.log(`results: ${await writeResults('user-photos', report)}`);
} finally {
  await service.stop();
}
