import type { RequestHandler, Response } from 'express';
import { ServiceError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';

export interface AdmissionLimits {
  maxActive: number;
  maxQueued: number;
  queueTimeoutMs: number;
}

/** One request's place: waiting in the queue, holding a slot, or gone. */
interface Ticket {
  state: 'waiting' | 'active' | 'done';
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
 */
export function createAdmission(limits: AdmissionLimits, metrics: Metrics) {
  let active = 0;
  const queue: Ticket[] = [];
  const publish = (): void => {
    metrics.setInflight(active);
    metrics.setQueued(queue.length);
  };

  function activate(ticket: Ticket): void {
    ticket.state = 'active';
    active++;
    publish();
    ticket.admit();
  }

  /** The next waiting request whose client is still there; those that left meanwhile are dropped unstarted. */
  function admitNext(): void {
    for (let next = queue.shift(); next; next = queue.shift()) {
      clearTimeout(next.timer);
      if (next.gone()) {
        next.state = 'done';
        continue;
      }
      activate(next);
      return;
    }
  }

  function leave(ticket: Ticket): void {
    if (ticket.state === 'waiting') {
      clearTimeout(ticket.timer);
      queue.splice(queue.indexOf(ticket), 1);
    } else if (ticket.state === 'active') {
      active--;
      admitNext();
    }
    ticket.state = 'done';
    publish();
  }

  const admit: RequestHandler = (req, res, next) => {
    // Work for a client that has gone is stopped where it can be (between video frames, say): see cancellation().
    const cancel = new AbortController();
    res.locals.cancel = cancel.signal;
    res.once('close', () => {
      if (!res.writableFinished) cancel.abort();
    });
    const ticket: Ticket = {
      state: 'waiting',
      gone: () => req.destroyed || res.destroyed,
      admit: () => next(),
      refuse: (error) => {
        res.set('Retry-After', '1');
        next(error);
      },
    };
    res.once('close', () => leave(ticket));
    if (active < limits.maxActive) {
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
