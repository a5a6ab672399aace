/**
 * The biometry area (/v1/face/pattern/*, BPE-… codes; the published API calls it "Biometry"): its part names,
 * filenames and the wire form of templates and results.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Biometry, Match } from '../biometry/biometry.js';
import type { Decision } from '../biometry/score.js';
import type { Config } from '../config.js';
import { aboutItem, clientName, ServiceError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import { type MultipartLimits, multipartBody, type Part, partBytes, type PartSpec, partsOf, selectParts } from './multipart.js';
import { sendMultipart } from './multipart-response.js';
import { base64Allowance, imageBody } from './body.js';
import { sendJson } from './json.js';
import { usesBase64 } from './request.js';
import type { Route } from './route.js';

/** The JSON of one 1:N result besides its filename's, at its longest, and of the answer around the results. */
const RESULT_BYTES = JSON.stringify({ filename: '', score: 0.1234, decision: 'operator_required' }).length - 2 + 1;
const ANSWER_BYTES = JSON.stringify({ results: [] }).length;

/** Templates go out raw, or as base64 text when the client asked for base64 transfer. */
const templateOut = (req: Request, template: Buffer): Buffer => (usesBase64(req) ? Buffer.from(template.toString('base64'), 'latin1') : template);

export interface BiometryRouteDeps {
  config: Pick<Config, 'maxRequestBytes' | 'maxImageBytes' | 'maxTemplatesPerRequest' | 'maxImagesPerRequest' | 'maxResponseBytes'>;
  /** The use cases, once the app serves the API (its routes are not reached before: see App.serve). */
  biometry: () => Biometry;
  metrics: Pick<Metrics, 'countDecision'>;
}

/** How a route names the inputs of its use case in messages (see FailureContext); undefined names none. */
type ItemNames = (item: number) => string | undefined;

const partNamed = (name: string): string => `part "${name}"`;
/** A 1:N candidate, by its position (from 1, as the use case counts it after the probe) and filename. */
const candidateNamed =
  (what: 'template' | 'sample', parts: readonly Part[]) =>
  (item: number): string =>
    `${what} ${item} ("${clientName(parts[item - 1]!.filename!)}")`;

/** Runs a route's work, naming in its message the input a failure is about. */
async function naming<T>(names: ItemNames, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const shown = error instanceof ServiceError && error.item !== undefined ? names(error.item) : undefined;
    if (shown === undefined) throw error;
    const failure = error as ServiceError;
    throw new ServiceError(failure.kind, failure.detail ? `${shown}: ${failure.detail}` : shown, { cause: failure.cause });
  }
}

/** 1:N results, named by the filenames of their candidates' parts. */
const byFilename = (parts: readonly Part[], matches: readonly Match[]): ({ filename: string } & Match)[] =>
  matches.map((match, index) => ({ filename: parts[index]!.filename!, ...match }));

