import type { Request, RequestHandler } from 'express';
import { clientName, type ErrorKind, ServiceError } from '../errors.js';
import { declaredImageTypes, sniffImageFormat } from '../media/image.js';
import { boundaryOf, type ParsedPart, parseMultipart } from './multipart-parser.js';
import { checkBodyEncoding, checkImageMatchesDeclared, declaredImageFormat, mediaType, refuseDeclaredLength, transferDecode } from './request.js';

/** One part of a multipart/form-data body, as the client sent it. */
export type Part = ParsedPart;

export interface MultipartLimits {
  /** Whole body, in bytes. */
  maxBodyBytes: number;
  /** One part, in bytes, as sent (base64 text included). */
  maxPartBytes: number;
  /** Number of parts. */
  maxParts: number;
}

const partsKey = Symbol('multipart parts');

type RequestWithParts = Request & { [partsKey]?: Part[] };

export function partsOf(req: Request): Part[] {
  const parts = (req as RequestWithParts)[partsKey];
  if (!parts) throw new Error('multipart body was not parsed for this route');
  return parts;
}

/**
 * Reads a multipart/form-data body into memory, within the body limit, and parses it into parts in the order they
 * were sent, within the part count and size limits (see multipart-parser.ts). Neither multer nor busboy: multer
 * drops a part declared application/octet-stream without a filename (the published compare example) and loses the
 * Content-Type of parts without one, and busboy's events per part made a 10,000-template compare_n spend 100 ms
 * parsing.
 */
export function multipartBody(limits: MultipartLimits): RequestHandler[] {
  const checkHeaders: RequestHandler = (req, res, next) => {
    if (mediaType(req.get('content-type')) !== 'multipart/form-data') {
      throw new ServiceError('content-type', 'send multipart/form-data with a boundary');
    }
    if (!boundaryOf(req.get('content-type'))) throw new ServiceError('content-type', 'the multipart boundary is missing, empty or invalid');
    checkBodyEncoding(req);
    refuseDeclaredLength(req, res, limits.maxBodyBytes);
    next();
  };

  const read: RequestHandler = (req, res, next) => {
    // With a declared length the body goes straight into one buffer of that size: no list of chunks to join, so
    // a 10 MB body never briefly needs 20 MB.
    const declaredLength = Number(req.get('content-length'));
    const preallocated = Number.isSafeInteger(declaredLength) && declaredLength > 0 ? Buffer.allocUnsafe(declaredLength) : undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      req.removeListener('data', collect);
      if (error) {
        // The rest of the body is not worth reading: answer, then close the connection.
        res.set('Connection', 'close');
        req.resume();
        next(error);
        return;
      }
      try {
        const body = preallocated ? preallocated.subarray(0, received) : Buffer.concat(chunks, received);
        (req as RequestWithParts)[partsKey] = parseMultipart(body, boundaryOf(req.get('content-type'))!, limits);
      } catch (parseError) {
        next(parseError);
        return;
      }
      next();
    };
    const collect = (chunk: Buffer): void => {
      if (received + chunk.length > limits.maxBodyBytes) {
        finish(new ServiceError('too-large', `the body exceeds ${limits.maxBodyBytes} bytes`));
      } else if (preallocated) {
        // node's HTTP parser delivers no more than Content-Length bytes.
        chunk.copy(preallocated, received);
      } else {
        chunks.push(chunk);
      }
      received += chunk.length;
    };
    req.on('data', collect);
    req.once('end', () => finish());
    req.once('aborted', () => finish(new ServiceError('malformed-request', 'the client aborted the request')));
    req.once('error', () => finish(new ServiceError('malformed-request', 'the request body could not be read')));
  };

  return [checkHeaders, read];
}

export type PartKind = 'image' | 'template';

export interface PartSpec {
  kind: PartKind;
  /** A repeated part appears one or more times; the others exactly once. */
  repeated?: boolean;
  /** Repeated parts of the *_n methods must carry a filename: it names the result. */
  needsFilename?: boolean;
}

const missingKind: Record<PartKind, ErrorKind> = { image: 'sample-unreadable', template: 'template-unreadable' };

/**
 * The parts a method takes, by name, checked against its spec: every part present (once, unless repeated), no part
 * the method does not know, filenames where results are named by them.
 */
export function selectParts<N extends string>(parts: Part[], spec: Record<N, PartSpec>): Record<N, Part[]> {
  const selected = Object.fromEntries(Object.keys(spec).map((name) => [name, [] as Part[]])) as Record<N, Part[]>;
  for (const part of parts) {
    const list = (selected as Record<string, Part[]>)[part.name];
    if (!list) throw new ServiceError('malformed-request', `unexpected part "${clientName(part.name)}"; expected ${Object.keys(spec).join(', ')}`);
    list.push(part);
  }
  for (const name of Object.keys(spec) as N[]) {
    const rule = spec[name];
    const found = selected[name];
    if (found.length === 0) throw new ServiceError(missingKind[rule.kind], `the "${name}" part is missing`);
    if (!rule.repeated && found.length > 1) throw new ServiceError('malformed-request', `the "${name}" part appears ${found.length} times`);
    if (rule.needsFilename && found.some((p) => !p.filename)) {
      throw new ServiceError('malformed-request', `every "${name}" part needs a filename in its Content-Disposition`);
    }
  }
  return selected;
}

const OCTET_STREAM = 'application/octet-stream';
const acceptsDeclared: Record<PartKind, (type: string) => boolean> = {
  image: (type) => type === OCTET_STREAM || declaredImageTypes.has(type),
  template: (type) => type === OCTET_STREAM,
};

/**
 * The bytes of a part after transfer decoding, with its declared type checked: images may be declared as a JPEG/PNG
 * type or as generic octet-stream, templates as octet-stream. A part without a Content-Type (as in the published
 * examples) or declared text/plain (the RFC 7578 default some clients write out) passes for both.
 */
export function partBytes(part: Part, kind: PartKind, base64: boolean): Buffer {
  const declared = part.declaredType;
  if (declared && declared !== 'text/plain' && !acceptsDeclared[kind](declared)) {
    throw new ServiceError('part-content-type', `part "${clientName(part.name)}" is declared ${clientName(declared)}`);
  }
  const bytes = transferDecode(part.bytes, base64, () => new ServiceError(missingKind[kind], `part "${clientName(part.name)}" is not valid base64`));
  if (kind === 'image') {
    const declaredFormat = declaredImageFormat(declared);
    if (declaredFormat) checkImageMatchesDeclared(bytes, declaredFormat, part.name);
    else if (!sniffImageFormat(bytes)) throw new ServiceError('sample-unreadable', `part "${clientName(part.name)}" is not a JPEG or PNG image`);
  }
  return bytes;
}
