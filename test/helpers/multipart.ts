import { randomBytes } from 'node:crypto';

export interface RawPart {
  name: string;
  filename?: string;
  /** Omitted: the part carries no Content-Type header. */
  contentType?: string;
  body: Uint8Array | string;
}

/** A multipart/form-data body built byte by byte, so tests control every part header (or its absence). */
export function multipart(parts: readonly RawPart[]): { body: Buffer; contentType: string } {
  const boundary = `test-${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) head += `; filename="${part.filename}"`;
    head += '\r\n';
    if (part.contentType) head += `Content-Type: ${part.contentType}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.from(part.body), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export function postMultipart(url: string, parts: readonly RawPart[], headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  const { body, contentType } = multipart(parts);
  return fetch(url, { method: 'POST', body, headers: { 'content-type': contentType, ...headers }, ...(signal ? { signal } : {}) });
}
