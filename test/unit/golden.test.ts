/**
 * Pre- and post-processing against golden numbers computed independently by tools/golden-reference.py (numpy:
 * Umeyama through an SVD, OpenCV's and insightface's decoders vectorised, Silent-Face's crop box, per-pixel bilinear
 * sampling with numpy.pad borders). Regenerate with `python3 tools/golden-reference.py > test/fixtures/golden.json`.
 *
 * Tolerances: transforms and crop rectangles 1e-9 (both sides compute in float64); detector boxes and points 1e-5
 * input pixels and scores 1e-6 (the fixture rounds them to 6 decimals); sampled pixels 1e-4 of the normalised input
 * for the aligned face (0.013 grey levels) and 1e-3 grey levels for the anti-spoof crops (the fixture rounds them to
 * 4 decimals; the service samples into float32).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../src/config.js';
import { antiSpoofClassifier, type AntiSpoofParams } from '../../src/face/antispoof.js';
import type { InputDetection } from '../../src/face/detector.js';
import { scrfdFamily } from '../../src/face/detector-scrfd.js';
import { ultrafaceFamily } from '../../src/face/detector-ultraface.js';
import { yunetFamily } from '../../src/face/detector-yunet.js';
import { arcfaceEmbedder } from '../../src/face/embedder.js';
import type { Point } from '../../src/face/geometry.js';
import { squareFaceBox } from '../../src/face/landmarks.js';
import type { ModelInputSpec } from '../../src/face/sampling.js';
import { createRaster, type ImageView } from '../../src/media/raster.js';

interface Found {
  score: number;
  box: [number, number, number, number];
  keypoints?: [number, number][];
}
interface DecodingCase {
  input: [number, number];
  threshold: number;
  outputs: Record<string, number[]>;
  found: Found[];
}
interface Golden {
  grid: number;
  alignment: {
    raster: [number, number];
    template: Point[];
    input: { channelOrder: 'BGR'; mean: number; std: number };
    cases: { name: string; points: Point[]; imageToAligned: number[]; step: number; count: number; samples: number[] }[];
  };
  yunet: DecodingCase & { strides: number[] };
  scrfd: DecodingCase & { strides: number[]; anchorsPerLocation: number; outputNames: string[] };
  ultraface: DecodingCase;
  antiSpoofCrops: {
    raster: [number, number];
    detection: [number, number, number, number];
    size: number;
    cases: { name: string; params: AntiSpoofParams; crop: [number, number, number, number]; samples: number[] }[];
  };
}

const golden = JSON.parse(readFileSync(path.join(projectRoot, 'test', 'fixtures', 'golden.json'), 'utf8')) as Golden;

/** The raster tools/golden-reference.py samples: integer formulas of x and y, RGB. */
function pattern(width: number, height: number): ImageView {
  const raster = createRaster(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raster.data.set([(3 * x + 5 * y) % 256, (x * x + 2 * y) % 256, (11 * x + 7 * y * y) % 256], (y * width + x) * 3);
  }
  return { raster, region: { x: 0, y: 0, width, height }, scale: 1 };
}

const spec = (size: [number, number], channelOrder: ModelInputSpec['channelOrder'], mean: number, std: number): ModelInputSpec => ({
  name: 'input',
  shape: [1, 3, ...size],
  layout: 'NCHW',
  channelOrder,
  mean: [mean],
  std: [std],
});

function assertClose(actual: readonly number[], expected: readonly number[], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  const worst = actual.reduce((max, value, i) => Math.max(max, Math.abs(value - expected[i]!)), 0);
  assert.ok(worst <= tolerance, `${what}: off by ${worst}, tolerance ${tolerance}`);
}

