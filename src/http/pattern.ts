import express, { type RequestHandler } from 'express';
import type { AppDeps, Route } from '../app.js';
import { ServiceError } from '../errors.js';
import { checkImageMatchesDeclared, declaredImageFormat, transferDecode, usesBase64 } from './request.js';

/** Base64 text is 4/3 of the bytes it carries, plus line breaks. */
export const base64Allowance = (bytes: number): number => Math.ceil((bytes * 4) / 3) + Math.ceil(bytes / 38) + 1024;

/** The body of a single-image request: declared JPEG or PNG, raw or base64, within the size limit. */
function imageBody(maxImageBytes: number): RequestHandler[] {
  return [
    (req, _res, next) => {
      if (!declaredImageFormat(req.get('content-type'))) {
        throw new ServiceError('content-type', 'send the image as image/jpeg or image/png');
      }
      next();
    },
    express.raw({ type: () => true, limit: base64Allowance(maxImageBytes), inflate: false }),
    (req, _res, next) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const image = transferDecode(body, usesBase64(req), new ServiceError('sample-unreadable', 'the body is not valid base64'));
      if (image.length > maxImageBytes) throw new ServiceError('too-large', `the image exceeds ${maxImageBytes} bytes`);
      checkImageMatchesDeclared(image, declaredImageFormat(req.get('content-type'))!);
      req.body = image;
      next();
    },
  ];
}

export function patternRoutes(deps: AppDeps): Route[] {
  return [
    {
      method: 'post',
      path: '/v1/face/pattern/extract',
      handlers: [
        ...imageBody(deps.config.maxImageBytes),
        async (req, res) => {
          const template = await deps.biometry.extract(req.body as Buffer);
          res.type('application/octet-stream');
          if (usesBase64(req)) res.set('Content-Transfer-Encoding', 'base64').send(template.toString('base64'));
          else res.send(template);
        },
      ],
    },
  ];
}
