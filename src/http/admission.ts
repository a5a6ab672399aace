import type { RequestHandler, Response } from 'express';
import { ServiceError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';

export interface AdmissionLimits {
  maxActive: number;
  maxQueued: number;
  queueTimeoutMs: number;
  /** Most body bytes, as declared by Content-Length, of the requests holding a slot together. */
  maxActiveBodyBytes: number;
  /** What a body without Content-Length (chunked) counts as. */
  undeclaredBodyBytes: number;
}

/** One request's place: waiting in the queue, holding a slot, or gone. */
interface Ticket {
  state: 'waiting' | 'active' | 'done';
  /** The body bytes it counts against the budget while active. */
  bodyBytes: number;
  /** The client has gone: its socket is closed. */
  gone: () => boolean;
  admit: () => void;
  refuse: (error: ServiceError) => void;
  timer?: NodeJS.Timeout;
}

/**
 * Bounds the requests doing inference at once, with a bounded queue in front. A request that finds the queue full,
 * or waits longer than the queue timeout, is refused at once (503, Retry-After) instead of waiting without end. The
 * gate sits before the body is read, so waiting requests hold no body in memory: their clients are simply not read
 * from yet. A client that goes away frees its place, waiting or active.
 *
 * Slots also share a budget of body bytes: memory in use grows with the bodies being worked on (a 10,000-template
 * compare_n holds its 22 MB body, its chunks until collected and a 20 MB matrix), so six such requests at once would
 * take the process past its memory limit while doing no more work per second than two. A request that would pass
 * the budget waits, first in, first out; a request alone is always admitted.
 */
export function createAdmission(limits: AdmissionLimits, metrics: Metrics) {
  let active = 0;
  let activeBodyBytes = 0;
  const queue: Ticket[] = [];
  const publish = (): void => {
    metrics.setInflight(active, activeBodyBytes);
    metrics.setQueued(queue.length);
  };
  const fits = (ticket: Ticket): boolean =>
    active < limits.maxActive && (active === 0 || activeBodyBytes + ticket.bodyBytes <= limits.maxActiveBodyBytes);

  function activate(ticket: Ticket): void {
    ticket.state = 'active';
    active++;
    activeBodyBytes += ticket.bodyBytes;
    publish();
    ticket.admit();
  }

  /** Waiting requests in order while they fit; those whose clients left meanwhile are dropped unstarted. */
  function admitWaiting(): void {
    while (queue.length > 0) {
      const next = queue[0]!;
      if (next.gone()) {
        queue.shift();
        clearTimeout(next.timer);
        next.state = 'done';
        continue;
      }
      if (!fits(next)) break;
      queue.shift();
      clearTimeout(next.timer);
      activate(next);
    }
    publish();
  }

  function leave(ticket: Ticket): void {
    if (ticket.state === 'waiting') {
      clearTimeout(ticket.timer);
      queue.splice(queue.indexOf(ticket), 1);
    } else if (ticket.state === 'active') {
      active--;
      activeBodyBytes -= ticket.bodyBytes;
    }
    ticket.state = 'done';
    // A request leaving the head of the queue may unblock the ones behind it, as a finished one frees room.
    admitWaiting();
  }

  const admit: RequestHandler = (req, res, next) => {
    // Work for a client that has gone is stopped where it can be (between video frames, say): see cancellation().
    const cancel = new AbortController();
    res.locals.cancel = cancel.signal;
    res.once('close', () => {
      if (!res.writableFinished) cancel.abort();
    });
    const declared = Number(req.get('content-length'));
    const ticket: Ticket = {
      state: 'waiting',
      bodyBytes: Math.min(Number.isSafeInteger(declared) && declared >= 0 ? declared : limits.undeclaredBodyBytes, limits.maxActiveBodyBytes),
      gone: () => req.destroyed || res.destroyed,
      admit: () => next(),
      refuse: (error) => {
        res.set('Retry-After', '1');
        next(error);
      },
    };
    res.once('close', () => leave(ticket));
    if (queue.length === 0 && fits(ticket)) {
      activate(ticket);
      return;
    }
    if (queue.length >= limits.maxQueued) {
      ticket.state = 'done';
      metrics.countRejected('queue_full');
      ticket.refuse(new ServiceError('overloaded', 'all inference slots and the queue are taken'));
      return;
    }
    ticket.timer = setTimeout(() => {
      leave(ticket);
      metrics.countRejected('queue_timeout');
      ticket.refuse(new ServiceError('overloaded', `no inference slot became free within ${limits.queueTimeoutMs} ms`));
    }, limits.queueTimeoutMs);
    queue.push(ticket);
    publish();
  };

  return { admit, state: () => ({ active, queued: queue.length }) };
}

/** The signal that aborts when the request's client goes away before its answer. */
export function cancellation(res: Response): AbortSignal {
  return res.locals.cancel as AbortSignal;
}
