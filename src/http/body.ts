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
 * Answers 408 (and closes the connection) when the request body has not arrived within `ms`, so that a client
 * trickling its body cannot hold a slot for long. Starts once the request is admitted.
 */
export function bodyDeadline(ms: number): RequestHandler {
  return (req, res, next) => {
    if (req.complete) {
      next();
      return;
    }
    const timer = setTimeout(() => {
      if (req.complete || res.headersSent) return;
      res.set('Connection', 'close');
      res.once('finish', () => req.socket.destroy());
      sendError(req, res, 'timeout', `the body was not received within ${ms} ms`);
    }, ms);
    const stop = (): void => clearTimeout(timer);
    req.once('end', stop);
    res.once('close', stop);
    next();
  };
}
