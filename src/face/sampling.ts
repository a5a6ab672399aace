import type { ImageView, Raster, Rect } from '../media/raster.js';
import type { Affine } from './geometry.js';

/**
 * How a model takes its input, as its manifest entry declares it: an NCHW float tensor of `shape` named `name`,
 * channels in `channelOrder`, each value (pixel − mean) / std (one value, or one per channel).
 */
export interface ModelInputSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly layout: 'NCHW';
  readonly channelOrder: 'RGB' | 'BGR' | 'GRAY';
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/**
 * What samples outside the source read: the nearest edge pixel; the image mirrored about its edge pixels (OpenCV's
 * BORDER_REFLECT_101: …, 2, 1 | 0, 1, 2, …); or a constant grey level (0 = black).
 */
export type Border = 'replicate' | 'reflect' | { fill: number };

/** The source index BORDER_REFLECT_101 reads for index `i` of a line of `n` pixels, however far outside. */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const folded = ((i % period) + period) % period;
  return folded < n ? folded : period - folded;
}

const clampIndex = (i: number, n: number): number => (i < 0 ? 0 : i >= n ? n - 1 : i);

/**
 * The output→source mapping of resizing `rect` to outWidth×outHeight with pixel centres aligned, as OpenCV's
 * INTER_LINEAR resize does (source = (out + 0.5)·scale − 0.5), which is how the bundled models were fed upstream.
 */
export function resizeMapping(rect: Rect, outWidth: number, outHeight: number): Affine {
  const sx = rect.width / outWidth;
  const sy = rect.height / outHeight;
  return [sx, 0, rect.x + 0.5 * sx - 0.5, 0, sy, rect.y + 0.5 * sy - 0.5];
}

/** Composes an output→image mapping with the image→raster mapping of a view. */
export function viewMapping(view: ImageView, outputToImage: Affine): Affine {
  const [a, b, c, d, e, f] = outputToImage;
  const k = view.scale;
  return [k * a, k * b, k * (c - view.region.x + 0.5) - 0.5, k * d, k * e, k * (f - view.region.y + 0.5) - 0.5];
}

/**
 * sampleToTensor through a view: `outputToImage` maps model input pixels to full-resolution image coordinates. A
 * border applies at the view's edges, which are the image's wherever a crop reaches outside it: views are regions
 * of the image clipped to it.
 */
export function sampleView(view: ImageView, outputToImage: Affine, spec: ModelInputSpec, border: Border): Float32Array {
  return sampleToTensor(view.raster, viewMapping(view, outputToImage), spec, border);
}

/** The input of a square grey patch sampled for the service's own measures (sharpness, face change), values 0..255. */
export const greyPatchSpec = (name: string, size: number): ModelInputSpec => ({
  name,
  shape: [1, 1, size, size],
  layout: 'NCHW',
  channelOrder: 'GRAY',
  mean: [0],
  std: [1],
});

// ITU-R BT.601 luma, the weights OpenCV's RGB→grey conversion uses.
const LUMA_R = 0.299;
const LUMA_G = 0.587;
const LUMA_B = 0.114;

/**
 * Samples `raster` bilinearly through `outputToSource` straight into a model's NCHW float input, applying its
 * channel order and (value − mean) / std. One pass, no intermediate raster. Samples whose four neighbours lie inside
 * the image (nearly all) take a branch-free path; the edges and the outside take the careful one.
 */
