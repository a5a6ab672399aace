import type { Request } from 'express';
import type { AppDeps, Route } from '../app.js';
import type { Match, Named } from '../biometry/biometry.js';
import type { Decision } from '../biometry/score.js';
import { clientName, ServiceError } from '../errors.js';
import { type MultipartLimits, multipartBody, type Part, partBytes, type PartSpec, partsOf, selectParts } from './multipart.js';
import { sendMultipart } from './multipart-response.js';
import { base64Allowance, imageBody } from './body.js';
import { sendJson } from './json.js';
import { usesBase64 } from './request.js';

/** The JSON of one 1:N result besides its filename's, at its longest, and of the answer around the results. */
const RESULT_BYTES = JSON.stringify({ filename: '', score: 0.1234, decision: 'operator_required' }).length - 2 + 1;
const ANSWER_BYTES = JSON.stringify({ results: [] }).length;

/** Templates go out raw, or as base64 text when the client asked for base64 transfer. */
const templateOut = (req: Request, template: Buffer): Buffer => (usesBase64(req) ? Buffer.from(template.toString('base64'), 'latin1') : template);

export function patternRoutes(deps: AppDeps): Route[] {
  const { config, biometry, metrics } = deps;
  const counted = <T extends Match | Match[]>(result: T): T => {
    const tally = new Map<Decision, number>();
    for (const match of Array.isArray(result) ? result : [result]) tally.set(match.decision, (tally.get(match.decision) ?? 0) + 1);
    for (const [decision, count] of tally) metrics.countDecision(decision, count);
    return result;
  };
  const limits = (maxParts: number): MultipartLimits => ({
    maxBodyBytes: config.maxRequestBytes,
    maxPartBytes: base64Allowance(config.maxImageBytes),
    maxParts,
  });
  const pairLimits = limits(4);
  const templatesLimits = limits(config.maxTemplatesPerRequest + 1);
  const imagesLimits = limits(config.maxImagesPerRequest + 1);

  const image = (req: Request, part: Part): Buffer => {
    const bytes = partBytes(part, 'image', usesBase64(req));
    if (bytes.length > config.maxImageBytes) throw new ServiceError('too-large', `part "${clientName(part.name)}" exceeds ${config.maxImageBytes} bytes`);
    return bytes;
  };
  const template = (req: Request, part: Part): Buffer => partBytes(part, 'template', usesBase64(req));
  /** 1:N candidates, decoded; a candidate that fails is named by its position and filename, as the matching names it. */
  const named = (req: Request, parts: Part[], decode: (req: Request, part: Part) => Buffer, what: 'template' | 'sample'): Named[] =>
    parts.map((part, index) => {
      try {
        return { filename: part.filename!, bytes: decode(req, part) };
      } catch (error) {
        if (!(error instanceof ServiceError)) throw error;
        const candidate = `${what} ${index + 1} ("${clientName(part.filename!)}")`;
        throw new ServiceError(error.kind, error.detail ? `${candidate}: ${error.detail}` : candidate);
      }
    });
  /**
   * 1:N candidates, at most `limit` of them, whose results (named by their filenames) fit in MAX_RESPONSE_BYTES:
   * checked before any is decoded, so that filenames chosen to bloat the answer (a control character is six
   * characters of JSON) cost nothing but this sum.
   */
  const atMost = (parts: Part[], limit: number, what: string): Part[] => {
    if (parts.length > limit) throw new ServiceError('too-large', `${parts.length} ${what}; at most ${limit} per request`);
    const answerBytes = parts.reduce((sum, part) => sum + Buffer.byteLength(JSON.stringify(part.filename ?? '')) + RESULT_BYTES, ANSWER_BYTES);
    if (answerBytes > config.maxResponseBytes) {
      throw new ServiceError('too-large', `the results of these ${parts.length} ${what} would take ${answerBytes} bytes; at most ${config.maxResponseBytes}`);
    }
    return parts;
  };
  const templatesN: PartSpec = { kind: 'template', repeated: true, needsFilename: true };
  const templateCandidates = (req: Request, parts: Part[]): Named[] =>
    named(req, atMost(parts, config.maxTemplatesPerRequest, 'templates'), template, 'template');

  return [
    {
      method: 'post',
      inference: { maxBodyBytes: base64Allowance(config.maxImageBytes) },
      path: '/v1/face/pattern/extract',
      body: imageBody(config.maxImageBytes),
      handlers: [
        async (req, res) => {
          const template = await biometry.extract(req.body as Buffer);
          res.type('application/octet-stream');
          if (usesBase64(req)) res.set('Content-Transfer-Encoding', 'base64');
          res.send(templateOut(req, template));
        },
      ],
    },
    {
      method: 'post',
      inference: { maxBodyBytes: config.maxRequestBytes },
      path: '/v1/face/pattern/compare',
      body: multipartBody(pairLimits),
      handlers: [
        (req, res) => {
          const parts = selectParts(partsOf(req), { bio_feature: { kind: 'template' }, bio_template: { kind: 'template' } });
          res.json(counted(biometry.compare(template(req, parts.bio_feature[0]!), template(req, parts.bio_template[0]!))));
        },
      ],
    },
    {
      method: 'post',
      inference: { maxBodyBytes: config.maxRequestBytes },
      path: '/v1/face/pattern/verify',
      body: multipartBody(pairLimits),
      handlers: [
        async (req, res) => {
          const parts = selectParts(partsOf(req), { sample: { kind: 'image' }, bio_template: { kind: 'template' } });
          const result = counted(await biometry.verify(image(req, parts.sample[0]!), template(req, parts.bio_template[0]!)));
          sendMultipart(res, [
            { name: 'score', contentType: 'application/json', body: JSON.stringify({ score: result.score, decision: result.decision }) },
            { name: 'bio_feature', filename: 'bio_feature', contentType: 'application/octet-stream', body: templateOut(req, result.template) },
          ]);
        },
      ],
    },
    {
      method: 'post',
      inference: { maxBodyBytes: config.maxRequestBytes },
      path: '/v1/face/pattern/extract_and_compare',
      body: multipartBody(pairLimits),
      handlers: [
        async (req, res) => {
          const parts = selectParts(partsOf(req), { sample_1: { kind: 'image' }, sample_2: { kind: 'image' } });
          res.json(counted(await biometry.extractAndCompare(image(req, parts.sample_1[0]!), image(req, parts.sample_2[0]!))));
        },
      ],
    },
    {
      method: 'post',
      inference: { maxBodyBytes: config.maxRequestBytes },
      path: '/v1/face/pattern/compare_n',
      body: multipartBody(templatesLimits),
      handlers: [
        (req, res) => {
          const parts = selectParts(partsOf(req), { template_1: { kind: 'template' }, templates_n: templatesN });
          sendJson(res, { results: counted(biometry.compareN(template(req, parts.template_1[0]!), templateCandidates(req, parts.templates_n))) }, config.maxResponseBytes);
        },
      ],
    },
    {
      method: 'post',
      inference: { maxBodyBytes: config.maxRequestBytes },
      path: '/v1/face/pattern/verify_n',
      body: multipartBody(templatesLimits),
      handlers: [
        async (req, res) => {
          const parts = selectParts(partsOf(req), { sample_1: { kind: 'image' }, templates_n: templatesN });
          sendJson(res, { results: counted(await biometry.verifyN(image(req, parts.sample_1[0]!), templateCandidates(req, parts.templates_n))) }, config.maxResponseBytes);
        },
      ],
    },
    {
      method: 'post',
      inference: { maxBodyBytes: config.maxRequestBytes },
      path: '/v1/face/pattern/extract_and_compare_n',
      body: multipartBody(imagesLimits),
      handlers: [
        async (req, res) => {
          const parts = selectParts(partsOf(req), {
            sample_1: { kind: 'image' },
            samples_n: { kind: 'image', repeated: true, needsFilename: true },
          });
          const candidates = named(req, atMost(parts.samples_n, config.maxImagesPerRequest, 'images'), image, 'sample');
          sendJson(res, { results: counted(await biometry.extractAndCompareN(image(req, parts.sample_1[0]!), candidates)) }, config.maxResponseBytes);
        },
      ],
    },
  ];
}
