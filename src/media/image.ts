import sharp from 'sharp';
import { ServiceError } from '../errors.js';
import type { Raster } from './raster.js';

// Decoded pixels must not outlive a request: no libvips operation cache.
sharp.cache(false);

export type ImageFormat = 'jpeg' | 'png';

export const imageMimeTypes: Record<ImageFormat, string> = { jpeg: 'image/jpeg', png: 'image/png' };

/** The format the bytes are in, by their signature; undefined when neither JPEG nor PNG. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  return undefined;
}

export interface DecodedImage extends Raster {
  format: ImageFormat;
  /** The image's own size, upright; larger than the raster's when it was scaled down on decoding. */
  sourceWidth: number;
  sourceHeight: number;
}

export interface DecodeLimits {
  /** Larger images are refused. */
  maxPixels: number;
  /** Larger images are scaled down on decoding to about this many pixels. */
  maxDecodedPixels: number;
}

/** The longest side a w × h image keeps when scaled to at most `maxPixels`, or undefined when it fits as it is. */
export function scaledLongSide(width: number, height: number, maxPixels: number): number | undefined {
  if (width * height <= maxPixels) return undefined;
  return Math.floor(Math.max(width, height) * Math.sqrt(maxPixels / (width * height)));
}

/**
 * Decodes a JPEG or PNG into 8-bit RGB: EXIF orientation applied, grey expanded to three channels, alpha composed
 * onto white, CMYK and 16-bit converted. Anything else, and any image over the pixel limit (checked from the header,
 * before decoding), is an unreadable sample. An image over `maxDecodedPixels` is scaled down as it is decoded
 * (libvips streams the decode through the resize, and a JPEG scaled to half or less shrinks in its DCT): a
 * 35-megapixel photo would otherwise hold 100 MB for the whole request, for faces that the models see at 112 pixels.
 */
export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedImage> {
  const format = sniffImageFormat(bytes);
  if (!format) throw new ServiceError('sample-unreadable', 'the bytes are neither a JPEG nor a PNG image');
  try {
    const image = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1 });
    const header = await image.metadata();
    const upright = (header.orientation ?? 1) >= 5;
    const sourceWidth = (upright ? header.height : header.width) ?? 0;
    const sourceHeight = (upright ? header.width : header.height) ?? 0;
    const longSide = scaledLongSide(sourceWidth, sourceHeight, limits.maxDecodedPixels);
    const pipeline = image.rotate();
    if (longSide !== undefined) pipeline.resize({ width: longSide, height: longSide, fit: 'inside' });
    const { data, info } = await pipeline
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { format, width: info.width, height: info.height, sourceWidth, sourceHeight, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (error) {
    const message = (error as Error).message;
    if (/pixel limit/i.test(message)) {
      throw new ServiceError('sample-unreadable', `the image has more than ${limits.maxPixels} pixels`);
    }
    throw new ServiceError('sample-unreadable', `the ${format.toUpperCase()} image cannot be decoded`);
  }
}

export async function encodeJpeg(raster: Raster, quality = 90): Promise<Buffer> {
  return sharp(raster.data, { raw: { width: raster.width, height: raster.height, channels: 3 } }).jpeg({ quality }).toBuffer();
}
