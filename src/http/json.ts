import type { Response } from 'express';
import { ServiceError } from '../errors.js';

/**
 * Sends `value` as JSON, or refuses with 413 when its text would pass `maxBytes`: an answer built from what a client
 * asked for (1:N results named by its filenames, liveness metadata and best shots) is bounded like a body, and one
 * too long for a string at all is a 413 too, never a 500 RangeError.
 */
export function sendJson(res: Response, value: unknown, maxBytes: number): void {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    if (error instanceof RangeError) throw new ServiceError('too-large', `the answer would be longer than a string can be; at most ${maxBytes} bytes`);
    throw error;
  }
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) throw new ServiceError('too-large', `the answer would take ${bytes} bytes; at most ${maxBytes}`);
  res.type('application/json').send(text);
}
