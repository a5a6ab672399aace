import { boundaryOf, parseMultipart } from '../../src/http/multipart-parser.js';
import { resizeMapping, sampleToTensor } from '../../src/face/sampling.js';
import type { Raster } from '../../src/media/raster.js';
import type { ModelRegistry } from '../../src/models/registry.js';
import { multipart } from '../../test/helpers/multipart.js';
import { type OpCost, timeAlone } from './timing.js';

export interface PureCost extends OpCost {
  what: string;
}

/** A face-sized square in the middle of the image, where the crops of the landmark, embedder and anti-spoof inputs come from. */
const faceRect = (raster: Raster) => {
  const side = Math.round(raster.height * 0.45);
  return { x: (raster.width - side) / 2, y: (raster.height - side) / 2, width: side, height: side };
};

/** sampleToTensor making each model's input from `raster`: the whole image for detectors, a face crop for the rest. */
export async function samplingCosts(registry: ModelRegistry, raster: Raster, iterations: number): Promise<PureCost[]> {
  const costs: PureCost[] = [];
  for (const { entry } of registry.models.values()) {
    const [, , height, width] = entry.input.shape as [number, number, number, number];
    const whole = entry.family.startsWith('detector');
    const region = whole ? { x: 0, y: 0, width: raster.width, height: raster.height } : faceRect(raster);
    const mapping = resizeMapping(region, width, height);
    costs.push({
      what: `sampleToTensor → ${entry.id} input ${width}×${height} (${whole ? 'whole image' : 'face crop'})`,
      ...(await timeAlone(() => sampleToTensor(raster, mapping, entry.input, 'replicate'), iterations)),
    });
  }
  return costs;
}

/** The pieces of a compare_n request with `n` templates that are not matching proper: parsing and the JSON answer. */
export async function oneToManyCosts(template: Buffer, n: number, dimension: number, iterations: number): Promise<PureCost[]> {
  const { body, contentType } = multipart([
    { name: 'template_1', contentType: 'application/octet-stream', body: template },
    ...Array.from({ length: n }, (_, i) => ({ name: 'templates_n', filename: `${i}.template`, contentType: 'application/octet-stream', body: template })),
  ]);
  const boundary = boundaryOf(contentType)!;
  const partLimits = { maxParts: n + 1, maxPartBytes: body.length };
  const matrix = new Float32Array(n * dimension).fill(1 / Math.sqrt(dimension));
  const probe = matrix.subarray(0, dimension);
  const dots = (): number => {
    let total = 0;
    for (let row = 0; row < n; row++) {
      let sum = 0;
      for (let i = 0; i < dimension; i++) sum += probe[i]! * matrix[row * dimension + i]!;
      total += sum;
    }
    return total;
  };
  const results = { results: Array.from({ length: n }, (_, i) => ({ filename: `${i}.template`, score: 0.1234, decision: 'declined' })) };
  return [
    { what: `multipart: parse a ${(body.length / 1e6).toFixed(1)} MB body of ${n + 1} parts`, ...(await timeAlone(() => parseMultipart(body, boundary, partLimits), iterations)) },
    { what: `${n} dot products of ${dimension} floats`, ...(await timeAlone(dots, iterations)) },
    { what: `JSON.stringify of ${n} results`, ...(await timeAlone(() => JSON.stringify(results), iterations)) },
  ];
}
