import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, RequestHandler, Response as ExpressResponse } from 'express';
import { ServiceError } from '../errors.js';
import type { Metrics, RejectionReason } from '../observability/metrics.js';

export interface AdmissionLimits {
  maxActive: number;
  maxQueued: number;
  queueTimeoutMs: number;
  /** Most body bytes, as declared by Content-Length, of the requests being received or worked on together. */
  maxBodyBytes: number;
  /** What a body without Content-Length (chunked) counts as. */
  undeclaredBodyBytes: number;
}

/**
 * Where one request stands: waiting for body budget, receiving its body, waiting for an inference slot, holding one,
 * or gone.
 */
type Stage = 'waiting-for-budget' | 'receiving' | 'waiting-for-slot' | 'active' | 'done';

/** What the caller does when its request may go on, or must be refused (503 with Retry-After). */
export interface Admitted {
  proceed: () => void;
  refuse: (reason: Extract<RejectionReason, 'queue_full' | 'queue_timeout'>, detail: string) => void;
}

interface Ticket extends Admitted {
  stage: Stage;
  /** The body bytes it counts against the budget from the moment it may be received until it is answered. */
  bodyBytes: number;
  /** The client has gone: its socket is closed (not the request stream, which is destroyed once its body is read). */
  gone: () => boolean;
  timer?: NodeJS.Timeout;
}

const TICKET = Symbol('admission ticket');

type Tracked = ServerResponse & { [TICKET]?: Ticket };

/**
 * Bounds the requests doing inference at once, with a bounded queue in front, in two stages:
 *
 * 1. **Body budget.** A request may be received once its declared body fits, with those of the requests already being
 *    received or worked on, in `maxBodyBytes` (a request alone always fits); until then it waits, first in, first
 *    out, and its client is simply not read from. Memory in use grows with the bodies being received and worked on
 *    (a 10,000-template compare_n holds a 22 MB body and a 20 MB matrix), so six such requests at once would take the
 *    process past its memory limit while doing no more work per second than two.
 * 2. **Inference slot.** Only once its body is in does a request take one of `maxActive` slots (waiting in a second
 *    queue when all are taken). A client that uploads slowly therefore holds body budget for as long as the body
 *    deadline lets it, never a slot: six clients trickling their bodies no longer keep every other request out.
 *
 * Waiting is bounded: at most `queueTimeoutMs` for budget, and again for a slot, then 503. A request that arrives
 * while every slot is taken and `maxQueued` requests already wait or are being received is refused at once, before
 * its body is read (at the front door, before the framework sees the request). A client that goes away frees its
 * place at any stage.
 */
