import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type ApiArea, type ErrorKind, errorResponse } from '../errors.js';
import type { Metrics, RejectionReason } from '../observability/metrics.js';
import type { RefusalLog } from '../observability/refusals.js';
import type { Admission } from './admission.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's X-Request-Id when it is 1–128 characters of [A-Za-z0-9._:-], else a new one. */
export const requestIdOf = (offered: string | string[] | undefined): string => (typeof offered === 'string' && REQUEST_ID.test(offered) ? offered : randomUUID());

/** Methods whose requests take no body: a body on one is a way to hide a second request from a proxy in front. */
const BODILESS_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/**
 * What is wrong with how a request says where it ends, or undefined. A Transfer-Encoding other than `chunked` (say
 * `xchunked`) leaves the end of the body to the connection's end, so that the next request on it becomes body here
 * while a proxy in front may have read it as a request of its own (RFC 9112 §6.3 asks for 400 and closing); a body
 * on a method that takes none is the same disagreement waiting to happen.
 */
export function framingProblem(req: IncomingMessage): string | undefined {
  const transferEncoding = req.headers['transfer-encoding'];
  if (transferEncoding !== undefined && transferEncoding.trim().toLowerCase() !== 'chunked') {
    return 'a Transfer-Encoding other than chunked cannot be read';
  }
  const method = req.method ?? '';
  if (BODILESS_METHODS.has(method) && (transferEncoding !== undefined || Number(req.headers['content-length'] ?? 0) > 0)) {
    return `a ${method} request takes no body`;
  }
  return undefined;
}

/** A route as the front door knows it: enough to refuse a request before the framework sees it. */
export interface DoorRoute {
  /** As registered, e.g. /v1/face/pattern/extract: the route label of metrics. */
  path: string;
  method: string;
  /** Whose codes its refusals carry. */
  area: ApiArea;
  /** Requests pass the admission gate. */
  inference: boolean;
  /** Largest body the route reads, whatever its Content-Type. */
  maxBodyBytes: number;
}

export interface FrontDoorDeps {
  routes: readonly DoorRoute[];
  admission: Admission;
  metrics: Metrics;
  refusals: RefusalLog;
}

/** The path as express matches it: without query, in lower case, without one trailing slash. */
const pathKey = (url: string | undefined): string => {
  const path = (url ?? '/').split('?')[0]!.toLowerCase();
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
};
const routeKey = (method: string | undefined, url: string | undefined): string => `${method} ${pathKey(url)}`;

const CLOSING = Symbol('closing after a refusal');
const REFUSED_AT = Symbol('when the connection was last refused for capacity');

type DoorSocket = Socket & { [CLOSING]?: boolean; [REFUSED_AT]?: number };

/** What 503 answers tell clients to wait (Retry-After, seconds). */
export const RETRY_AFTER_SECONDS = 1;

/**
 * The request listener in front of the framework. It answers at once, and cheaply, what needs neither routing nor a
 * body: framing that could smuggle a request (400, connection closed, nothing more read from it), a body declared
 * larger than the route reads (413, closed), and an inference request that arrives when every slot is taken and the
 * queue is full (503 with Retry-After). These answers skip express, the logger and the body: under a flood of them
 * the event loop stays free for health probes and the requests being served. Other inference requests enter
 * admission here, and reach express only once their body may be read. A route the door does not recognise (say a
 * percent-encoded path) goes to express as it is, whose inference routes enter admission themselves.
 *
 * A client that ignores Retry-After and sends its next request on the same connection at once is refused again,
 * but only once Retry-After has passed since its last refusal: eager clients otherwise turn each refusal straight
 * into the next request, and at three times capacity 2,700 refusals a second kept the event loop so busy that health
 * took 90 ms at the median and 230 ms at p99. A client that waits as told, or a new connection, is answered at once.
 */
export function createFrontDoor(deps: FrontDoorDeps, app: RequestListener): RequestListener {
  const routes = new Map(deps.routes.map((route) => [routeKey(route.method, route.path), route]));
  // A method a path does not serve is answered in the path's area, as express answers it (methodNotAllowed).
  const areas = new Map(deps.routes.map((route) => [pathKey(route.path), route.area]));

  function refuse(
    req: IncomingMessage,
    res: ServerResponse,
    refusal: { reason: RejectionReason; kind: ErrorKind; detail: string; route: string; area: ApiArea; close: boolean },
  ): void {
    const started = process.hrtime.bigint();
    const { status, body } = errorResponse(refusal.area, refusal.kind, refusal.detail);
    const text = JSON.stringify(body);
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'X-Request-Id': requestIdOf(req.headers['x-request-id']),
    };
    if (refusal.kind === 'overloaded') headers['Retry-After'] = String(RETRY_AFTER_SECONDS);
    if (refusal.close) {
      headers.Connection = 'close';
      (req.socket as DoorSocket)[CLOSING] = true;
      // Nothing more is read from this connection: whatever follows is a body we refused, or a request hidden in it.
      res.once('finish', () => req.socket.end());
    }
    res.writeHead(status, headers).end(text);
    deps.refusals.count(refusal.reason);
    deps.metrics.observeRequest(refusal.route, req.method ?? '', status, Number(process.hrtime.bigint() - started) / 1e9);
  }

  return (req, res) => {
    if ((req.socket as DoorSocket)[CLOSING]) {
      // A request pipelined behind one refused with Connection: close is never served.
      req.socket.destroy();
      return;
    }
    const route = routes.get(routeKey(req.method, req.url));
    const label = route?.path ?? 'unmatched';
    // A path no route serves is in no API area: the service answers for it, as it answers 404.
    const area = areas.get(pathKey(req.url)) ?? 'service';
    const framing = framingProblem(req);
    if (framing) {
      refuse(req, res, { reason: 'bad_framing', kind: 'malformed-request', detail: framing, route: label, area, close: true });
      return;
    }
    if (!route?.inference) {
      app(req, res);
      return;
    }
    if (Number(req.headers['content-length']) > route.maxBodyBytes) {
      refuse(req, res, { reason: 'too_large', kind: 'too-large', detail: `the body exceeds ${route.maxBodyBytes} bytes`, route: label, area, close: true });
      return;
    }
    deps.admission.enter(req, res, {
      proceed: () => app(req, res),
      refuse: (reason, detail) => {
        const socket = req.socket as DoorSocket;
        const answer = (): void => {
          if (res.destroyed) return;
          socket[REFUSED_AT] = performance.now();
          refuse(req, res, { reason, kind: 'overloaded', detail, route: label, area, close: false });
        };
        const wait = (socket[REFUSED_AT] ?? -Infinity) + RETRY_AFTER_SECONDS * 1000 - performance.now();
        if (wait > 0) setTimeout(answer, wait);
        else answer();
      },
    });
  };
}