export function sampleToTensor(raster: Raster, outputToSource: Affine, spec: ModelInputSpec, border: Border): Float32Array {
  const [, channels, outHeight, outWidth] = spec.shape as [number, number, number, number];
  const plane = outWidth * outHeight;
  const out = new Float32Array(channels * plane);
  const { width, height, data } = raster;
  const [a, b, c, d, e, f] = outputToSource;
  const grey = spec.channelOrder === 'GRAY';
  const bgr = spec.channelOrder === 'BGR';
  // value · scale + shift = (value − mean) / std, per tensor channel.
  const scale0 = 1 / spec.std[0]!;
  const scale1 = 1 / (spec.std[1] ?? spec.std[0]!);
  const scale2 = 1 / (spec.std[2] ?? spec.std[0]!);
  const shift0 = -spec.mean[0]! * scale0;
  const shift1 = -(spec.mean[1] ?? spec.mean[0]!) * scale1;
  const shift2 = -(spec.mean[2] ?? spec.mean[0]!) * scale2;
  const maxX = width - 1;
  const maxY = height - 1;
  const row = width * 3;
  const edge = new Float64Array(3);
  const write = (index: number, red: number, green: number, blue: number): void => {
    if (grey) {
      out[index] = (LUMA_R * red + LUMA_G * green + LUMA_B * blue) * scale0 + shift0;
    } else if (bgr) {
      out[index] = blue * scale0 + shift0;
      out[plane + index] = green * scale1 + shift1;
      out[2 * plane + index] = red * scale2 + shift2;
    } else {
      out[index] = red * scale0 + shift0;
      out[plane + index] = green * scale1 + shift1;
      out[2 * plane + index] = blue * scale2 + shift2;
    }
  };

  if (b === 0 && d === 0 && typeof border === 'string') {
    // A resize (the detector's and the crops' case): columns and rows are sampled independently, so their source
    // offsets and weights are computed once, and clamping or mirroring them is the border.
    const index = border === 'replicate' ? clampIndex : reflectIndex;
    const left = new Int32Array(outWidth);
    const right = new Int32Array(outWidth);
    const weightX = new Float64Array(outWidth);
    for (let u = 0; u < outWidth; u++) {
      const x = a * u + c;
      const xf = Math.floor(x);
      weightX[u] = x - xf;
      left[u] = index(xf, width) * 3;
      right[u] = index(xf + 1, width) * 3;
    }
    let at = 0;
    for (let v = 0; v < outHeight; v++) {
      const y = e * v + f;
      const yf = Math.floor(y);
      const wy = y - yf;
      const top = index(yf, height) * row;
      const bottom = index(yf + 1, height) * row;
      for (let u = 0; u < outWidth; u++, at++) {
        const wx = weightX[u]!;
        const tl = top + left[u]!;
        const tr = top + right[u]!;
        const bl = bottom + left[u]!;
        const br = bottom + right[u]!;
        const w00 = (1 - wx) * (1 - wy);
        const w01 = wx * (1 - wy);
        const w10 = (1 - wx) * wy;
        const w11 = wx * wy;
        write(
          at,
          w00 * data[tl]! + w01 * data[tr]! + w10 * data[bl]! + w11 * data[br]!,
          w00 * data[tl + 1]! + w01 * data[tr + 1]! + w10 * data[bl + 1]! + w11 * data[br + 1]!,
          w00 * data[tl + 2]! + w01 * data[tr + 2]! + w10 * data[bl + 2]! + w11 * data[br + 2]!,
        );
      }
    }
    return out;
  }

  let index = 0;
  for (let v = 0; v < outHeight; v++) {
    let x = b * v + c;
    let y = e * v + f;
    for (let u = 0; u < outWidth; u++, index++, x += a, y += d) {
      const xf = Math.floor(x);
      const yf = Math.floor(y);
      let red: number;
      let green: number;
      let blue: number;
      if (xf >= 0 && yf >= 0 && xf < maxX && yf < maxY) {
        const wx = x - xf;
        const wy = y - yf;
        const w00 = (1 - wx) * (1 - wy);
        const w01 = wx * (1 - wy);
        const w10 = (1 - wx) * wy;
        const w11 = wx * wy;
        const o00 = yf * row + xf * 3;
        const o10 = o00 + row;
        red = w00 * data[o00]! + w01 * data[o00 + 3]! + w10 * data[o10]! + w11 * data[o10 + 3]!;
        green = w00 * data[o00 + 1]! + w01 * data[o00 + 4]! + w10 * data[o10 + 1]! + w11 * data[o10 + 4]!;
        blue = w00 * data[o00 + 2]! + w01 * data[o00 + 5]! + w10 * data[o10 + 2]! + w11 * data[o10 + 5]!;
      } else {
        sampleAtEdge(data, width, height, x, y, border, edge);
        red = edge[0]!;
        green = edge[1]!;
        blue = edge[2]!;
      }
      write(index, red, green, blue);
    }
  }
  return out;
}

/** A bilinear sample with some neighbours outside the image: those read the edge pixel, its mirror, or the fill value. */
function sampleAtEdge(data: Uint8Array, width: number, height: number, x: number, y: number, border: Border, into: Float64Array): void {
  const xf = Math.floor(x);
  const yf = Math.floor(y);
  const wx = x - xf;
  const wy = y - yf;
  into[0] = 0;
  into[1] = 0;
  into[2] = 0;
  for (let tap = 0; tap < 4; tap++) {
    let sx = xf + (tap & 1);
    let sy = yf + (tap >> 1);
    const weight = (tap & 1 ? wx : 1 - wx) * (tap >> 1 ? wy : 1 - wy);
    if (weight === 0) continue;
    if (sx < 0 || sy < 0 || sx >= width || sy >= height) {
      if (typeof border === 'object') {
        into[0]! += weight * border.fill;
        into[1]! += weight * border.fill;
        into[2]! += weight * border.fill;
        continue;
      }
      const index = border === 'replicate' ? clampIndex : reflectIndex;
      sx = index(sx, width);
      sy = index(sy, height);
    }
    const offset = (sy * width + sx) * 3;
    into[0]! += weight * data[offset]!;
    into[1]! += weight * data[offset + 1]!;
    into[2]! += weight * data[offset + 2]!;
  }
}
