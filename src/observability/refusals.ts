import type { Logger } from './logger.js';
import type { Metrics, RejectionReason } from './metrics.js';

/** How often refusals are summed up in the log. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * Refusals (503 at capacity, 413 too large, 408 too slow, 400 for framing that could smuggle a request) are counted
 * in the metrics one by one but logged as one line per interval with the count of each reason: under a flood a line
 * per refusal would cost the event loop more than the refusal itself, and say nothing the counts do not.
 */
export function createRefusalLog(logger: Logger, metrics: Metrics, intervalMs = REFUSAL_LOG_INTERVAL_MS) {
  let counts = new Map<RejectionReason, number>();
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    logger.warn({ refused: Object.fromEntries(counts), seconds: intervalMs / 1000 }, 'requests refused');
    counts = new Map();
  };
  return {
    count(reason: RejectionReason): void {
      metrics.countRejected(reason);
      counts.set(reason, (counts.get(reason) ?? 0) + 1);
      timer ??= setTimeout(flush, intervalMs).unref();
    },
  };
}

export type RefusalLog = ReturnType<typeof createRefusalLog>;
