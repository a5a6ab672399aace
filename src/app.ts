import { randomUUID } from 'node:crypto';
import express, { type Express, type RequestHandler } from 'express';
import type { Biometry } from './biometry/biometry.js';
import type { Config } from './config.js';
import { errorCatalogue } from './errors.js';
import type { Liveness } from './liveness/liveness.js';
import { createAdmission } from './http/admission.js';
import { bodyDeadline } from './http/body.js';
import { errorHandler, methodNotAllowed, notFound } from './http/errors.js';
import { livenessRoutes } from './http/liveness.js';
import { patternRoutes } from './http/pattern.js';
import type { Logger } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';

export interface HealthStatus {
  status: 0 | 3;
  message: string;
}

export interface VersionInfo {
  core: string;
  tfss: string;
  models: { name: string; version: string }[];
}

export interface AppDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  biometry: Biometry;
  liveness: Liveness;
  health: () => HealthStatus;
  version: VersionInfo;
  /** The OpenAPI document of this API, served at /openapi.json. */
  openapi: unknown;
}

export type Method = 'get' | 'post';

export interface Route {
  method: Method;
  path: string;
  handlers: RequestHandler[];
  /** Inference routes pass the admission gate (bounded concurrency and queue) and the body deadline. */
  inference?: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The status logged and counted for a request whose client left before the answer (nginx's convention). */
const CLIENT_CLOSED = errorCatalogue.service['client-closed']!.status;

/** Every response carries a request id: the client's X-Request-Id when sane, else a new one. */
export const assignRequestId: RequestHandler = (req, res, next) => {
  const offered = req.get('x-request-id');
  const requestId = offered && REQUEST_ID.test(offered) ? offered : randomUUID();
  res.locals.requestId = requestId;
  res.set('X-Request-Id', requestId);
  next();
};

/** One log line and one metric per request. */
function observeRequests(logger: Logger, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const requestId = res.locals.requestId as string;
    // 'close' comes after 'finish', or alone when the client left before its answer: then it counts as 499.
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED;
      metrics.observeRequest(route, req.method, status, seconds);
      logger.info(
        {
          requestId,
          method: req.method,
          route,
          status,
          durationMs: Math.round(seconds * 1e4) / 10,
          ...(res.locals.errorCode ? { errorCode: res.locals.errorCode as string } : {}),
        },
        'request',
      );
    });
    next();
  };
}

/** Status 3 is also answered with HTTP 503, so that orchestrator probes need not parse the body. */
function healthHandler(health: () => HealthStatus): RequestHandler {
  return (_req, res) => {
    const current = health();
    res.status(current.status === 0 ? 200 : 503).json(current);
  };
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(assignRequestId, observeRequests(deps.logger, deps.metrics));

  const routes: Route[] = [
    { method: 'get', path: '/version', handlers: [(_req, res) => void res.json(deps.version)] },
    { method: 'get', path: '/openapi.json', handlers: [(_req, res) => void res.json(deps.openapi)] },
    {
      method: 'get',
      path: '/metrics',
      handlers: [
        async (_req, res) => {
          res.set('Content-Type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
        },
      ],
    },
    { method: 'get', path: '/v1/face/pattern/health', handlers: [healthHandler(deps.health)] },
    { method: 'get', path: '/v1/face/liveness/health', handlers: [healthHandler(deps.health)] },
    ...patternRoutes(deps),
    ...livenessRoutes(deps),
  ];

  const methodsByPath = new Map<string, Set<string>>();
  const admission = createAdmission(
    {
      maxActive: deps.config.maxConcurrentRequests,
      maxQueued: deps.config.maxQueuedRequests,
      queueTimeoutMs: deps.config.queueTimeoutMs,
      maxActiveBodyBytes: deps.config.maxInflightBodyBytes,
      undeclaredBodyBytes: deps.config.maxImageBytes,
    },
    deps.metrics,
  );
  const deadline = bodyDeadline(deps.config.bodyTimeoutMs);
  for (const route of routes) {
    app[route.method](route.path, ...(route.inference ? [admission.admit, deadline] : []), ...route.handlers);
    methodsByPath.set(route.path, (methodsByPath.get(route.path) ?? new Set()).add(route.method.toUpperCase()));
  }
  for (const [path, methods] of methodsByPath) {
    // Express answers HEAD wherever it answers GET.
    if (methods.has('GET')) methods.add('HEAD');
    app.all(path, methodNotAllowed([...methods]));
  }
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
