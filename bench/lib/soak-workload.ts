import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { dataPath } from '../../test/helpers/data.js';
import { multipart, type RawPart } from '../../test/helpers/multipart.js';
import { deflatedZeros, zip } from '../../test/helpers/zip.js';
import { benchPhotos, readBenchData, selfie720 } from './images.js';
import { extractTemplates } from './templates.js';

/** What a soak request must get: a status, and for errors the catalogue code; for 200s, text the body must hold. */
export interface SoakExpectation {
  status: number;
  code?: string;
  bodyIncludes?: string;
}

export interface SoakRequest {
  name: string;
  /** Share of the workload, relative to the other requests' weights. */
  weight: number;
  valid: boolean;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  expect: SoakExpectation;
}

const pattern = (method: string): string => `/v1/face/pattern/${method}`;
const LIVENESS = '/v1/face/liveness/detect';

function post(name: string, weight: number, path: string, contentType: string, body: Buffer | string, expect: SoakExpectation, extraHeaders: Record<string, string> = {}): SoakRequest {
  return {
    name,
    weight,
    valid: expect.status === 200 && !expect.bodyIncludes?.includes('FAILED'),
    method: 'POST',
    path,
    headers: { 'content-type': contentType, ...extraHeaders },
    body: Buffer.from(body),
    expect,
  };
}

function postParts(name: string, weight: number, path: string, parts: readonly RawPart[], expect: SoakExpectation): SoakRequest {
  const { body, contentType } = multipart(parts);
  return post(name, weight, path, contentType, body, expect);
}

const templatePart = (name: string, body: Buffer, filename?: string): RawPart => ({ name, contentType: 'application/octet-stream', body, ...(filename ? { filename } : {}) });

/**
 * The soak's mix: the valid requests clients send most (about 60 % of requests) and the malformed ones a careless or
 * hostile client sends (about 40 %), each with the answer the README documents for it.
 */
