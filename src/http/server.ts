import { createServer, type RequestListener, type Server } from 'node:http';
import type { Config } from '../config.js';

/** The timeouts of the connections, as the README states them. */
export type ConnectionTimeouts = Pick<Config, 'headersTimeoutMs' | 'keepAliveTimeoutMs' | 'queueTimeoutMs' | 'bodyTimeoutMs'>;

/**
 * The HTTP server, with the connection timeouts the configuration gives. Node checks its headers and request
 * timeouts every `connectionsCheckingInterval` (30 s by default), so that a 15 s headers timeout used to cut a
 * connection after anything from 15 to 45 s: the check runs every second here, a tenth of the shortest timeout for
 * the short ones tests use.
 * - headers: HEADERS_TIMEOUT_MS after the connection opened, or after the previous answer on it (then 408, closed);
 * - the whole request: the wait for body budget and the body deadline, plus 5 s, a backstop under the app's own
 *   408 (BODY_TIMEOUT_MS, BODY_MIN_BYTES_PER_SECOND);
 * - idle kept-alive connections: clients are told to close them KEEP_ALIVE_TIMEOUT_MS after their last answer, and
 *   Node closes them one second later.
 */
export function createHttpServer(timeouts: ConnectionTimeouts, listener?: RequestListener): Server {
  const server = createServer({
    headersTimeout: timeouts.headersTimeoutMs,
    requestTimeout: timeouts.queueTimeoutMs + timeouts.bodyTimeoutMs + 5_000,
    connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(timeouts.headersTimeoutMs / 10))),
  });
  server.keepAliveTimeout = timeouts.keepAliveTimeoutMs;
  if (listener) server.on('request', listener);
  return server;
}
