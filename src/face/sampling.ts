import type { ModelInputSpec } from '../models/manifest.js';
import type { Raster } from '../media/raster.js';
import type { Affine } from './geometry.js';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** What samples outside the source read: the nearest edge pixel, or a constant grey level (0 = black). */
export type Border = 'replicate' | { fill: number };

/**
 * The output→source mapping of resizing `rect` to outWidth×outHeight with pixel centres aligned, as OpenCV's
 * INTER_LINEAR resize does (source = (out + 0.5)·scale − 0.5), which is how the bundled models were fed upstream.
 */
export function resizeMapping(rect: Rect, outWidth: number, outHeight: number): Affine {
  const sx = rect.width / outWidth;
  const sy = rect.height / outHeight;
  return [sx, 0, rect.x + 0.5 * sx - 0.5, 0, sy, rect.y + 0.5 * sy - 0.5];
}

// ITU-R BT.601 luma, the weights OpenCV's RGB→grey conversion uses.
const LUMA_R = 0.299;
const LUMA_G = 0.587;
const LUMA_B = 0.114;

/**
 * Samples `raster` bilinearly through `outputToSource` straight into a model's NCHW float input, applying its
 * channel order and (value − mean) / std. One pass, no intermediate raster.
 */
export function sampleToTensor(raster: Raster, outputToSource: Affine, spec: ModelInputSpec, border: Border): Float32Array {
  const [, channels, outHeight, outWidth] = spec.shape as [number, number, number, number];
  const plane = outWidth * outHeight;
  const out = new Float32Array(channels * plane);
  const { width, height, data } = raster;
  const [a, b, c, d, e, f] = outputToSource;
  const grey = spec.channelOrder === 'GRAY';
  // Offsets of the source byte that feeds tensor channel 0, 1, 2.
  const order = spec.channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const o0 = order[0]!;
  const o1 = order[1]!;
  const o2 = order[2]!;
  const mean0 = spec.mean[0]!;
  const std0 = spec.std[0]!;
  const mean1 = spec.mean[1] ?? mean0;
  const std1 = spec.std[1] ?? std0;
  const mean2 = spec.mean[2] ?? mean0;
  const std2 = spec.std[2] ?? std0;
  const maxX = width - 1;
  const maxY = height - 1;
  const constant = border !== 'replicate';
  const fill = constant ? border.fill : 0;
  const px = new Float32Array(3);

  let index = 0;
  for (let v = 0; v < outHeight; v++) {
    for (let u = 0; u < outWidth; u++, index++) {
      const x = a * u + b * v + c;
      const y = d * u + e * v + f;
      const xf = Math.floor(x);
      const yf = Math.floor(y);
      const wx = x - xf;
      const wy = y - yf;
      px[0] = 0;
      px[1] = 0;
      px[2] = 0;
      if (constant && (xf < -1 || yf < -1 || xf > maxX || yf > maxY)) {
        px[0] = fill;
        px[1] = fill;
        px[2] = fill;
      } else {
        for (let tap = 0; tap < 4; tap++) {
          let sx = xf + (tap & 1);
          let sy = yf + (tap >> 1);
          const weight = (tap & 1 ? wx : 1 - wx) * (tap >> 1 ? wy : 1 - wy);
          if (weight === 0) continue;
          if (sx < 0 || sy < 0 || sx > maxX || sy > maxY) {
            if (constant) {
              px[0] += weight * fill;
              px[1] += weight * fill;
              px[2] += weight * fill;
              continue;
            }
            sx = sx < 0 ? 0 : sx > maxX ? maxX : sx;
            sy = sy < 0 ? 0 : sy > maxY ? maxY : sy;
          }
          const offset = (sy * width + sx) * 3;
          px[0] += weight * data[offset]!;
          px[1] += weight * data[offset + 1]!;
          px[2] += weight * data[offset + 2]!;
        }
      }
      if (grey) {
        out[index] = (LUMA_R * px[0]! + LUMA_G * px[1]! + LUMA_B * px[2]! - mean0) / std0;
      } else {
        out[index] = (px[o0]! - mean0) / std0;
        out[plane + index] = (px[o1]! - mean1) / std1;
        out[2 * plane + index] = (px[o2]! - mean2) / std2;
      }
    }
  }
  return out;
}
