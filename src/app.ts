import type { RequestListener } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import type { Biometry } from './biometry/biometry.js';
import type { Config } from './config.js';
import { errorCatalogue } from './errors.js';
import type { Liveness } from './liveness/liveness.js';
import { admissionHandlers, createAdmission } from './http/admission.js';
import { bodyDeadline } from './http/body.js';
import { errorHandler, methodNotAllowed, notFound } from './http/errors.js';
import { createFrontDoor, requestIdOf } from './http/front-door.js';
import { livenessRoutes } from './http/liveness.js';
import { patternRoutes } from './http/pattern.js';
import type { Logger } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';
import { createRefusalLog, type RefusalLog } from './observability/refusals.js';

export interface HealthStatus {
  status: 0 | 3;
  message: string;
}

export interface VersionInfo {
  core: string;
  tfss: string;
  models: { name: string; version: string }[];
  /** Whether the templates this service issues are signed (TEMPLATE_KEYS): unsigned ones can be forged. */
  templates_signed: boolean;
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
  /** What reads and checks the body, before the request takes an inference slot. */
  body?: RequestHandler[];
  handlers: RequestHandler[];
  /**
   * Inference routes pass the admission gate (body budget, then an inference slot once the body is in) and the body
   * deadline; `maxBodyBytes` is the largest body they read, whatever its Content-Type.
   */
  inference?: { maxBodyBytes: number };
}

/** What createApp builds: the node request listener (the front door, then express) and the express app behind it. */
export interface App {
  listener: RequestListener;
  express: Express;
}

/** The status logged and counted for a request whose client left before the answer (nginx's convention). */
const CLIENT_CLOSED = errorCatalogue.service['client-closed']!.status;

/** Every response carries a request id: the client's X-Request-Id when sane, else a new one. */
export const assignRequestId: RequestHandler = (req, res, next) => {
  const requestId = requestIdOf(req.get('x-request-id'));
  res.locals.requestId = requestId;
  res.set('X-Request-Id', requestId);
  next();
};

/** One metric per request, and one log line, except for refusals, which the refusal log sums up. */
function observeRequests(logger: Logger, metrics: Metrics, refusals: RefusalLog): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const requestId = res.locals.requestId as string;
    // 'close' comes after 'finish', or alone when the client left before its answer: then it counts as 499.
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED;
      metrics.observeRequest(route, req.method, status, seconds);
      if (res.locals.refusal) {
        refusals.count(res.locals.refusal as Parameters<RefusalLog['count']>[0]);
        return;
      }
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

export function createApp(deps: AppDeps): App {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const refusals = createRefusalLog(deps.logger, deps.metrics);
  app.use(assignRequestId, observeRequests(deps.logger, deps.metrics, refusals));

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
      maxBodyBytes: deps.config.maxInflightBodyBytes,
      undeclaredBodyBytes: deps.config.maxImageBytes,
    },
    deps.metrics,
  );
  const gate = admissionHandlers(admission);
  const deadline = bodyDeadline(deps.config.bodyTimeoutMs, deps.config.bodyMinBytesPerSecond);
  for (const route of routes) {
    const body = route.body ?? [];
    app[route.method](route.path, ...(route.inference ? [gate.enter, deadline, ...body, gate.takeSlot] : body), ...route.handlers);
    methodsByPath.set(route.path, (methodsByPath.get(route.path) ?? new Set()).add(route.method.toUpperCase()));
  }
  for (const [path, methods] of methodsByPath) {
    // Express answers HEAD wherever it answers GET.
    if (methods.has('GET')) methods.add('HEAD');
    app.all(path, methodNotAllowed([...methods]));
  }
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  const doorRoutes = routes.map((route) => ({
    path: route.path,
    method: route.method.toUpperCase(),
    inference: route.inference !== undefined,
    maxBodyBytes: route.inference?.maxBodyBytes ?? 0,
  }));
  return { listener: createFrontDoor({ routes: doorRoutes, admission, metrics: deps.metrics, refusals }, app), express: app };
}
