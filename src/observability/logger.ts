import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs, one line per event. Request logs carry ids, routes, statuses and durations only: nothing a client sent
 * (images, templates, payload metadata) and no scores is ever passed to the logger.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'face-biometrics-api' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
