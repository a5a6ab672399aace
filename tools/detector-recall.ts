/**
 * Measures down to which face height one pass of the configured detector finds every face: mosaics of the colour
 * LFW photos of the shared data (faces/lfw_color: 250×250, one centred face about half the photo's height) are
 * shrunk until their faces are a given height at the detector's input, and the pass's candidates are matched
 * against the tiles. Mosaics are crowds, the detector's hardest case. The result is the detector's
 * `reliableFaceHeight` (manifest), in its own box heights.
 *
 *   npm run detector-recall -- [<data dir>]        (MODELS_DIR selects the model set, as for the service)
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { loadFaceModels } from '../src/compose.js';
import { loadConfig } from '../src/config.js';
import { nonMaxSuppression, placeRegion, toImageDetection } from '../src/face/detector.js';
import { boxHeight } from '../src/face/geometry.js';
import { sampleToTensor } from '../src/face/sampling.js';
import { faceModels } from '../src/models/families.js';
import { median } from '../src/statistics.js';

const dataDir = process.argv[2] ?? path.resolve('..', 'shared', 'data');
const PHOTOS = 'faces/lfw_color';
/** Nominal face heights at the input, as a share of the input height: 1/96 to 1/5. */
const SHARES = [1 / 96, 1 / 80, 1 / 64, 1 / 56, 1 / 48, 1 / 40, 1 / 32, 1 / 27, 1 / 24, 1 / 20, 1 / 17, 1 / 15, 1 / 13, 1 / 12, 1 / 10, 1 / 8, 1 / 6, 1 / 5];
const FACES_PER_SIZE = 150;

const config = loadConfig();
const registry = await loadFaceModels(config);
const detector = faceModels(registry.roles).detector;
const session = registry.session(detector.id);
const [, , inputHeight, inputWidth] = detector.input.shape as [number, number, number, number];

const photos: string[] = [];
const entries = await readdir(path.join(dataDir, PHOTOS), { recursive: true, withFileTypes: true });
photos.push(...entries.filter((e) => e.isFile() && /\.jpe?g$/i.test(e.name)).map((e) => path.join(e.parentPath, e.name)).sort());
const squares = await Promise.all(photos.map((file) => readFile(file)));

async function pass(raster: { width: number; height: number; data: Uint8Array }) {
  const region = { x: 0, y: 0, width: raster.width, height: raster.height };
  const placement = placeRegion(region, inputWidth, inputHeight, detector.fit);
  const input = sampleToTensor(raster, placement.mapping, detector.input, { fill: 127 });
  const outputs = await session.run({ [detector.input.name]: { data: input, dims: detector.input.shape } });
  const data = Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, tensor.data]));
  return nonMaxSuppression(
    detector.decode(data, detector.params.scoreThreshold).map((c) => toImageDetection(c, placement)),
    detector.params.nmsIouThreshold,
  );
}

interface Row {
  nominal: number;
  boxHeight: number;
  recall: number;
  confident: number;
  faces: number;
}
const rows: Row[] = [];
for (const share of SHARES) {
  // The photos hold their face at about half their height: a tile of 2·h input pixels shows a face of about h.
  const tile = Math.max(4, Math.round(2 * share * inputHeight));
  const columns = Math.floor(inputWidth / tile);
  const lines = Math.floor(inputHeight / tile);
  let found = 0;
  let confident = 0;
  let faces = 0;
  const heights: number[] = [];
  for (let start = 0; faces < FACES_PER_SIZE; start += columns * lines) {
    const tiles = await Promise.all(
      Array.from({ length: columns * lines }, async (_, k) => ({
        input: await sharp(squares[(start + k) % squares.length]!).resize(tile, tile).toBuffer(),
        left: (k % columns) * tile,
        top: Math.floor(k / columns) * tile,
      })),
    );
    const { data } = await sharp({ create: { width: inputWidth, height: inputHeight, channels: 3, background: '#808080' } })
      .composite(tiles)
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const candidates = await pass({ width: inputWidth, height: inputHeight, data: new Uint8Array(data) });
    const used = new Set<number>();
    for (const t of tiles) {
      faces++;
      const cx = t.left + tile / 2;
      const cy = t.top + tile / 2;
      const match = candidates.findIndex(
        (d, i) => !used.has(i) && Math.abs((d.box.x1 + d.box.x2) / 2 - cx) < tile / 4 && Math.abs((d.box.y1 + d.box.y2) / 2 - cy) < tile / 4,
      );
      if (match < 0) continue;
      used.add(match);
      found++;
      heights.push(boxHeight(candidates[match]!.box));
      if (candidates[match]!.score >= detector.params.confidentScore) confident++;
    }
  }
  rows.push({ nominal: share * inputHeight, boxHeight: heights.length > 0 ? median(heights) : 0, recall: found / faces, confident: confident / faces, faces });
}
await registry.release();

// The reliable height: the smallest box height from which every larger size was found whole.
const reliableFrom = rows.findLastIndex((r) => r.recall < 1) + 1;
const reliable = rows[reliableFrom];
process.stdout.write(`detector ${detector.id} (${detector.fit}, input ${inputWidth}×${inputHeight}), ${squares.length} photos\n`);
process.stdout.write('| face at input (nominal px) | median box height (px) | recall | confident |\n| --- | --- | --- | --- |\n');
for (const r of rows) {
  process.stdout.write(`| ${r.nominal.toFixed(1)} | ${r.boxHeight.toFixed(1)} | ${(100 * r.recall).toFixed(1)} % | ${(100 * r.confident).toFixed(1)} % |\n`);
}
process.stdout.write(reliable ? `reliableFaceHeight: ${Math.ceil(reliable.boxHeight)} (box height from which every face was found)\n` : 'no size was found whole\n');
