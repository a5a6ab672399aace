import { randomBytes } from 'node:crypto';
import type { Response } from 'express';

export interface ResponsePart {
  name: string;
  filename?: string;
  contentType: string;
  body: Buffer | string;
}

/**
 * Sends a multipart/form-data response (RFC 7578) with a random boundary. Parts carry no Content-Transfer-Encoding
 * header, which RFC 7578 forbids (and common parsers refuse): base64 parts are base64 text because the client asked.
 */
export function sendMultipart(res: Response, parts: readonly ResponsePart[]): void {
  const boundary = `----face-biometrics-${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ''}`;
    const headers = [`Content-Disposition: ${disposition}`, `Content-Type: ${part.contentType}`];
    chunks.push(Buffer.from(`--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n`), Buffer.from(part.body), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  res.type(`multipart/form-data; boundary=${boundary}`).send(Buffer.concat(chunks));
}
