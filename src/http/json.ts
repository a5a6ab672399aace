import type { Response } from 'express';
import { ServiceError } from '../errors.js';

const tooLarge = (taken: number | string, maxBytes: number): ServiceError =>
  new ServiceError('too-large', `the answer would take ${taken} bytes; at most ${maxBytes}`);

/** An object JSON.stringify writes member by member: not a class instance, and without a toJSON of its own. */
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype && typeof (value as { toJSON?: unknown }).toJSON !== 'function';

/**
 * The JSON text of `value`, or a 413 once it would pass `maxBytes`. An answer built from what a client asked for
 * grows with repetition (1:N results named by its filenames; liveness media and metadata repeated in every analysis,
 * best shots), so it is written in pieces, each bounded by the room left: objects member by member, arrays a run of
 * elements at a time, each run as long as the elements so far say fits in half the room. No piece larger than that
 * is built, so the text never outgrows what a string can hold. (Its length in UTF-16 units bounds its bytes from
 * below: counting bytes is left to the end, once.) The pieces, in order.
 */
function boundedJson(value: unknown, maxBytes: number): string[] {
  const pieces: string[] = [];
  let length = 0;
  const add = (piece: string): void => {
    length += piece.length;
    if (length > maxBytes) throw tooLarge(`more than ${maxBytes}`, maxBytes);
    pieces.push(piece);
  };
  const write = (member: unknown): void => {
    if (Array.isArray(member)) {
      add('[');
      let written = 0;
      let writtenBytes = 0;
      while (written < member.length) {
        const perElement = written === 0 ? Infinity : Math.max(1, writtenBytes / written);
        const run = Math.min(member.length - written, Math.max(1, Math.floor((maxBytes - length) / 2 / perElement)));
        const text = JSON.stringify(member.slice(written, written + run));
        if (written > 0) add(',');
        add(text.slice(1, -1));
        written += run;
        writtenBytes += text.length;
      }
      add(']');
    } else if (isPlainObject(member)) {
      add('{');
      let first = true;
      for (const [key, child] of Object.entries(member)) {
        if (child === undefined || typeof child === 'function' || typeof child === 'symbol') continue;
        add(`${first ? '' : ','}${JSON.stringify(key)}:`);
        first = false;
        write(child);
      }
      add('}');
    } else {
      add(JSON.stringify(member));
    }
  };
  write(value);
  return pieces;
}

/**
 * Sends `value` as JSON, or refuses with 413 when its text would pass `maxBytes` (see boundedJson). The pieces are
 * encoded straight into the body, never joined into one string first.
 */
export function sendJson(res: Response, value: unknown, maxBytes: number): void {
  const pieces = boundedJson(value, maxBytes);
  const bytes = pieces.reduce((sum, piece) => sum + Buffer.byteLength(piece), 0);
  if (bytes > maxBytes) throw tooLarge(bytes, maxBytes);
  const body = Buffer.allocUnsafe(bytes);
  let written = 0;
  for (const piece of pieces) written += body.write(piece, written);
  res.set('Content-Type', 'application/json; charset=utf-8').send(body);
}
