/** The liveness area (/v1/face/liveness/*, LDE-… codes): its two modes, media parts, payload and folder object. */
import express, { type Request, type RequestHandler } from 'express';
import type { Config } from '../config.js';
import { clientName, ServiceError } from '../errors.js';
import type { Liveness } from '../liveness/liveness.js';
import { declaredImageTypes } from '../media/image.js';
import type { Metrics } from '../observability/metrics.js';
import { cancellation } from './admission.js';
import { base64Allowance, imageBody } from './body.js';
import { sendJson } from './json.js';
import { folderAnswer, type MediaName } from './liveness-folder.js';
import { parsePayload } from './liveness-payload.js';
import { multipartBody, type Part, partsOf } from './multipart.js';
import { declaredImageFormat, mediaType, transferDecode, usesBase64 } from './request.js';
import type { Route } from './route.js';

/**
 * Declared types a liveness media part may carry. Anything media-like passes, including multipart/form-data, which
 * the published request example declares for a video part; the bytes decide what the media is.
 */
function isMediaType(type: string | undefined): boolean {
  if (!type || type === 'text/plain' || type === 'application/octet-stream' || type === 'multipart/form-data') return true;
  return declaredImageTypes.has(type) || /^(video\/[\w.+-]+|application\/(zip|x-zip-compressed|json))$/.test(type);
}

const PAYLOAD = 'payload';

interface FolderLimits {
  maxMedia: number;
  maxMediaBytes: number;
  maxPayloadBytes: number;
}

/** A media part, decoded. */
interface MediaPart extends MediaName {
  bytes: Buffer;
}

function mediaParts(req: Request, parts: Part[], limits: FolderLimits): { media: MediaPart[]; payload: string | undefined } {
  const { maxMedia, maxMediaBytes } = limits;
  const payloads = parts.filter((p) => p.name === PAYLOAD);
  if (payloads.length > 1) throw new ServiceError('malformed-request', 'the "payload" part appears more than once');
  const payload = payloads[0];
  if (payload?.declaredType && !['text/plain', 'application/json'].includes(payload.declaredType)) {
    throw new ServiceError('part-content-type', `the payload part is declared ${clientName(payload.declaredType)}; send JSON`);
  }
  if (payload && payload.bytes.length > limits.maxPayloadBytes) {
    throw new ServiceError('too-large', `the payload part holds ${payload.bytes.length} bytes; at most ${limits.maxPayloadBytes}`);
  }
  const mediaList = parts.filter((p) => p.name !== PAYLOAD);
  if (mediaList.length === 0) throw new ServiceError('sample-unreadable', 'the request holds no media part');
  if (mediaList.length > maxMedia) throw new ServiceError('too-large', `${mediaList.length} media; at most ${maxMedia} per request`);
  const keys = new Set<string>();
  const media = mediaList.map((part): MediaPart => {
    if (keys.has(part.name)) throw new ServiceError('malformed-request', `media key "${clientName(part.name)}" appears more than once`);
    keys.add(part.name);
    if (!isMediaType(part.declaredType)) {
      throw new ServiceError('part-content-type', `media "${clientName(part.name)}" is declared ${clientName(part.declaredType!)}`);
    }
    const bytes = transferDecode(part.bytes, usesBase64(req), () => new ServiceError('sample-unreadable', `media "${clientName(part.name)}" is not valid base64`));
    if (bytes.length > maxMediaBytes) throw new ServiceError('too-large', `media "${clientName(part.name)}" exceeds ${maxMediaBytes} bytes`);
    return { key: part.name, filename: part.filename, bytes };
  });
  return { media, payload: payload?.bytes.toString('utf8') };
}

export interface LivenessRouteDeps {
  config: Pick<
    Config,
    'maxImageBytes' | 'maxRequestBytes' | 'maxMediaBytes' | 'maxImagesPerRequest' | 'maxResponseBytes' | 'livenessMaxPayloadBytes' | 'livenessThreshold' | 'livenessMaxAnalyses'
  >;
  /** The use cases, once the app serves the API (its routes are not reached before: see App.serve). */
  liveness: () => Liveness;
  metrics: Pick<Metrics, 'countLiveness'>;
}

export function livenessRoutes(deps: LivenessRouteDeps): Route[] {
  const { config, metrics } = deps;
  const single = express.Router().use(imageBody(config.maxImageBytes));
  const folder = express.Router().use(
    multipartBody({
      maxBodyBytes: config.maxRequestBytes,
      maxPartBytes: base64Allowance(config.maxMediaBytes),
      maxParts: config.maxImagesPerRequest + 1,
    }),
  );

  const singleImage: RequestHandler = async (req, res) => {
    const result = await deps.liveness().detectImage(req.body as Buffer);
    metrics.countLiveness('image', result.passed ? 'passed' : 'attack');
    res.json(result);
  };
  const folderLimits: FolderLimits = { maxMedia: config.maxImagesPerRequest, maxMediaBytes: config.maxMediaBytes, maxPayloadBytes: config.livenessMaxPayloadBytes };
  const payloadSettings = { defaultThreshold: config.livenessThreshold, maxAnalyses: config.livenessMaxAnalyses };
  const folderOfMedia: RequestHandler = async (req, res) => {
    const timeCreated = Date.now() / 1000;
    const { media, payload } = mediaParts(req, partsOf(req), folderLimits);
    const request = parsePayload(payload, media.map((m) => m.key), payloadSettings);
    const result = await deps.liveness().detectFolder(media.map((m) => m.bytes), request.analyses, cancellation(res));
    const folder = folderAnswer({ timeCreated, timeUpdated: Date.now() / 1000, request, media, result, maxBytes: config.maxResponseBytes });
    sendJson(res, folder, config.maxResponseBytes);
    for (const analysis of result.analyses) metrics.countLiveness('folder', analysis.resolution);
  };

  /** One path, two modes, chosen by the request's Content-Type: the body is read as the mode reads it. */
  const isSingleImage = (req: Request): boolean => declaredImageFormat(req.get('content-type')) !== undefined;
  const bodyByMode: RequestHandler = (req, res, next) => {
    if (isSingleImage(req)) single(req, res, next);
    else if (mediaType(req.get('content-type')) === 'multipart/form-data') folder(req, res, next);
    else throw new ServiceError('content-type', 'send one image (image/jpeg, image/png) or multipart/form-data');
  };
  const byMode: RequestHandler = (req, res, next) => (isSingleImage(req) ? singleImage : folderOfMedia)(req, res, next);

  return [
    {
      method: 'post',
      path: '/v1/face/liveness/detect',
      area: 'liveness',
      inference: { maxBodyBytes: Math.max(base64Allowance(config.maxImageBytes), config.maxRequestBytes) },
      body: [bodyByMode],
      handlers: [byMode],
    },
  ];
}
