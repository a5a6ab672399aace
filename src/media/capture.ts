/**
 * The result object of the web capture plugin (`on_capture_complete`, see the spec's web-sdk-capture-callback), sent
 * as JSON so that a host backend can forward it without re-packing the frames into a ZIP.
 *
 * - Frames are `frame_list` (JPEG or PNG data URLs), in order; when it is empty, `best_frame` (or `best_frame_png`).
 *   With both, `best_frame` is kept apart: it must show the person of the frames (see liveness/temporal.ts).
 * - When `from_virtual_camera` is not null the plugin saw a virtual camera: the frames are those inside it, and the
 *   object is marked, so that the analysis can decline it whatever the frames look like.
 * - Every data URL must be `data:image/jpeg;base64,…` or `data:image/png;base64,…` holding what it says; one malformed
 *   data URL makes the whole object unreadable, as a corrupt archive does.
 * - More than `maxFrames` frames are evenly spread over the sequence, as archives and videos are.
 */
import { ServiceError } from '../errors.js';
import { decodeBase64 } from './base64.js';
import { type ImageFormat, imageMimeTypes, sniffImageFormat } from './image.js';
import { evenlySpread } from './sequence.js';

export interface CaptureFrame {
  name: string;
  format: ImageFormat;
  bytes: Buffer;
}

export interface CaptureObject {
  frames: CaptureFrame[];
  /** The plugin's chosen frame, when `frame_list` holds the frames. */
  bestFrame: CaptureFrame | undefined;
  fromVirtualCamera: boolean;
}

const unreadable = (detail: string): ServiceError => new ServiceError('sample-unreadable', detail);

const DATA_URL = new RegExp(`^data:(${Object.values(imageMimeTypes).join('|')});base64,`);

function frameFromDataUrl(value: unknown, name: string): CaptureFrame {
  if (typeof value !== 'string') throw unreadable(`${name} is not a data URL`);
  const match = DATA_URL.exec(value);
  if (!match) throw unreadable(`${name} is not a JPEG or PNG data URL in base64`);
  const bytes = decodeBase64(Buffer.from(value.slice(match[0].length), 'latin1'));
  const format = bytes ? sniffImageFormat(bytes) : undefined;
  if (!bytes || !format || imageMimeTypes[format] !== match[1]) throw unreadable(`${name} does not hold the ${match[1]} image it declares`);
  return { name, format, bytes };
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** True when the bytes look like a JSON object (after optional white space). */
export function looksLikeJsonObject(bytes: Uint8Array): boolean {
  for (const byte of bytes) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    return byte === 0x7b;
  }
  return false;
}

export function readCaptureObject(bytes: Uint8Array, limits: { maxFrames: number }): CaptureObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw unreadable('the capture object is not valid JSON');
  }
  if (!isObject(parsed)) throw unreadable('the capture object is not a JSON object');
  const virtual = parsed.from_virtual_camera;
  const fromVirtualCamera = virtual !== null && virtual !== undefined;
  const source = fromVirtualCamera ? virtual : parsed;
  if (!isObject(source)) throw unreadable('from_virtual_camera is not an object');
  const list = source.frame_list;
  if (list !== null && list !== undefined && !Array.isArray(list)) throw unreadable('frame_list is not a list');
  const frames = (list ?? []).map((value, index) => frameFromDataUrl(value, `frame_list[${index}]`));
  const best = source.best_frame ?? source.best_frame_png;
  const bestFrame = best === null || best === undefined ? undefined : frameFromDataUrl(best, source.best_frame ? 'best_frame' : 'best_frame_png');
  if (frames.length === 0) {
    if (!bestFrame) throw unreadable('the capture object holds no frame');
    return { frames: [bestFrame], bestFrame: undefined, fromVirtualCamera };
  }
  return { frames: evenlySpread(frames, limits.maxFrames), bestFrame, fromVirtualCamera };
}