/** Decoded candidates against the reference's, best score first (the order of candidates is not part of the contract). */
function assertSameCandidates(actual: InputDetection[], expected: Found[], what: string): void {
  const byScore = <T extends { score: number }>(list: T[]): T[] => [...list].sort((a, b) => b.score - a.score);
  const [ours, theirs] = [byScore(actual), byScore(expected)];
  assert.equal(ours.length, theirs.length, `${what}: ${ours.length} candidates, expected ${theirs.length}`);
  ours.forEach((candidate, i) => {
    const reference = theirs[i]!;
    assertClose([candidate.score], [reference.score], 1e-6, `${what} #${i} score`);
    assertClose([candidate.box.x1, candidate.box.y1, candidate.box.x2, candidate.box.y2], reference.box, 1e-5, `${what} #${i} box`);
    assertClose((candidate.keypoints ?? []).flat(), (reference.keypoints ?? []).flat(), 1e-5, `${what} #${i} points`);
  });
}

const outputsOf = (testCase: DecodingCase): Record<string, Float32Array> =>
  Object.fromEntries(Object.entries(testCase.outputs).map(([name, units]) => [name, Float32Array.from(units, (u) => u / golden.grid)]));

describe('golden numbers: alignment warp (Umeyama by SVD, per-pixel bilinear warp)', () => {
  const { raster, template, input, cases } = golden.alignment;
  const view = pattern(...raster);
  for (const testCase of cases) {
    it(`${testCase.name}: the transform and the aligned face`, () => {
      const embedder = arcfaceEmbedder({ id: 'e', input: spec([112, 112], input.channelOrder, input.mean, input.std), outputs: [{ name: 'o' }], params: { alignmentTemplate: template } });
      const transform = embedder.alignment(testCase.points);
      assertClose(transform, testCase.imageToAligned, 1e-9, 'image → aligned transform');
      const tensor = embedder.tensor(view, transform, false);
      const samples: number[] = [];
      for (let channel = 0; channel < 3; channel++) {
        for (let v = 0; v < testCase.count; v++) {
          for (let u = 0; u < testCase.count; u++) samples.push(tensor[channel * 112 * 112 + v * testCase.step * 112 + u * testCase.step]!);
        }
      }
      assertClose(samples, testCase.samples, 1e-4, 'aligned face samples');
    });
  }
});

describe('golden numbers: detector decoding (OpenCV and insightface formulations)', () => {
  it('YuNet: score √(cls·obj) clamped, centre and size per stride, five points', () => {
    const { input, strides, threshold } = golden.yunet;
    const family = yunetFamily({ input: spec(input, 'BGR', 0, 1), params: { strides } });
    assertSameCandidates(family.decode(outputsOf(golden.yunet), threshold), golden.yunet.found, 'YuNet');
  });

  it('SCRFD: distance2bbox and distance2kps from anchor centres, anchors per cell', () => {
    const { input, strides, anchorsPerLocation, outputNames, threshold } = golden.scrfd;
    const family = scrfdFamily({ input: spec(input, 'BGR', 0, 1), outputs: outputNames.map((name) => ({ name })), params: { strides, anchorsPerLocation } });
    assertSameCandidates(family.decode(outputsOf(golden.scrfd), threshold), golden.scrfd.found, 'SCRFD');
  });

  it('UltraFace: the face class, corners scaled to the input', () => {
    const family = ultrafaceFamily({ input: spec(golden.ultraface.input, 'BGR', 0, 1) });
    assertSameCandidates(family.decode(outputsOf(golden.ultraface), golden.ultraface.threshold), golden.ultraface.found, 'UltraFace');
  });
});

describe('golden numbers: anti-spoof crops (Silent-Face crop box, reflect-101 and constant borders)', () => {
  const { raster, detection, size, cases } = golden.antiSpoofCrops;
  const view = pattern(...raster);
  const box = { x1: detection[0], y1: detection[1], x2: detection[2], y2: detection[3] };
  const face = { detection: { box }, faceBox: squareFaceBox(box, ...raster) };
  for (const testCase of cases) {
    it(`${testCase.name}: the crop and its pixels`, () => {
      const model = antiSpoofClassifier({ id: 'a', input: spec([size, size], 'RGB', 0, 1), outputs: [{ name: 'o' }], params: testCase.params });
      const region = model.crop(face, ...raster);
      assertClose([region.crop.x, region.crop.y, region.crop.width, region.crop.height], testCase.crop, 1e-9, 'crop');
      assertClose([...model.tensor(view, region)], testCase.samples, 1e-3, 'crop samples');
    });
  }
});
