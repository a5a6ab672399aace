import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Point } from '../../src/face/geometry.js';
import { combinedScore, faceChange, faceRegionPatch, patchChange, sameIdentity, STILL_FACE_CHANGE, type TemporalEvidence } from '../../src/liveness/temporal.js';
import { spreadPositions } from '../../src/media/sequence.js';
import { createRaster, type ImageView, type Raster, wholeImage } from '../../src/media/raster.js';
import { seededRandom } from '../../tools/eval/attack-media.js';

/** A 160×160 "face": smooth shading with dark eyes and mouth, optionally shifted, with uniform noise of ±noise. */
function face(shift: number, noise: number, random: () => number): Raster {
  const raster = createRaster(160, 160);
  for (let y = 0; y < 160; y++) {
    for (let x = 0; x < 160; x++) {
      const [u, v] = [x - shift, y];
      const dark = Math.hypot(u - 60, v - 65) < 8 || Math.hypot(u - 100, v - 65) < 8 || (Math.abs(v - 115) < 4 && Math.abs(u - 80) < 20);
      const value = (dark ? 40 : 120 + 0.5 * u) + noise * (2 * random() - 1);
      raster.data.fill(Math.max(0, Math.min(255, Math.round(value))), (y * 160 + x) * 3, (y * 160 + x) * 3 + 3);
    }
  }
  return raster;
}
const points: Point[] = [[60, 65], [100, 65], [80, 90], [65, 115], [95, 115]];
const whole = (raster: Raster): ImageView => ({ raster, region: wholeImage(raster), scale: 1 });

describe('faceChange: a still against a face that moves', () => {
  it('is 0 for identical frames and stays under the still threshold when only noise differs', () => {
    const random = seededRandom(7);
    const still = Array.from({ length: 16 }, () => faceRegionPatch(whole(face(0, 0, random)), points));
    assert.ok(faceChange(still)! < 1e-6);
    const noisy = Array.from({ length: 16 }, () => faceRegionPatch(whole(face(0, 12, random)), points));
    assert.ok(faceChange(noisy)! <= STILL_FACE_CHANGE, `noise alone: ${faceChange(noisy)}`);
  });

  it('exceeds the threshold when the face drifts by two pixels over the frames, sampled at the first frame\'s place', () => {
    const random = seededRandom(8);
    const moving = Array.from({ length: 16 }, (_, i) => faceRegionPatch(whole(face(i / 8, 0, random)), points));
    assert.ok(faceChange(moving)! > STILL_FACE_CHANGE, `moved: ${faceChange(moving)}`);
  });

  it('ignores brightness and contrast, and needs two frames', () => {
    const random = seededRandom(9);
    const patch = faceRegionPatch(whole(face(0, 0, random)), points);
    assert.ok(patchChange(patch, patch.map((v) => 3 * v + 40)) < 1e-6);
    assert.equal(faceChange([patch]), undefined);
  });
});

describe('identity', () => {
  const rule = { calibration: [[0, 0], [0.28, 0.5], [0.42, 0.85], [1, 1]] as const, thresholds: { approve: 0.85, decline: 0.5 } };
  const unit = (angle: number): Float32Array => Float32Array.from([Math.cos(angle), Math.sin(angle)]);

  it('calls two embeddings one person unless the matcher would decline them', () => {
    assert.deepEqual(sameIdentity(unit(0), unit(0), rule), { score: 1, same: true });
    assert.equal(sameIdentity(unit(0), unit(Math.acos(0.3)), rule).same, true, 'cosine 0.30: operator_required, not declined');
    const other = sameIdentity(unit(0), unit(Math.acos(0.2)), rule);
    assert.equal(other.same, false);
    assert.ok(Math.abs(other.score - 0.2 / 0.28 / 2) < 1e-6, 'the calibrated score of cosine 0.2');
  });

  it('spreads the compared frames over the media, first and last included', () => {
    assert.deepEqual(spreadPositions(16, 3), [0, 8, 15]);
    assert.deepEqual(spreadPositions(2, 3), [0, 1]);
    assert.deepEqual(spreadPositions(1, 3), [0]);
    assert.deepEqual(spreadPositions(16, 1), [0]);
  });
});

describe('combinedScore', () => {
  const evidence: TemporalEvidence = { framesWithFace: 8, faceChange: 0.02, still: false, framesCompared: 3, identityScore: 0.95, samePerson: true };
  it('keeps the frames\' score unless evidence over time decides, then reports a certain attack', () => {
    assert.deepEqual(combinedScore(0.2, evidence, false), { confidenceSpoofing: 0.2, decidedBy: 'frames' });
    assert.deepEqual(combinedScore(0.2, undefined, false), { confidenceSpoofing: 0.2, decidedBy: 'frames' });
    assert.deepEqual(combinedScore(0.2, { ...evidence, still: true }, false), { confidenceSpoofing: 1, decidedBy: 'still_image' });
    assert.deepEqual(combinedScore(0.2, { ...evidence, still: true, samePerson: false }, false), { confidenceSpoofing: 1, decidedBy: 'identity_change' });
    assert.deepEqual(combinedScore(0.2, { ...evidence, bestFrameSamePerson: false }, false), { confidenceSpoofing: 1, decidedBy: 'identity_change' });
    assert.deepEqual(combinedScore(0.2, { ...evidence, samePerson: false }, true), { confidenceSpoofing: 1, decidedBy: 'virtual_camera' });
  });
});
