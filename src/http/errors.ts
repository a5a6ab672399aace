import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { type ApiArea, type ErrorKind, errorResponse, ServiceError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { RequestCancelled } from './admission.js';

/** Marks the request as one of `area`'s, whose codes its errors carry; the first handler of every route. */
export const inArea =
  (area: ApiArea): RequestHandler =>
  (_req, res, next) => {
    res.locals.area = area;
    next();
  };

/** The area of the route the request reached; a request no route took is the service's. */
const areaOf = (res: Response): ApiArea => (res.locals.area as ApiArea | undefined) ?? 'service';

export function sendError(res: Response, kind: ErrorKind, detail?: string): void {
  const { status, body } = errorResponse(areaOf(res), kind, detail);
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
    // The client has gone, and its request's observer has counted it as closed: there is no one to answer.
    if (error instanceof RequestCancelled) return;
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error instanceof ServiceError) {
      if (error.kind === 'model-runtime') logger.error({ err: error.cause, requestId: res.locals.requestId }, error.message);
      sendError(res, error.kind, error.detail);
      return;
    }
    const kind = clientErrorKind(error);
    if (kind) {
      sendError(res, kind);
      return;
    }
    logger.error({ err: error, requestId: res.locals.requestId, route: req.path }, 'unhandled error');
    sendError(res, 'internal');
  };
}

/** Answers any method a path does not serve with the area's method error and an Allow header. */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  return (req, res) => {
    res.set('Allow', allowed.join(', '));
    sendError(res, 'method', `${req.method} is not served here; use ${allowed.join(' or ')}`);
  };
}

export const notFound: RequestHandler = (_req, res) => sendError(res, 'not-found');
