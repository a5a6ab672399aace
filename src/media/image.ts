import sharp from 'sharp';
import { ServiceError } from '../errors.js';
import { ignoreStages, type StageObserver, timed } from '../observability/stages.js';
import { clipToImage, type FaceImage, type ImageView, type Raster, type Rect, wholeImage } from './raster.js';

// Decoded pixels must not outlive a request: no libvips operation cache.
sharp.cache(false);

export type ImageFormat = 'jpeg' | 'png';

/** The media type of each format. */
export const imageMimeTypes: Record<ImageFormat, string> = { jpeg: 'image/jpeg', png: 'image/png' };

/**
 * The types a client may declare an image as, and the format each means: the media type of each format, and
 * image/jpg and image/pjpeg, common misspellings of JPEG that we accept.
 */
export const declaredImageTypes: ReadonlyMap<string, ImageFormat> = new Map([
  ...Object.entries(imageMimeTypes).map(([format, type]) => [type, format as ImageFormat] as const),
  ['image/jpg', 'jpeg'],
  ['image/pjpeg', 'jpeg'],
]);

/** The format the bytes are in, by their signature; undefined when neither JPEG nor PNG. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  return undefined;
}

export interface DecodeLimits {
  /** Larger images are refused from their header. */
  maxPixels: number;
  /** No view of an image holds more pixels than this: finer views are scaled down as they decode. */
  maxDecodedPixels: number;
  /** Images longer than this many times their width, or wider than this many times their height, are refused. */
  maxAspectRatio: number;
  /** JPEGs with more scans (progressive passes over the whole image) are refused. */
  maxJpegScans: number;
  /** A decode still running after this long is abandoned and the sample refused. */
  timeoutMs: number;
}

/** A JPEG or PNG sample, read lazily: each view decodes only the pixels it needs. */
export interface EncodedImage extends FaceImage {
  readonly format: ImageFormat;
}

/**
 * Images up to this many pixels are decoded once, whole and at full resolution, and every view is that raster:
 * decoding the scaled whole and then a region costs as much as one full decode at this size (1920×1080 JPEG,
 * measured in bench/README.md); larger JPEGs are decoded per view, shrunk in their DCT.
 */
const SINGLE_DECODE_MAX_PIXELS = 2_100_000;

/** JPEG can decode at 1/2, 1/4 and 1/8 of its size inside the inverse DCT, at a fraction of the full cost. */
const JPEG_SHRINKS = [8, 4, 2, 1] as const;

const unreadable = (detail: string): ServiceError => new ServiceError('sample-unreadable', detail);

/**
 * Counts the scans of a JPEG (a baseline JPEG has one, a progressive one about ten), stopping past `limit`. Every
 * scan of a progressive JPEG is a pass over the whole image's coefficients before the first pixel comes out, so a
 * small file with thousands of scans costs seconds of CPU however little of it is decoded, and a decoder cannot be
 * interrupted inside that pass (libjpeg-turbo's advice: limit the scans).
 */
export function countJpegScans(bytes: Uint8Array, limit: number): number {
  let scans = 0;
  let at = 2;
  while (at + 3 < bytes.length && scans <= limit) {
    if (bytes[at] !== 0xff) {
      at++;
      continue;
    }
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0xd9) break;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    at += 2 + length;
    if (marker !== 0xda) continue;
    scans++;
    // Entropy-coded data runs to the next marker that is not a stuffed 0xFF00 nor a restart marker.
    for (;;) {
      const next = bytes.indexOf(0xff, at);
      if (next < 0 || next + 1 >= bytes.length) return scans;
      const following = bytes[next + 1]!;
      if (following === 0x00 || (following >= 0xd0 && following <= 0xd7)) {
        at = next + 2;
        continue;
      }
      at = next;
      break;
    }
  }
  return scans;
}

/**
 * Reads a JPEG or PNG header and answers with a lazily decoded image: EXIF orientation applied (sizes and
 * coordinates are upright), grey expanded to three channels, alpha composed onto white, CMYK and 16-bit converted.
 * Refused from the header, before any pixel is decoded: bytes that are neither format, images over the pixel limit
 * or of an absurd aspect ratio, and JPEGs with more scans than a real encoder writes.
 */