export async function soakWorkload(serviceUrl: string): Promise<SoakRequest[]> {
  const selfie = await selfie720();
  const face = await readBenchData(benchPhotos.lfw250);
  const otherFace = await readBenchData(benchPhotos.secondLfw250);
  const video = await readBenchData(benchPhotos.video);
  const noFace = await readFile(dataPath('no_face', 'compreface', '017_0.jpg'));
  const templates = await extractTemplates(serviceUrl);
  const probe = templates[0]!;
  const gallery = (n: number): RawPart[] => Array.from({ length: n }, (_, i) => templatePart('templates_n', templates[i % templates.length]!, `${i}.template`));
  const frames = await Promise.all([0.9, 0.95, 1].map((scale) => sharp(face).resize(Math.round(250 * scale)).jpeg().toBuffer()));
  const truncatedMp4 = video.subarray(0, Math.floor(video.length / 3));
  const tamperedTemplate = Buffer.from(probe);
  tamperedTemplate.writeFloatLE(Number.NaN, tamperedTemplate.length - 4);
  const unterminated = multipart([templatePart('template_1', probe), ...gallery(10)]);

  return [
    post('extract 720p', 8, pattern('extract'), 'image/jpeg', selfie, { status: 200 }),
    post('extract 250² base64', 2, pattern('extract'), 'image/jpeg', face.toString('base64'), { status: 200 }, { 'content-transfer-encoding': 'base64' }),
    postParts('extract_and_compare', 4, pattern('extract_and_compare'), [
      { name: 'sample_1', contentType: 'image/jpeg', body: face },
      { name: 'sample_2', contentType: 'image/jpeg', body: otherFace },
    ], { status: 200, bodyIncludes: '"score"' }),
    postParts('verify_n N=100', 2, pattern('verify_n'), [{ name: 'sample_1', contentType: 'image/jpeg', body: face }, ...gallery(100)], { status: 200, bodyIncludes: '"results"' }),
    postParts('compare_n N=1000', 2, pattern('compare_n'), [templatePart('template_1', probe), ...gallery(1000)], { status: 200, bodyIncludes: '"results"' }),
    post('liveness image 720p', 6, LIVENESS, 'image/jpeg', selfie, { status: 200, bodyIncludes: '"passed"' }),
    postParts('liveness video 6 s', 1, LIVENESS, [{ name: 'video', filename: 'selfie_6s.mp4', contentType: 'video/mp4', body: video }], { status: 200, bodyIncludes: '"SUCCESS"' }),
    postParts('liveness ZIP of frames', 1, LIVENESS, [
      { name: 'frames', filename: 'frames.zip', contentType: 'application/zip', body: zip(frames.map((data, i) => ({ name: `frame_${i}.jpg`, data }))) },
    ], { status: 200, bodyIncludes: '"SUCCESS"' }),

    post('extract: truncated JPEG', 2, pattern('extract'), 'image/jpeg', selfie.subarray(0, selfie.length >> 1), { status: 400, code: 'BPE-002003' }),
    post('extract: no face', 2, pattern('extract'), 'image/jpeg', noFace, { status: 400, code: 'BPE-003002' }),
    post('extract: empty body', 1, pattern('extract'), 'image/jpeg', Buffer.alloc(0), { status: 400, code: 'BPE-002003' }),
    post('extract: text/plain body', 1, pattern('extract'), 'text/plain', 'not an image', { status: 400, code: 'BPE-002001' }),
    post('extract: invalid base64', 1, pattern('extract'), 'image/jpeg', '!!not*base64!!', { status: 400, code: 'BPE-002003' }, { 'content-transfer-encoding': 'base64' }),
    postParts('compare: NaN in template', 2, pattern('compare'), [templatePart('bio_feature', probe), templatePart('bio_template', tamperedTemplate)], { status: 400, code: 'BPE-002004' }),
    postParts('compare: template declared as an image', 1, pattern('compare'), [templatePart('bio_feature', probe), { name: 'bio_template', contentType: 'image/jpeg', body: probe }], { status: 400, code: 'BPE-002005' }),
    post('compare_n: unterminated multipart', 1, pattern('compare_n'), unterminated.contentType, unterminated.body.subarray(0, unterminated.body.length - 40), { status: 400, code: 'BPE-002007' }),
    postParts('compare_n: templates_n without filename', 1, pattern('compare_n'), [templatePart('template_1', probe), templatePart('templates_n', probe)], { status: 400, code: 'BPE-002007' }),
    postParts('liveness: malformed payload', 1, LIVENESS, [
      { name: 'media', contentType: 'image/jpeg', body: face },
      { name: 'payload', contentType: 'application/json', body: '{"analyses": [' },
    ], { status: 400, code: 'LDE-002008' }),
    postParts('liveness: truncated MP4', 1, LIVENESS, [{ name: 'video', filename: 'cut.mp4', contentType: 'video/mp4', body: truncatedMp4 }], { status: 200, bodyIncludes: '"FAILED"' }),
    postParts('liveness: ZIP bomb', 1, LIVENESS, [
      { name: 'frames', filename: 'bomb.zip', contentType: 'application/zip', body: zip([{ name: 'frame.jpg', deflated: deflatedZeros(1024), size: 2 ** 30, crc: 0 }]) },
    ], { status: 200, bodyIncludes: '"FAILED"' }),
    { name: 'extract: GET', weight: 1, valid: false, method: 'GET', path: pattern('extract'), headers: {}, expect: { status: 400, code: 'BPE-002002' } },
    post('unknown route', 1, '/v1/face/pattern/enroll', 'image/jpeg', face, { status: 404, code: 'SVC-004004' }),
  ];
}

/** Picks requests in proportion to their weights, from a deterministic sequence so runs are comparable. */
export function weightedPicker(requests: readonly SoakRequest[], seed = 1): () => SoakRequest {
  const total = requests.reduce((sum, r) => sum + r.weight, 0);
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    let ticket = (state / 2 ** 32) * total;
    for (const request of requests) {
      ticket -= request.weight;
      if (ticket < 0) return request;
    }
    return requests.at(-1)!;
  };
}
