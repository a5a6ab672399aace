import express, { type RequestHandler } from 'express';
import { ServiceError } from '../errors.js';
import { sendError } from './errors.js';
import { checkBodyEncoding, checkImageMatchesDeclared, declaredImageFormat, refuseDeclaredLength, transferDecode, usesBase64 } from './request.js';

/** Base64 text is 4/3 of the bytes it carries, plus line breaks. */
export const base64Allowance = (bytes: number): number => Math.ceil((bytes * 4) / 3) + Math.ceil(bytes / 38) + 1024;

/** The body of a single-image request: declared JPEG or PNG, raw or base64, within the size limit. */
export function imageBody(maxImageBytes: number): RequestHandler[] {
  const limit = base64Allowance(maxImageBytes);
  return [
    (req, res, next) => {
      if (!declaredImageFormat(req.get('content-type'))) {
        throw new ServiceError('content-type', 'send the image as image/jpeg or image/png');
      }
      checkBodyEncoding(req);
      refuseDeclaredLength(req, res, limit);
      next();
    },
    express.raw({ type: () => true, limit, inflate: false }),
    (req, _res, next) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const image = transferDecode(body, usesBase64(req), () => new ServiceError('sample-unreadable', 'the body is not valid base64'));
      if (image.length > maxImageBytes) throw new ServiceError('too-large', `the image exceeds ${maxImageBytes} bytes`);
      checkImageMatchesDeclared(image, declaredImageFormat(req.get('content-type'))!);
      req.body = image;
      next();
    },
  ];
}

/**
 * Answers 408 (and closes the connection) when the request body has not arrived within `ms`, or when it arrives
 * slower than `minBytesPerSecond` on average (checked every second from the second second on; 0 for no minimum),
 * so that a client trickling its body holds its body budget for seconds, not for the whole deadline. Starts once
 * the request may be received.
 */
export function bodyDeadline(ms: number, minBytesPerSecond: number): RequestHandler {
  return (req, res, next) => {
    if (req.complete) {
      next();
      return;
    }
    const started = performance.now();
    // The socket's count, not the body's: a 'data' listener here would start the body flowing before its parser.
    const bytesBefore = req.socket.bytesRead;
    const refuse = (reason: 'body_timeout' | 'slow_body', detail: string): void => {
      if (req.complete || res.headersSent) return;
      res.locals.refusal = reason;
      res.set('Connection', 'close');
      res.once('finish', () => req.socket.destroy());
      sendError(res, 'timeout', detail);
    };
    const deadline = setTimeout(() => refuse('body_timeout', `the body was not received within ${ms} ms`), ms);
    const rateCheck =
      minBytesPerSecond > 0
        ? setInterval(() => {
            const seconds = (performance.now() - started) / 1000;
            const rate = (req.socket.bytesRead - bytesBefore) / seconds;
            if (seconds > 1.5 && rate < minBytesPerSecond) {
              refuse('slow_body', `the body arrived at ${Math.floor(rate)} bytes/s, under the minimum of ${minBytesPerSecond}`);
            }
          }, 1000)
        : undefined;
    const stop = (): void => {
      clearTimeout(deadline);
      clearInterval(rateCheck);
    };
    req.once('end', stop);
    res.once('close', stop);
    next();
  };
}