export function biometryRoutes(deps: BiometryRouteDeps): Route[] {
  const { config, metrics } = deps;
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
  /** 1:N candidates, decoded; a candidate that fails is placed at its item, as the use case places its failures. */
  const candidates = (req: Request, parts: Part[], decode: (req: Request, part: Part) => Buffer): Buffer[] =>
    parts.map((part, index) => {
      try {
        return decode(req, part);
      } catch (error) {
        throw aboutItem(error, index + 1);
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
  const templateCandidates = (req: Request, parts: Part[]): Buffer[] => candidates(req, atMost(parts, config.maxTemplatesPerRequest, 'templates'), template);

  /** A method taking multipart/form-data, with the part limits it reads within. */
  const multipartRoute = (method: string, partLimits: MultipartLimits, handler: RequestHandler): Route => ({
    method: 'post',
    path: `/v1/face/pattern/${method}`,
    area: 'biometry',
    inference: { maxBodyBytes: config.maxRequestBytes },
    body: multipartBody(partLimits),
    handlers: [handler],
  });
  /**
   * The answer of a 1:N method: its results named by the candidates' filenames; a failure about the probe named
   * `probe` (or not at all), one about a candidate by its position and filename.
   */
  const answerN = async (res: Response, probe: string | undefined, what: 'template' | 'sample', candidateParts: Part[], work: () => Match[] | Promise<Match[]>) => {
    const candidate = candidateNamed(what, candidateParts);
    const matches = await naming((item) => (item === 0 ? probe : candidate(item)), work);
    sendJson(res, { results: counted(byFilename(candidateParts, matches)) }, config.maxResponseBytes);
  };

  return [
    {
      method: 'post',
      inference: { maxBodyBytes: base64Allowance(config.maxImageBytes) },
      path: '/v1/face/pattern/extract',
      area: 'biometry',
      body: imageBody(config.maxImageBytes),
      handlers: [
        async (req, res) => {
          const template = await naming(() => undefined, () => deps.biometry().extract(req.body as Buffer));
          res.type('application/octet-stream');
          if (usesBase64(req)) res.set('Content-Transfer-Encoding', 'base64');
          res.send(templateOut(req, template));
        },
      ],
    },
    multipartRoute('compare', pairLimits, async (req, res) => {
      const parts = selectParts(partsOf(req), { bio_feature: { kind: 'template' }, bio_template: { kind: 'template' } });
      const names = (item: number): string => partNamed(item === 0 ? 'bio_feature' : 'bio_template');
      res.json(counted(await naming(names, () => deps.biometry().compare(template(req, parts.bio_feature[0]!), template(req, parts.bio_template[0]!)))));
    }),
    multipartRoute('verify', pairLimits, async (req, res) => {
      const parts = selectParts(partsOf(req), { sample: { kind: 'image' }, bio_template: { kind: 'template' } });
      const names = (item: number): string | undefined => (item === 0 ? undefined : partNamed('bio_template'));
      const result = counted(await naming(names, () => deps.biometry().verify(image(req, parts.sample[0]!), template(req, parts.bio_template[0]!))));
      sendMultipart(res, [
        { name: 'score', contentType: 'application/json', body: JSON.stringify({ score: result.score, decision: result.decision }) },
        { name: 'bio_feature', filename: 'bio_feature', contentType: 'application/octet-stream', body: templateOut(req, result.template) },
      ]);
    }),
    multipartRoute('extract_and_compare', pairLimits, async (req, res) => {
      const parts = selectParts(partsOf(req), { sample_1: { kind: 'image' }, sample_2: { kind: 'image' } });
      const names = (item: number): string => (item === 0 ? 'sample_1' : 'sample_2');
      res.json(counted(await naming(names, () => deps.biometry().extractAndCompare(image(req, parts.sample_1[0]!), image(req, parts.sample_2[0]!)))));
    }),
    multipartRoute('compare_n', templatesLimits, async (req, res) => {
      const parts = selectParts(partsOf(req), { template_1: { kind: 'template' }, templates_n: templatesN });
      await answerN(res, partNamed('template_1'), 'template', parts.templates_n, () =>
        deps.biometry().compareN(template(req, parts.template_1[0]!), templateCandidates(req, parts.templates_n)),
      );
    }),
    multipartRoute('verify_n', templatesLimits, async (req, res) => {
      const parts = selectParts(partsOf(req), { sample_1: { kind: 'image' }, templates_n: templatesN });
      await answerN(res, undefined, 'template', parts.templates_n, () =>
        deps.biometry().verifyN(image(req, parts.sample_1[0]!), templateCandidates(req, parts.templates_n)),
      );
    }),
    multipartRoute('extract_and_compare_n', imagesLimits, async (req, res) => {
      const parts = selectParts(partsOf(req), { sample_1: { kind: 'image' }, samples_n: { kind: 'image', repeated: true, needsFilename: true } });
      await answerN(res, 'sample_1', 'sample', parts.samples_n, () => {
        const others = candidates(req, atMost(parts.samples_n, config.maxImagesPerRequest, 'images'), image);
        return deps.biometry().extractAndCompareN(image(req, parts.sample_1[0]!), others);
      });
    }),
  ];
}
