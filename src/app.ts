import type { RequestListener } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import type { Biometry } from './biometry/biometry.js';
import type { Config } from './config.js';
import { type ApiArea, errorCatalogue } from './errors.js';
import type { Liveness } from './liveness/liveness.js';
import { admissionHandlers, createAdmission } from './http/admission.js';
import { biometryRoutes } from './http/biometry.js';
import { bodyDeadline } from './http/body.js';
import { errorHandler, inArea, methodNotAllowed, notFound, sendError } from './http/errors.js';
import { createFrontDoor, requestIdOf, RETRY_AFTER_SECONDS } from './http/front-door.js';
import { livenessRoutes } from './http/liveness.js';
import type { Route } from './http/route.js';
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

/** What the app needs from its first request on. */
export interface AppShell {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** The process's health until the API is served: 3 while the models load. */
  health: () => HealthStatus;
  /** The OpenAPI document of this API, served at /openapi.json. */
  openapi: unknown;
}

/** What the API serves with, once the models are loaded. */
export interface AppServices {
  biometry: Biometry;
  liveness: Liveness;
  version: VersionInfo;
  /** Health once served: the process's, and 3 while a model keeps failing. */
  health: () => HealthStatus;
}

export type AppDeps = AppShell & AppServices;

/** What createApp builds: the node request listener (the front door, then express) and the express app behind it. */
export interface App {
  listener: RequestListener;
  express: Express;
  /**
   * Serves the API from now on. Until then health answers the shell's (3) and every other route 503 with
   * Retry-After, in its own area: the process listens while its models load.
   */
  serve(services: AppServices): void;
}

/** What is logged and counted for a request whose client left before the answer (499, nginx's convention). */
const CLIENT_CLOSED = errorCatalogue.service['client-closed']!;

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
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED.status;
      metrics.observeRequest(route, req.method, status, seconds);
      if (res.locals.refusal) {
        refusals.count(res.locals.refusal as Parameters<RefusalLog['count']>[0]);
        return;
      }
      const errorCode = res.writableFinished ? (res.locals.errorCode as string | undefined) : CLIENT_CLOSED.code;
      logger.info({ requestId, method: req.method, route, status, durationMs: Math.round(seconds * 1e4) / 10, ...(errorCode ? { errorCode } : {}) }, 'request');
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

export function createApp(shell: AppShell): App {
  const { config, logger, metrics } = shell;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const refusals = createRefusalLog(logger, metrics);
  app.use(assignRequestId, observeRequests(logger, metrics, refusals));

  let services: AppServices | undefined;
  const served = (): AppServices => {
    if (!services) throw new Error('the API is not served yet');
    return services;
  };
  /** Until the API is served, a route asks its client to come back; health answers throughout. */
  const whileStarting: RequestHandler = (_req, res, next) => {
    if (services) return next();
    res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    sendError(res, 'overloaded', 'the models are still loading');
  };
  const health = healthHandler(() => (services ?? shell).health());

  const routes: Route[] = [
    { method: 'get', path: '/version', area: 'service', handlers: [(_req, res) => void res.json(served().version)] },
    { method: 'get', path: '/openapi.json', area: 'service', handlers: [(_req, res) => void res.json(shell.openapi)] },
    {
      method: 'get',
      path: '/metrics',
      area: 'service',
      handlers: [
        async (_req, res) => {
          res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
        },
      ],
    },
    ...biometryRoutes({ config, metrics, biometry: () => served().biometry }),
    ...livenessRoutes({ config, metrics, liveness: () => served().liveness }),
  ];
  const healthRoutes: Route[] = [
    { method: 'get', path: '/v1/face/pattern/health', area: 'biometry', handlers: [health] },
    { method: 'get', path: '/v1/face/liveness/health', area: 'liveness', handlers: [health] },
  ];

  const admission = createAdmission(
    {
      maxActive: config.maxConcurrentRequests,
      maxQueued: config.maxQueuedRequests,
      queueTimeoutMs: config.queueTimeoutMs,
      maxBodyBytes: config.maxInflightBodyBytes,
      undeclaredBodyBytes: config.maxImageBytes,
    },
    metrics,
  );
  const gate = admissionHandlers(admission);
  const deadline = bodyDeadline(config.bodyTimeoutMs, config.bodyMinBytesPerSecond);
  for (const route of healthRoutes) app[route.method](route.path, inArea(route.area), ...route.handlers);
  for (const route of routes) {
    const body = route.body ?? [];
    const reading = route.inference ? [gate.enter, deadline, ...body, gate.takeSlot] : body;
    app[route.method](route.path, inArea(route.area), whileStarting, ...reading, ...route.handlers);
  }
  const allRoutes = [...healthRoutes, ...routes];
  const paths = new Map<string, { area: ApiArea; methods: Set<string> }>();
  for (const route of allRoutes) {
    const path = paths.get(route.path) ?? { area: route.area, methods: new Set() };
    paths.set(route.path, path);
    path.methods.add(route.method.toUpperCase());
  }
  for (const [path, { area, methods }] of paths) {
    // Express answers HEAD wherever it answers GET.
    if (methods.has('GET')) methods.add('HEAD');
    app.all(path, inArea(area), whileStarting, methodNotAllowed([...methods]));
  }
  app.use(whileStarting, notFound);
  app.use(errorHandler(logger));
  const doorRoutes = allRoutes.map((route) => ({
    path: route.path,
    method: route.method.toUpperCase(),
    area: route.area,
    inference: route.inference !== undefined,
    maxBodyBytes: route.inference?.maxBodyBytes ?? 0,
  }));
  return {
    listener: createFrontDoor({ routes: doorRoutes, admission, metrics, refusals }, app),
    express: app,
    serve(ready) {
      services = ready;
    },
  };
}
