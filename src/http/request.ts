import type { Request, Response } from 'express';
import { clientName, ServiceError } from '../errors.js';
import { declaredImageTypes, type ImageFormat, imageMimeTypes, sniffImageFormat } from '../media/image.js';
import { decodeBase64 } from '../media/base64.js';

/** The media type of a Content-Type value, lower-cased, without parameters. */
export function mediaType(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type || undefined;
}

/** The image format a Content-Type declares; undefined when it declares none we accept (see declaredImageTypes). */
export function declaredImageFormat(contentType: string | undefined): ImageFormat | undefined {
  const type = mediaType(contentType);
  return type ? declaredImageTypes.get(type) : undefined;
}

/** Transfer encodings that mean the bytes as they are; base64 is the one this service decodes. */
const verbatimTransferEncodings = new Set(['binary', '8bit', '7bit']);

/**
 * Refuses a body this service would misread: a compressed one (Content-Encoding), or one in a transfer encoding
 * other than base64 (a quoted-printable body would otherwise be taken as raw bytes).
 */
export function checkBodyEncoding(req: Request): void {
  const compression = req.get('content-encoding')?.trim().toLowerCase();
  if (compression && compression !== 'identity') throw new ServiceError('content-type', 'compressed bodies (Content-Encoding) are not accepted');
  const transfer = req.get('content-transfer-encoding')?.trim().toLowerCase();
  if (transfer && transfer !== 'base64' && !verbatimTransferEncodings.has(transfer)) {
    throw new ServiceError('content-type', 'the Content-Transfer-Encoding is not supported; send base64 or the bytes as they are');
  }
}

/**
 * Refuses a body declared larger than `limit` before reading it, and closes the connection rather than reading
 * (or making the client send) bytes that will be thrown away.
 */
export function refuseDeclaredLength(req: Request, res: Response, limit: number): void {
  if (Number(req.get('content-length')) > limit) {
    res.set('Connection', 'close');
    throw new ServiceError('too-large', `the body exceeds ${limit} bytes`);
  }
}

/** True when the client asked for base64 transfer of inputs and templates (`Content-Transfer-Encoding: base64`). */
export function usesBase64(req: Request): boolean {
  return req.get('content-transfer-encoding')?.trim().toLowerCase() === 'base64';
}

/** The bytes a client sent, decoded from base64 when it asked for base64 transfer. */
export function transferDecode(bytes: Uint8Array, base64: boolean, invalid: () => ServiceError): Buffer {
  if (!base64) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const decoded = decodeBase64(bytes);
  if (!decoded) throw invalid();
  return decoded;
}

/** Checks that image bytes are what their declared type says. */
export function checkImageMatchesDeclared(bytes: Uint8Array, declared: ImageFormat, partName?: string): void {
  const where = partName ? `part "${clientName(partName)}"` : 'the body';
  if (bytes.length === 0) throw new ServiceError('sample-unreadable', `${where} is empty`);
  const actual = sniffImageFormat(bytes);
  if (actual !== declared) {
    const what = actual ? `${imageMimeTypes[actual]} bytes` : 'bytes that are not an image';
    throw new ServiceError('sample-unreadable', `${where} is declared ${imageMimeTypes[declared]} but holds ${what}`);
  }
}
