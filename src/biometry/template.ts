import { createHmac, timingSafeEqual } from 'node:crypto';
import os from 'node:os';
import { ServiceError } from '../errors.js';

/**
 * Biometric template, format version 1 (all integers little-endian):
 *
 *   offset  size  field
 *   0       4     magic "FBT1"
 *   4       1     format version (1)
 *   5       1     flags: bit 0 set when an HMAC follows the values; other bits 0
 *   6       2     dimension d
 *   8       8     embedder fingerprint: the first 8 bytes of the embedder file's sha256
 *   16      4·d   the L2-normalised embedding, float32
 *   16+4·d  32    HMAC-SHA256 of all the bytes before it, with the first signing key (signed templates only)
 *
 * A template is only ever compared with one of the same format version, dimension and embedder fingerprint. With
 * signing keys configured, templates are signed with the first and must carry a valid signature by any of them.
 */
export const TEMPLATE_MAGIC = Buffer.from('FBT1', 'ascii');
export const TEMPLATE_FORMAT_VERSION = 1;
export const TEMPLATE_HEADER_BYTES = 16;
const FINGERPRINT_BYTES = 8;
const SIGNED_FLAG = 0x01;
export const SIGNATURE_BYTES = 32;
/** How far from unit length a stored embedding may be; float32 rounding stays far below it. */
const NORM_TOLERANCE = 1e-3;
const littleEndian = os.endianness() === 'LE';

export interface TemplateModel {
  /** Hex sha256 of the embedder file. */
  embedderSha256: string;
  dimension: number;
  /** HMAC keys: the first signs new templates, any verifies; none means templates are not signed. */
  signingKeys?: readonly Buffer[];
}

const signs = (model: TemplateModel): boolean => (model.signingKeys?.length ?? 0) > 0;

export function templateBytes(model: TemplateModel): number {
  return TEMPLATE_HEADER_BYTES + 4 * model.dimension + (signs(model) ? SIGNATURE_BYTES : 0);
}

const signature = (key: Buffer, signed: Uint8Array): Buffer => createHmac('sha256', key).update(signed).digest();

function fingerprint(model: TemplateModel): Buffer {
  return Buffer.from(model.embedderSha256.slice(0, 2 * FINGERPRINT_BYTES), 'hex');
}

export function encodeTemplate(embedding: Float32Array, model: TemplateModel): Buffer {
  if (embedding.length !== model.dimension) throw new RangeError(`embedding has ${embedding.length} values, model has ${model.dimension}`);
  const out = Buffer.alloc(templateBytes(model));
  TEMPLATE_MAGIC.copy(out, 0);
  out.writeUInt8(TEMPLATE_FORMAT_VERSION, 4);
  out.writeUInt8(signs(model) ? SIGNED_FLAG : 0, 5);
  out.writeUInt16LE(model.dimension, 6);
  fingerprint(model).copy(out, 8);
  const valuesEnd = TEMPLATE_HEADER_BYTES + 4 * embedding.length;
  for (let i = 0; i < embedding.length; i++) out.writeFloatLE(embedding[i]!, TEMPLATE_HEADER_BYTES + 4 * i);
  if (signs(model)) signature(model.signingKeys![0]!, out.subarray(0, valuesEnd)).copy(out, valuesEnd);
  return out;
}

const unreadable = (detail: string): ServiceError => new ServiceError('template-unreadable', detail);

/**
 * Checks a template and copies its values into `target` at `offset` (so many templates can fill one matrix).
 * Refuses anything but an intact template of this model and format version.
 */
export function decodeTemplateInto(bytes: Uint8Array, model: TemplateModel, target: Float32Array, offset: number): void {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buffer.length < TEMPLATE_HEADER_BYTES) throw unreadable(buffer.length === 0 ? 'the template is empty' : 'the template is truncated');
  if (!buffer.subarray(0, 4).equals(TEMPLATE_MAGIC)) throw unreadable('not a template of this service');
  const version = buffer.readUInt8(4);
  if (version !== TEMPLATE_FORMAT_VERSION) {
    throw unreadable(`template format version ${version} is not supported (this service reads version ${TEMPLATE_FORMAT_VERSION})`);
  }
  const flags = buffer.readUInt8(5);
  if ((flags & ~SIGNED_FLAG) !== 0) throw unreadable('the template has unknown flags');
  const signed = (flags & SIGNED_FLAG) !== 0;
  if (!buffer.subarray(8, 16).equals(fingerprint(model))) {
    throw unreadable('the template was made by another face model; extract it again from the photo');
  }
  const dimension = buffer.readUInt16LE(6);
  if (dimension !== model.dimension) throw unreadable(`template dimension ${dimension} differs from the model's ${model.dimension}`);
  const valuesEnd = TEMPLATE_HEADER_BYTES + 4 * dimension;
  const expected = valuesEnd + (signed ? SIGNATURE_BYTES : 0);
  if (buffer.length !== expected) throw unreadable(buffer.length < expected ? 'the template is truncated' : 'the template has trailing bytes');
  if (signs(model)) {
    if (!signed) throw unreadable('the template is not signed, and this service only accepts signed templates');
    const offered = buffer.subarray(valuesEnd);
    const valid = model.signingKeys!.some((key) => timingSafeEqual(signature(key, buffer.subarray(0, valuesEnd)), offered));
    if (!valid) throw unreadable('the template signature does not match: it was altered, or signed with a key this service does not hold');
  }
  const values = target.subarray(offset, offset + dimension);
  if (littleEndian) {
    // A straight byte copy into the matrix: 1:N requests decode thousands of templates.
    new Uint8Array(values.buffer, values.byteOffset, 4 * dimension).set(buffer.subarray(TEMPLATE_HEADER_BYTES, valuesEnd));
  } else {
    for (let i = 0; i < dimension; i++) values[i] = buffer.readFloatLE(TEMPLATE_HEADER_BYTES + 4 * i);
  }
  let norm = 0;
  for (let i = 0; i < dimension; i++) {
    const value = values[i]!;
    norm += value * value;
  }
  if (!Number.isFinite(norm)) throw unreadable('the template holds a value that is not a finite number');
  if (Math.abs(Math.sqrt(norm) - 1) > NORM_TOLERANCE) throw unreadable('the template values are not a unit vector');
}

export function decodeTemplate(bytes: Uint8Array, model: TemplateModel): Float32Array {
  const values = new Float32Array(model.dimension);
  decodeTemplateInto(bytes, model, values, 0);
  return values;
}
