import { multipart, type RawPart } from '../../test/helpers/multipart.js';
import { benchPhotos, type ExtractImage, extractImages, readBenchData } from './images.js';
import type { RequestSpec } from './load-generator.js';
import { extractTemplates } from './templates.js';

export interface Scenario extends RequestSpec {
  name: string;
  description: string;
  /** Checks one answer's body beyond its status: the benchmark must measure real work, not a fast error. */
  check(body: Buffer): string | undefined;
}

const templatesN = (templates: readonly Buffer[], n: number): RawPart[] =>
  Array.from({ length: n }, (_, i) => ({ name: 'templates_n', filename: `${i}.template`, contentType: 'application/octet-stream', body: templates[i % templates.length]! }));

const multipartSpec = (path: string, parts: readonly RawPart[]): Pick<RequestSpec, 'path' | 'body' | 'contentType'> => {
  const { body, contentType } = multipart(parts);
  return { path, body, contentType };
};

const json = <T>(body: Buffer): T => JSON.parse(body.toString('utf8')) as T;
const TEMPLATE_BYTES = 2064;

function extractScenario(image: ExtractImage): Scenario {
  return {
    name: `extract ${image.label}`,
    description: `POST /v1/face/pattern/extract, image/jpeg body (${(image.bytes.length / 1024).toFixed(0)} KB)`,
    path: '/v1/face/pattern/extract',
    body: image.bytes,
    contentType: 'image/jpeg',
    check: (body) => (body.length === TEMPLATE_BYTES ? undefined : `template of ${body.length} bytes`),
  };
}

function resultsOf(n: number): (body: Buffer) => string | undefined {
  return (body) => {
    const count = json<{ results?: unknown[] }>(body).results?.length;
    return count === n ? undefined : `${String(count)} results, expected ${n}`;
  };
}

/** Every scenario of the load benchmark; templates come from `serviceUrl`, the service under test. */
export async function loadScenarios(serviceUrl: string): Promise<Scenario[]> {
  const images = await extractImages();
  const templates = await extractTemplates(serviceUrl);
  const secondFace = await readBenchData(benchPhotos.secondLfw250);
  const video = await readBenchData(benchPhotos.video);
  return [
    extractScenario(images.lfw250),
    extractScenario(images.selfie720),
    extractScenario(images.portrait),
    extractScenario(images.phone12),
    extractScenario(images.phone36),
    extractScenario(images.passport),
    {
      name: 'extract_and_compare 2×250²',
      description: 'POST /v1/face/pattern/extract_and_compare, two LFW 250×250 faces',
      ...multipartSpec('/v1/face/pattern/extract_and_compare', [
        { name: 'sample_1', contentType: 'image/jpeg', body: images.lfw250.bytes },
        { name: 'sample_2', contentType: 'image/jpeg', body: secondFace },
      ]),
      check: (body) => (typeof json<{ score?: unknown }>(body).score === 'number' ? undefined : 'no score'),
    },
    {
      name: 'verify_n N=100',
      description: 'POST /v1/face/pattern/verify_n, LFW 250×250 sample and 100 templates',
      ...multipartSpec('/v1/face/pattern/verify_n', [{ name: 'sample_1', contentType: 'image/jpeg', body: images.lfw250.bytes }, ...templatesN(templates, 100)]),
      check: resultsOf(100),
    },
    {
      name: 'compare_n N=10000',
      description: 'POST /v1/face/pattern/compare_n, one template against 10,000',
      ...multipartSpec('/v1/face/pattern/compare_n', [
        { name: 'template_1', contentType: 'application/octet-stream', body: templates[0]! },
        ...templatesN(templates, 10_000),
      ]),
      check: resultsOf(10_000),
    },
    {
      name: 'liveness image 720p',
      description: 'POST /v1/face/liveness/detect, the 1280×720 selfie as image/jpeg',
      path: '/v1/face/liveness/detect',
      body: images.selfie720.bytes,
      contentType: 'image/jpeg',
      check: (body) => (typeof json<{ score?: unknown }>(body).score === 'number' ? undefined : 'no score'),
    },
    {
      name: 'liveness video 6 s',
      description: 'POST /v1/face/liveness/detect, multipart with video/selfie_6s.mp4',
      ...multipartSpec('/v1/face/liveness/detect', [{ name: 'media_key1', filename: 'selfie_6s.mp4', contentType: 'video/mp4', body: video }]),
      check: (body) => (body.includes('"SUCCESS"') || body.includes('"DECLINED"') ? undefined : `no resolution: ${body.subarray(0, 200).toString()}`),
    },
  ];
}

/** Sends the scenario's request once; throws with the answer when it is not a 200 with the expected body. */
export async function checkScenario(serviceUrl: string, scenario: Scenario): Promise<void> {
  const response = await fetch(`${serviceUrl}${scenario.path}`, { method: 'POST', body: scenario.body, headers: { 'content-type': scenario.contentType } });
  const body = Buffer.from(await response.arrayBuffer());
  const problem = response.status === 200 ? scenario.check(body) : `HTTP ${response.status}: ${body.subarray(0, 300).toString()}`;
  if (problem) throw new Error(`${scenario.name}: ${problem}`);
}
