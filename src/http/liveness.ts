import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AppDeps, Route } from '../app.js';
import { clientName, ServiceError } from '../errors.js';
import type { MediaPart } from '../liveness/liveness.js';
import { cancellation } from './admission.js';
import { base64Allowance, imageBody } from './body.js';
import { sendJson } from './json.js';
import { multipartBody, type Part, partsOf } from './multipart.js';
import { declaredImageFormat, mediaType, transferDecode, usesBase64 } from './request.js';

/**
 * Declared types a liveness media part may carry. Anything media-like passes, including multipart/form-data, which
 * the published request example declares for a video part; the bytes decide what the media is.
 */
function isMediaType(type: string | undefined): boolean {
  if (!type || type === 'text/plain' || type === 'application/octet-stream' || type === 'multipart/form-data') return true;
  return /^(image\/(jpeg|jpg|pjpeg|png)|video\/[\w.+-]+|application\/(zip|x-zip-compressed|json))$/.test(type);
}

const PAYLOAD = 'payload';

interface FolderLimits {
  maxMedia: number;
  maxMediaBytes: number;
  maxPayloadBytes: number;
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

export function livenessRoutes(deps: AppDeps): Route[] {
  const { config, liveness, metrics } = deps;
  const single = imageBody(config.maxImageBytes);
  const folder = multipartBody({
    maxBodyBytes: config.maxRequestBytes,
    maxPartBytes: base64Allowance(config.maxMediaBytes),
    maxParts: config.maxImagesPerRequest + 1,
  });

  const singleImage: RequestHandler = async (req, res) => {
    const result = await liveness.detectImage(req.body as Buffer);
    metrics.countLiveness('image', result.passed ? 'passed' : 'attack');
    res.json(result);
  };
  const folderLimits: FolderLimits = { maxMedia: config.maxImagesPerRequest, maxMediaBytes: config.maxMediaBytes, maxPayloadBytes: config.livenessMaxPayloadBytes };
  const folderOfMedia: RequestHandler = async (req, res) => {
    const { media, payload } = mediaParts(req, partsOf(req), folderLimits);
    const { folder, resolutions } = await liveness.detectFolder(media, payload, cancellation(res));
    sendJson(res, folder, config.maxResponseBytes);
    for (const resolution of resolutions) metrics.countLiveness('folder', resolution);
  };

  /** One path, two modes, chosen by the request's Content-Type: the body is read as the mode reads it. */
  const isSingleImage = (req: Request): boolean => declaredImageFormat(req.get('content-type')) !== undefined;
  const bodyByMode: RequestHandler = (req, res, next) => {
    if (isSingleImage(req)) runChain(single, req, res, next);
    else if (mediaType(req.get('content-type')) === 'multipart/form-data') runChain(folder, req, res, next);
    else throw new ServiceError('content-type', 'send one image (image/jpeg, image/png) or multipart/form-data');
  };
  const byMode: RequestHandler = (req, res, next) => (isSingleImage(req) ? singleImage : folderOfMedia)(req, res, next);

  return [
    {
      method: 'post',
      path: '/v1/face/liveness/detect',
      inference: { maxBodyBytes: Math.max(base64Allowance(config.maxImageBytes), config.maxRequestBytes) },
      body: [bodyByMode],
      handlers: [byMode],
    },
  ];
}

/** Runs middleware in order as express would, handing errors (thrown or rejected) to `done`. */
function runChain(handlers: readonly RequestHandler[], req: Request, res: Response, done: NextFunction): void {
  const step = (index: number, error?: unknown): void => {
    const handler = handlers[index];
    if (error !== undefined || !handler) {
      done(error);
      return;
    }
    try {
      const result: unknown = handler(req, res, (nextError?: unknown) => step(index + 1, nextError));
      if (result instanceof Promise) result.catch((rejection: unknown) => done(rejection));
    } catch (thrown) {
      done(thrown);
    }
  };
  step(0);
}