export function createAdmission(limits: AdmissionLimits, metrics: Metrics) {
  let active = 0;
  let receiving = 0;
  let heldBodyBytes = 0;
  const budgetQueue: Ticket[] = [];
  const slotQueue: Ticket[] = [];
  const publish = (): void => {
    metrics.setInflight(active, heldBodyBytes);
    metrics.setQueued(budgetQueue.length + slotQueue.length, receiving);
  };
  const budgetFits = (bodyBytes: number): boolean => heldBodyBytes === 0 || heldBodyBytes + bodyBytes <= limits.maxBodyBytes;
  const bodyBytesOf = (req: IncomingMessage): number => {
    const declared = Number(req.headers['content-length']);
    return Math.min(Number.isSafeInteger(declared) && declared >= 0 ? declared : limits.undeclaredBodyBytes, limits.maxBodyBytes);
  };

  function startReceiving(ticket: Ticket): void {
    ticket.stage = 'receiving';
    receiving++;
    heldBodyBytes += ticket.bodyBytes;
    publish();
    ticket.proceed();
  }

  function activate(ticket: Ticket): void {
    ticket.stage = 'active';
    active++;
    publish();
    ticket.proceed();
  }

  /** Moves the heads of both queues on while they fit; those whose clients left meanwhile are dropped unstarted. */
  function pump(): void {
    const next = (queue: Ticket[], fits: (ticket: Ticket) => boolean, start: (ticket: Ticket) => void): void => {
      while (queue.length > 0) {
        const head = queue[0]!;
        if (head.gone()) {
          queue.shift();
          leave(head);
          continue;
        }
        if (!fits(head)) break;
        queue.shift();
        clearTimeout(head.timer);
        start(head);
      }
    };
    next(slotQueue, () => active < limits.maxActive, activate);
    next(budgetQueue, (ticket) => budgetFits(ticket.bodyBytes), startReceiving);
    publish();
  }

  function leave(ticket: Ticket): void {
    clearTimeout(ticket.timer);
    const stage = ticket.stage;
    ticket.stage = 'done';
    if (stage === 'done') return;
    const queue = stage === 'waiting-for-budget' ? budgetQueue : stage === 'waiting-for-slot' ? slotQueue : undefined;
    if (queue?.includes(ticket)) queue.splice(queue.indexOf(ticket), 1);
    if (stage === 'receiving') receiving--;
    if (stage === 'active') active--;
    if (stage !== 'waiting-for-budget') heldBodyBytes -= ticket.bodyBytes;
    // Leaving frees budget or a slot, or the head of a queue, which may let the ones behind it on.
    pump();
  }

  function wait(ticket: Ticket, queue: Ticket[], stage: Stage, what: string): void {
    ticket.stage = stage;
    queue.push(ticket);
    ticket.timer = setTimeout(() => {
      leave(ticket);
      ticket.refuse('queue_timeout', `no ${what} became free within ${limits.queueTimeoutMs} ms`);
    }, limits.queueTimeoutMs);
    publish();
  }

  /** Whether a request arriving now is refused at once: it could not start at once, and the queue is full. */
  function refusedOnArrival(req: IncomingMessage): boolean {
    const startsAtOnce = budgetQueue.length === 0 && budgetFits(bodyBytesOf(req)) && active < limits.maxActive;
    return !startsAtOnce && budgetQueue.length + slotQueue.length + receiving >= limits.maxQueued;
  }

  return {
    /** Whether this request has entered admission already (at the front door). */
    entered: (res: ServerResponse): boolean => (res as Tracked)[TICKET] !== undefined,

    /**
     * Stage 1: the request is refused at once (every slot taken and the queue full), or waits until its body may be
     * received. Call once per request, before any byte of its body is read; its place is released when the response
     * closes.
     */
    enter(req: IncomingMessage, res: ServerResponse, admitted: Admitted): void {
      const ticket: Ticket = { ...admitted, stage: 'done', bodyBytes: bodyBytesOf(req), gone: () => req.socket.destroyed };
      (res as Tracked)[TICKET] = ticket;
      res.once('close', () => leave(ticket));
      if (refusedOnArrival(req)) {
        ticket.stage = 'done';
        admitted.refuse('queue_full', 'all inference slots and the queue are taken');
      } else if (budgetQueue.length === 0 && budgetFits(ticket.bodyBytes)) {
        startReceiving(ticket);
      } else {
        wait(ticket, budgetQueue, 'waiting-for-budget', 'body budget');
      }
    },

    /** Stage 2, once the body is in: the request waits for an inference slot, or is refused. */
    takeSlot(res: ServerResponse, admitted: Admitted): void {
      const ticket = (res as Tracked)[TICKET];
      if (ticket?.stage !== 'receiving') throw new Error('a slot was asked for a request that is not receiving its body');
      Object.assign(ticket, admitted);
      receiving--;
      ticket.stage = 'waiting-for-slot';
      if (slotQueue.length === 0 && active < limits.maxActive) {
        activate(ticket);
      } else if (budgetQueue.length + slotQueue.length >= limits.maxQueued) {
        leave(ticket);
        admitted.refuse('queue_full', 'all inference slots and the queue are taken');
      } else {
        wait(ticket, slotQueue, 'waiting-for-slot', 'inference slot');
      }
    },

    state: () => ({ active, receiving, queued: budgetQueue.length + slotQueue.length, heldBodyBytes }),
  };
}

export type Admission = ReturnType<typeof createAdmission>;

/** Why a request's work stops: its client went away before the answer. The reason of its cancellation signal. */
export class RequestCancelled extends Error {
  override readonly name = 'RequestCancelled';
  constructor() {
    super('the client closed the request before its answer');
  }
}

/**
 * The signal that aborts, with a RequestCancelled reason, when the request's client goes away before its answer.
 * Work that checks it (signal.throwIfAborted()) stops with that reason, which the error handler answers with silence.
 */
export function cancellation(res: ExpressResponse): AbortSignal {
  return res.locals.cancel as AbortSignal;
}

/**
 * The two stages as express handlers of an inference route: `enter` first (a no-op for a request the front door
 * has admitted already), `takeSlot` once the body is parsed. A refusal is the area's 503 with Retry-After; it is
 * marked as a refusal, which the request's observer counts without a log line of its own.
 */
export function admissionHandlers(admission: Admission): { enter: RequestHandler; takeSlot: RequestHandler } {
  const admitted = (res: ExpressResponse, next: NextFunction): Admitted => ({
    proceed: () => next(),
    refuse: (reason, detail) => {
      res.set('Retry-After', '1');
      res.locals.refusal = reason;
      next(new ServiceError('overloaded', detail));
    },
  });
  return {
    enter: (req, res, next) => {
      // Work for a client that has gone is stopped where it can be (between video frames, say): see cancellation().
      const cancel = new AbortController();
      res.locals.cancel = cancel.signal;
      res.once('close', () => {
        if (!res.writableFinished) cancel.abort(new RequestCancelled());
      });
      if (admission.entered(res)) next();
      else admission.enter(req, res, admitted(res, next));
    },
    takeSlot: (_req, res, next) => admission.takeSlot(res, admitted(res, next)),
  };
}
