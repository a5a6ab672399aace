/** A decoded image: 8-bit RGB, interleaved, rows top to bottom. */
export interface Raster {
  width: number;
  height: number;
  data: Uint8Array;
}

export function createRaster(width: number, height: number, data?: Uint8Array): Raster {
  const size = width * height * 3;
  if (data && data.length !== size) throw new RangeError(`raster of ${width}x${height} needs ${size} bytes, got ${data.length}`);
  return { width, height, data: data ?? new Uint8Array(size) };
}
