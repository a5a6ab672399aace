import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../src/config.js';
import { antiSpoofCrop, antiSpoofInput } from '../../src/face/antispoof.js';
import { createRaster, wholeImage } from '../../src/media/raster.js';
import { type AntiSpoofEntry, parseManifest } from '../../src/models/manifest.js';

const model = (params: Partial<AntiSpoofEntry['params']>, channelOrder: 'RGB' | 'BGR' = 'RGB', std = 255): AntiSpoofEntry =>
  ({
    id: 'm',
    input: { name: 'input', shape: [1, 3, 4, 4], layout: 'NCHW', channelOrder, mean: [0, 0, 0], std: [std, std, std] },
    params: { cropScale: 1.5, liveClassIndex: 0, faceBox: 'square', cropMode: 'shrink-to-fit', cropFill: 0, ...params },
  }) as AntiSpoofEntry;

// A detection wider than tall near the top-left corner of a 100×100 image.
const face = { detection: { box: { x1: 5, y1: 10, x2: 45, y2: 30 } }, faceBox: { x1: 15, y1: 10, x2: 35, y2: 30 } };

describe('anti-spoof crops from the manifest', () => {
  it('shrinks and shifts the crop into the image by default, as Silent-Face crops', () => {
    const { crop, border } = antiSpoofCrop(face, model({ cropScale: 2.7 }), 100, 100);
    assert.deepEqual(crop, { x: 0, y: 0, width: 54, height: 54 });
    assert.equal(border, 'replicate');
  });

  it('squares the detection on its longer side, enlarges it about its centre and pads by reflection', () => {
    const { crop, border } = antiSpoofCrop(face, model({ faceBox: 'square-on-longer-side', cropMode: 'reflect' }), 100, 100);
    assert.deepEqual(crop, { x: -5, y: -10, width: 60, height: 60 }, 'a 40-pixel square × 1.5 about (25, 20), partly outside');
    assert.equal(border, 'reflect');
  });

  it('pads with a constant where asked, from the detected box', () => {
    const { crop, border } = antiSpoofCrop(face, model({ faceBox: 'detected', cropMode: 'constant', cropFill: 127, cropScale: 1 }), 100, 100);
    assert.deepEqual(crop, { x: 5, y: 10, width: 40, height: 20 });
    assert.deepEqual(border, { fill: 127 });
  });

  it('feeds the colour order and value range the manifest gives', () => {
    const raster = createRaster(100, 100);
    for (let i = 0; i < raster.data.length; i += 3) raster.data.set([255, 0, 51], i);
    const view = { raster, region: wholeImage(raster), scale: 1 };
    const input = (m: AntiSpoofEntry): Float32Array => antiSpoofInput(view, antiSpoofCrop(face, m, 100, 100), m);
    const rgb = input(model({ cropMode: 'reflect' }));
    assert.deepEqual([rgb[0], rgb[16], rgb[32]], [1, 0, Math.fround(0.2)]);
    const bgr = input(model({}, 'BGR', 1));
    assert.deepEqual([bgr[0], bgr[16], bgr[32]], [51, 0, 255]);
  });

  it('reads the operator manifests of the facenox model as its MANIFEST.md entry says', async () => {
    for (const example of ['operator-models-facenox', 'operator-models-ensemble']) {
      const file = path.join(projectRoot, 'examples', example, 'manifest.json');
      const manifest = parseManifest(JSON.parse(await readFile(file, 'utf8')), file);
      const facenox = manifest.models.find((m) => m.id === 'facenox_minifasnetv2se_128') as AntiSpoofEntry;
      assert.deepEqual(facenox.input.channelOrder, 'RGB');
      assert.deepEqual([facenox.input.mean, facenox.input.std], [[0, 0, 0], [255, 255, 255]]);
      assert.deepEqual(facenox.input.shape, [1, 3, 128, 128]);
      assert.deepEqual(facenox.params, { cropScale: 1.5, liveClassIndex: 0, faceBox: 'square-on-longer-side', cropMode: 'reflect', cropFill: 0 });
      assert.ok(manifest.pipeline.antiSpoof.includes('facenox_minifasnetv2se_128'));
    }
  });
});
