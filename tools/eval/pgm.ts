import sharp from 'sharp';
import { createRaster, type Raster } from '../../src/media/raster.js';

/**
 * Reads a binary (P5) PGM, the format of the AT&T/ORL faces, which the installed sharp cannot decode, into three
 * equal channels. The header's fields may be separated by any whitespace and interleaved with `#` comments.
 */
export function decodePgm(bytes: Uint8Array): Raster {
  let offset = 0;
  const isSpace = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;
  const nextToken = (): string => {
    for (;;) {
      while (offset < bytes.length && isSpace(bytes[offset]!)) offset++;
      if (bytes[offset] !== 0x23) break;
      while (offset < bytes.length && bytes[offset] !== 0x0a && bytes[offset] !== 0x0d) offset++;
    }
    const start = offset;
    while (offset < bytes.length && !isSpace(bytes[offset]!) && bytes[offset] !== 0x23) offset++;
    return Buffer.from(bytes.subarray(start, offset)).toString('latin1');
  };
  const positive = (field: string): number => {
    const token = nextToken();
    if (!/^\d+$/.test(token) || Number(token) === 0) throw new RangeError(`PGM ${field} "${token}" is not a positive whole number`);
    return Number(token);
  };

  if (nextToken() !== 'P5') throw new RangeError('not a binary PGM (P5) image');
  const width = positive('width');
  const height = positive('height');
  const maxValue = positive('maximum value');
  if (maxValue > 255) throw new RangeError(`PGM with 16-bit samples (maximum ${maxValue}) is not supported`);
  // Exactly one whitespace byte separates the header from the samples.
  offset++;
  const pixels = width * height;
  if (bytes.length - offset < pixels) throw new RangeError(`PGM of ${width}x${height} is truncated: ${bytes.length - offset} sample bytes`);

  const raster = createRaster(width, height);
  for (let i = 0; i < pixels; i++) {
    const grey = Math.round((bytes[offset + i]! * 255) / maxValue);
    raster.data[3 * i] = grey;
    raster.data[3 * i + 1] = grey;
    raster.data[3 * i + 2] = grey;
  }
  return raster;
}

/** The PGM as a lossless PNG: what a client holding these faces would send, since the API takes JPEG and PNG. */
export function pgmAsPng(bytes: Uint8Array): Promise<Buffer> {
  const raster = decodePgm(bytes);
  return sharp(raster.data, { raw: { width: raster.width, height: raster.height, channels: 3 } }).png().toBuffer();
}
