import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { type ApiArea, type ErrorKind, errorResponse, ServiceError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

export function areaOf(path: string): ApiArea {
  // Routing ignores case (express's default), so /V1/FACE/PATTERN/EXTRACT reaches the extract route: its errors too.
  const routed = path.toLowerCase();
  if (routed.startsWith('/v1/face/pattern/')) return 'biometry';
  if (routed.startsWith('/v1/face/liveness/')) return 'liveness';
  return 'service';
}

export function sendError(req: Request, res: Response, kind: ErrorKind, detail?: string): void {
  const { status, body } = errorResponse(areaOf(req.path), kind, detail);
  res.locals.errorCode = body.code;
  // A request refused for its size is counted as a refusal, without a log line of its own (see createRefusalLog).
  if (kind === 'too-large') res.locals.refusal ??= 'too_large';
  res.status(status).json(body);
}

/** Errors raised by body-parser are described by a `type`; these are the client's mistakes. */
function clientErrorKind(error: unknown): ErrorKind | undefined {
  switch ((error as { type?: unknown } | undefined)?.type) {
    case 'entity.too.large':
      return 'too-large';
    case 'encoding.unsupported':
      return 'content-type';
    case 'request.aborted':
    case 'request.size.invalid':
      return 'malformed-request';
    default:
      return undefined;
  }
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error instanceof ServiceError) {
      if (error.kind === 'model-runtime') logger.error({ err: error.cause, requestId: res.locals.requestId }, error.message);
      sendError(req, res, error.kind, error.detail);
      return;
    }
    const kind = clientErrorKind(error);
    if (kind) {
      sendError(req, res, kind);
      return;
    }
    logger.error({ err: error, requestId: res.locals.requestId, route: req.path }, 'unhandled error');
    sendError(req, res, 'internal');
  };
}

/** Answers any method a path does not serve with the area's method error and an Allow header. */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  return (req, res) => {
    res.set('Allow', allowed.join(', '));
    sendError(req, res, 'method', `${req.method} is not served here; use ${allowed.join(' or ')}`);
  };
}

export const notFound: RequestHandler = (req, res) => sendError(req, res, 'not-found');
