import busboy from 'busboy';
import type { Request, RequestHandler } from 'express';
import { type ErrorKind, ServiceError } from '../errors.js';
import { sniffImageFormat } from '../media/image.js';
import { checkBodyEncoding, checkImageMatchesDeclared, declaredImageFormat, mediaType, refuseDeclaredLength, transferDecode } from './request.js';

/** One part of a multipart/form-data body, as the client sent it. */
export interface Part {
  name: string;
  filename: string | undefined;
  /** The part's Content-Type when the parser could see it (parts with a filename or declared octet-stream). */
  declaredType: string | undefined;
  bytes: Buffer;
}

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
 * Parses a multipart/form-data body into parts held in memory, in the order they were sent, within the size and count
 * limits. busboy is used directly rather than through multer: multer drops a part that is declared
 * application/octet-stream but has no filename (the published compare example) and loses the Content-Type of every
 * part without a filename. Parts without a filename reach busboy as text fields; decoded as latin1 they keep every
 * byte and are turned back into bytes here.
 */
export function multipartBody(limits: MultipartLimits): RequestHandler[] {
  const checkHeaders: RequestHandler = (req, res, next) => {
    if (mediaType(req.get('content-type')) !== 'multipart/form-data' || !/boundary=/i.test(req.get('content-type') ?? '')) {
      throw new ServiceError('content-type', 'send multipart/form-data with a boundary');
    }
    checkBodyEncoding(req);
    refuseDeclaredLength(req, res, limits.maxBodyBytes);
    next();
  };

  const parse: RequestHandler = (req, res, next) => {
    const tooLarge = (what: string): ServiceError => new ServiceError('too-large', what);
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        defCharset: 'latin1',
        defParamCharset: 'utf8',
        // busboy reports a limit when it is reached, not exceeded: one more, so that the limits are what they say.
        limits: {
          fileSize: limits.maxPartBytes + 1,
          fieldSize: limits.maxPartBytes + 1,
          files: limits.maxParts + 1,
          fields: limits.maxParts + 1,
          parts: limits.maxParts + 1,
          fieldNameSize: 200,
        },
      });
    } catch {
      throw new ServiceError('content-type', 'the multipart boundary is empty or invalid');
    }
    const parts: Part[] = [];
    let received = 0;
    let settled = false;

    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      req.removeListener('data', countBytes);
      if (error) {
        // The rest of the body is not worth reading: answer, then close the connection.
        res.set('Connection', 'close');
        req.resume();
        next(error);
        return;
      }
      (req as RequestWithParts)[partsKey] = parts;
      next();
    };
    const countBytes = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limits.maxBodyBytes) finish(tooLarge(`the body exceeds ${limits.maxBodyBytes} bytes`));
    };

    const malformed = (): ServiceError => new ServiceError('malformed-request', 'the multipart body is malformed or incomplete');
    // busboy hands over a part whose Content-Disposition has no name with the name undefined.
    const nameless = (): ServiceError => new ServiceError('malformed-request', 'a part has no name in its Content-Disposition');
    parser.on('file', (name, stream, info) => {
      // A body that ends inside this part destroys its stream with an error: unheard, it would end the process.
      stream.on('error', () => finish(malformed()));
      if (!name) {
        stream.resume();
        finish(nameless());
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => finish(tooLarge(`a part exceeds ${limits.maxPartBytes} bytes`)));
      stream.on('end', () => {
        if (stream.truncated) return;
        parts.push({ name, filename: info.filename, declaredType: mediaType(info.mimeType), bytes: Buffer.concat(chunks) });
      });
    });
    parser.on('field', (name, value, info) => {
      if (!name) finish(nameless());
      else if (info.valueTruncated) finish(tooLarge(`a part exceeds ${limits.maxPartBytes} bytes`));
      else if (info.nameTruncated) finish(new ServiceError('malformed-request', 'a part name is too long'));
      else parts.push({ name, filename: undefined, declaredType: mediaType(info.mimeType), bytes: Buffer.from(value, 'latin1') });
    });
    for (const limit of ['partsLimit', 'filesLimit', 'fieldsLimit'] as const) {
      parser.on(limit, () => finish(tooLarge(`more than ${limits.maxParts} parts`)));
    }
    parser.on('error', () => finish(malformed()));
    parser.on('close', () => finish());
    req.on('data', countBytes);
    req.on('aborted', () => finish(new ServiceError('malformed-request', 'the client aborted the request')));
    req.pipe(parser);
  };

  return [checkHeaders, parse];
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
    if (!list) throw new ServiceError('malformed-request', `unexpected part "${part.name.slice(0, 64)}"; expected ${Object.keys(spec).join(', ')}`);
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

const imagePartTypes = new Set(['image/jpeg', 'image/jpg', 'image/pjpeg', 'image/png', 'application/octet-stream']);
const templatePartTypes = new Set(['application/octet-stream']);

/**
 * The bytes of a part after transfer decoding, with its declared type checked: images may be declared as a JPEG/PNG
 * type or as generic octet-stream, templates as octet-stream. text/plain is what the parser reports for a part
 * without a Content-Type (as in the published examples), so it passes for both.
 */
export function partBytes(part: Part, kind: PartKind, base64: boolean): Buffer {
  const allowed = kind === 'image' ? imagePartTypes : templatePartTypes;
  const declared = part.declaredType;
  if (declared && declared !== 'text/plain' && !allowed.has(declared)) {
    throw new ServiceError('part-content-type', `part "${part.name}" is declared ${declared.slice(0, 64)}`);
  }
  const bytes = transferDecode(part.bytes, base64, () => new ServiceError(missingKind[kind], `part "${part.name}" is not valid base64`));
  if (kind === 'image') {
    const declaredFormat = declaredImageFormat(declared);
    if (declaredFormat) checkImageMatchesDeclared(bytes, declaredFormat, part.name);
    else if (!sniffImageFormat(bytes)) throw new ServiceError('sample-unreadable', `part "${part.name}" is not a JPEG or PNG image`);
  }
  return bytes;
}