export async function openImage(bytes: Uint8Array, limits: DecodeLimits, observe: StageObserver = ignoreStages): Promise<EncodedImage> {
  const format = sniffImageFormat(bytes);
  if (!format) throw unreadable('the bytes are neither a JPEG nor a PNG image');
  if (format === 'jpeg' && countJpegScans(bytes, limits.maxJpegScans) > limits.maxJpegScans) {
    throw unreadable(`the JPEG has more than ${limits.maxJpegScans} scans`);
  }
  let header: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    header = await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1 }).metadata();
  } catch (error) {
    if (/pixel limit/i.test((error as Error).message)) throw unreadable(`the image has more than ${limits.maxPixels} pixels`);
    throw unreadable(`the ${format.toUpperCase()} image cannot be decoded`);
  }
  const turned = (header.orientation ?? 1) >= 5;
  const width = (turned ? header.height : header.width) ?? 0;
  const height = (turned ? header.width : header.height) ?? 0;
  if (!(width > 0 && height > 0)) throw unreadable(`the ${format.toUpperCase()} image has no size`);
  if (width * height > limits.maxPixels) throw unreadable(`the image has more than ${limits.maxPixels} pixels`);
  if (Math.max(width / height, height / width) > limits.maxAspectRatio) {
    throw unreadable(`the image is ${width}×${height}: more than ${limits.maxAspectRatio} times longer than wide`);
  }
  const decoder = createDecoder(bytes, format, width, height, limits, observe);
  if (format === 'png' || width * height <= SINGLE_DECODE_MAX_PIXELS) {
    // PNG cannot decode at a smaller scale: it is decoded once, and every view is that raster.
    let whole: Promise<ImageView> | undefined;
    return { format, width, height, view: () => (whole ??= decoder.decode(Math.min(1, Math.sqrt(limits.maxDecodedPixels / (width * height))))) };
  }
  return {
    format,
    width,
    height,
    view(scale, region) {
      const area = clipToImage(region ?? wholeImage({ width, height }), width, height);
      if (!area) return Promise.reject(new Error('the region lies outside the image'));
      const shrink = JPEG_SHRINKS.find((s) => 1 / s >= Math.min(1, scale)) ?? 1;
      const cap = Math.sqrt(limits.maxDecodedPixels / (area.width * area.height));
      return decoder.decode(Math.min(1 / shrink, cap), area);
    },
  };
}

function createDecoder(bytes: Uint8Array, format: ImageFormat, width: number, height: number, limits: DecodeLimits, observe: StageObserver) {
  const seconds = Math.max(1, Math.ceil(limits.timeoutMs / 1000));
  return {
    /** The image at `scale` (the whole of it, or `area` cut out after scaling), as an ImageView. */
    decode: (scale: number, area?: Rect): Promise<ImageView> => timed(observe, 'decode', () => decodeView(scale, area)),
  };

  async function decodeView(scale: number, area?: Rect): Promise<ImageView> {
      // libjpeg's scaled decode rounds sizes up: asking for those sizes leaves nothing to resample after it. A scale
      // under the pixel cap rounds down, to stay under it.
      const size = (side: number): number => Math.max(1, JPEG_SHRINKS.some((s) => s * scale === 1) ? Math.ceil(side * scale) : Math.floor(side * scale));
      const scaledWidth = size(width);
      const scaledHeight = size(height);
      const pipeline = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1 }).timeout({ seconds }).rotate();
      if (scaledWidth !== width || scaledHeight !== height) pipeline.resize(scaledWidth, scaledHeight, { fit: 'fill' });
      const k = scaledWidth / width;
      const cut = area && clipToImage({ x: area.x * k, y: area.y * k, width: area.width * k, height: area.height * k }, scaledWidth, scaledHeight);
      if (cut && (cut.width < scaledWidth || cut.height < scaledHeight)) {
        pipeline.extract({ left: cut.x, top: cut.y, width: cut.width, height: cut.height });
      }
      let raster: Raster;
      try {
        const { data, info } = await pipeline.flatten({ background: '#ffffff' }).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
        if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
        raster = { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
      } catch (error) {
        if (/timeout/i.test((error as Error).message)) throw unreadable(`the image could not be decoded within ${seconds} s`);
        throw unreadable(`the ${format.toUpperCase()} image cannot be decoded`);
      }
      const origin = cut ?? { x: 0, y: 0, width: scaledWidth, height: scaledHeight };
      return { raster, scale: k, region: { x: origin.x / k, y: origin.y / k, width: raster.width / k, height: raster.height / k } };
  }
}

/** The raster as a JPEG of at most `maxPixels` pixels (scaled down, aspect kept, when larger). */
export async function encodeJpeg(raster: Raster, maxPixels: number, quality = 90): Promise<{ jpeg: Buffer; width: number; height: number }> {
  const pipeline = sharp(raster.data, { raw: { width: raster.width, height: raster.height, channels: 3 } });
  const shrink = Math.sqrt(maxPixels / (raster.width * raster.height));
  if (shrink < 1) pipeline.resize(Math.max(1, Math.floor(raster.width * shrink)), Math.max(1, Math.floor(raster.height * shrink)));
  const { data, info } = await pipeline.jpeg({ quality }).toBuffer({ resolveWithObject: true });
  return { jpeg: data, width: info.width, height: info.height };
}
