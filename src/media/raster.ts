/** A decoded image: 8-bit RGB, interleaved, rows top to bottom. */
export interface Raster {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A rectangle in pixel coordinates; it may reach outside the image. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function createRaster(width: number, height: number, data?: Uint8Array): Raster {
  const size = width * height * 3;
  if (data && data.length !== size) throw new RangeError(`raster of ${width}x${height} needs ${size} bytes, got ${data.length}`);
  return { width, height, data: data ?? new Uint8Array(size) };
}

/**
 * Pixels of part of an image: `region` of the full-resolution image (its coordinates are those every box and point
 * is given in) rendered at `scale` raster pixels per image pixel, pixel centres aligned — raster pixel u shows image
 * coordinate region.x + (u + 0.5) / scale − 0.5, as a resize does.
 */
export interface ImageView {
  raster: Raster;
  region: Rect;
  scale: number;
}

/** A picture the face pipeline can read at the resolution each step needs. */
export interface FaceImage {
  /** Full-resolution size, upright: the coordinate space of every box and point. */
  readonly width: number;
  readonly height: number;
  /**
   * The image, or `region` of it (clipped to the image), at `scale` raster pixels per image pixel or finer when
   * finer costs nothing more; never finer than the image itself.
   */
  view(scale: number, region?: Rect): Promise<ImageView>;
}

export const wholeImage = (image: { width: number; height: number }): Rect => ({ x: 0, y: 0, width: image.width, height: image.height });

/** `rect` cut to the image's bounds, in whole pixels; undefined when nothing of it lies inside. */
export function clipToImage(rect: Rect, width: number, height: number): Rect | undefined {
  const x1 = Math.max(0, Math.floor(rect.x));
  const y1 = Math.max(0, Math.floor(rect.y));
  const x2 = Math.min(width, Math.ceil(rect.x + rect.width));
  const y2 = Math.min(height, Math.ceil(rect.y + rect.height));
  return x2 > x1 && y2 > y1 ? { x: x1, y: y1, width: x2 - x1, height: y2 - y1 } : undefined;
}

/** A raster already in memory (a video frame) as a FaceImage: every view is the raster itself. */
export function rasterImage(raster: Raster): FaceImage {
  const view: ImageView = { raster, region: wholeImage(raster), scale: 1 };
  return { width: raster.width, height: raster.height, view: () => Promise.resolve(view) };
}
