import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attackProbability, ensembleAttackProbability, softmax } from '../../src/face/antispoof.js';
import { resultsData } from '../../src/http/liveness-folder.js';
import { parsePayload } from '../../src/http/liveness-payload.js';
import { analysisResolution, confidenceSpoofing, systemResolution } from '../../src/liveness/folder.js';
import { type MediaAnalysis, sniffMediaKind } from '../../src/liveness/media.js';
import { median } from '../../src/statistics.js';
import { bestShotIndex, frontality } from '../../src/liveness/quality.js';
import { combinedScore, type TemporalEvidence } from '../../src/liveness/temporal.js';
import { createRaster, rasterImage } from '../../src/media/raster.js';
import type { AntiSpoofEntry } from '../../src/models/manifest.js';
import { ServiceError } from '../../src/errors.js';

const scored = (confidence: number, fromVirtualCamera = false, temporal?: TemporalEvidence): MediaAnalysis => ({
  info: { kind: 'video', mimeType: 'video/mp4', size: 1, md5: '' },
  fromVirtualCamera,
  outcome: {
    ok: true,
    ...combinedScore(confidence, temporal, fromVirtualCamera),
    framesConfidenceSpoofing: confidence,
    temporal,
    framesScored: temporal?.framesWithFace ?? 1,
    bestShot: rasterImage(createRaster(1, 1)),
  },
});
const evidence = (change: Partial<TemporalEvidence>): TemporalEvidence => ({
  framesWithFace: 16,
  faceChange: 0.02,
  still: false,
  framesCompared: 3,
  identityScore: 0.97,
  samePerson: true,
  ...change,
});
const failed: MediaAnalysis = { info: { kind: 'video', mimeType: 'video/mp4', size: 1, md5: '' }, fromVirtualCamera: false, outcome: { ok: false, detail: 'x' } };

describe('anti-spoof scores', () => {
  it('takes the attack probability as everything but the live class', () => {
    const model = { id: 'm', params: { liveClassIndex: 0, cropScale: 2.7 } } as unknown as AntiSpoofEntry;
    assert.ok(Math.abs(attackProbability(new Float32Array([0, 0, 0]), model) - 2 / 3) < 1e-9);
    assert.ok(attackProbability(new Float32Array([10, -10, -10]), model) < 1e-6);
    const sum = softmax(new Float32Array([1000, 999, -5])).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-12, 'softmax stays finite for large logits');
  });

  it('averages the attack probabilities of an ensemble', () => {
    assert.equal(ensembleAttackProbability([0.2, 0.4]), 0.30000000000000004);
    assert.throws(() => ensembleAttackProbability([]), RangeError);
  });

  it('aggregates frames by the median', () => {
    assert.equal(median([0.9, 0.1, 0.2]), 0.2);
    assert.equal(median([0.1, 0.2, 0.3, 0.9]), 0.25);
  });
});

describe('statuses', () => {
  it('declines an analysis when any media reaches the threshold, fails it when any media failed', () => {
    assert.equal(analysisResolution([scored(0.2), scored(0.49)], 0.5), 'SUCCESS');
    assert.equal(analysisResolution([scored(0.2), scored(0.5)], 0.5), 'DECLINED');
    assert.equal(analysisResolution([scored(0.2), failed], 0.5), 'FAILED');
  });

  it('never lets a virtual camera succeed, and reports it as a certain attack', () => {
    assert.equal(analysisResolution([scored(0.01, true)], 0.99), 'DECLINED');
    assert.equal(confidenceSpoofing(scored(0.01, true)), 1);
    assert.equal(confidenceSpoofing(failed), null);
  });

  it('declines a still or another person at any threshold, and says which evidence decided', () => {
    const still = scored(0.01, false, evidence({ faceChange: 0, still: true }));
    const swapped = scored(0.01, false, evidence({ identityScore: 0.02, samePerson: false, still: true }));
    assert.equal(analysisResolution([still], 1), 'DECLINED');
    assert.equal(analysisResolution([swapped], 1), 'DECLINED');
    assert.equal(analysisResolution([scored(0.01, false, evidence({}))], 0.5), 'SUCCESS');
    assert.deepEqual(resultsData(still), {
      confidence_spoofing: 1,
      decided_by: 'still_image',
      frames_confidence_spoofing: 0.01,
      temporal: { frames_with_face: 16, face_change: 0, still: true, frames_compared: 3, identity_score: 0.97, same_person: true },
    });
    assert.equal(resultsData(swapped)!.decided_by, 'identity_change', 'another person is named before a still');
    assert.equal(resultsData(scored(0.01, true, evidence({ samePerson: false })))!.decided_by, 'virtual_camera');
    const badBestFrame = scored(0.01, false, evidence({ bestFrameSamePerson: false }));
    assert.equal(resultsData(badBestFrame)!.decided_by, 'identity_change');
    assert.equal((resultsData(badBestFrame)!.temporal as Record<string, unknown>).best_frame_same_person, false);
    assert.deepEqual(resultsData(scored(0.123_456_789)), { confidence_spoofing: 0.123457, decided_by: 'frames', frames_confidence_spoofing: 0.123457 });
    assert.equal(resultsData(failed), null);
  });

  it('gives the worst resolution in the published order, INITIAL without analyses', () => {
    assert.equal(systemResolution([]), 'INITIAL');
    assert.equal(systemResolution(['SUCCESS', 'SUCCESS']), 'SUCCESS');
    assert.equal(systemResolution(['SUCCESS', 'DECLINED']), 'DECLINED');
    assert.equal(systemResolution(['DECLINED', 'FAILED', 'SUCCESS']), 'FAILED');
  });
});

describe('parsePayload', () => {
  const settings = { defaultThreshold: 0.5, maxAnalyses: 4 };
  it('runs one quality analysis with the default threshold when there is no payload', () => {
    const request = parsePayload(undefined, ['m'], settings);
    assert.deepEqual(request.analyses, [{ type: 'quality', metaData: {}, thresholdSpoofing: 0.5, extractBestShot: false }]);
  });

  it('reads the published payload fields and ignores fields it has no use for', () => {
    const request = parsePayload(
      JSON.stringify({
        'folder:meta_data': { a: 1 },
        'media:meta_data': { m: { additional_info: 'x' } },
        'media:tags': { m: ['video_selfie'] },
        resolution_endpoint: 'https://x',
        something_else: true,
        analyses: [{ type: 'Quality', meta_data: { k: 'v' }, params: { threshold_spoofing: 0.42, extract_best_shot: true, threshold_replay: 0.5 } }],
      }),
      ['m'],
      settings,
    );
    assert.deepEqual(request.analyses, [{ type: 'quality', metaData: { k: 'v' }, thresholdSpoofing: 0.42, extractBestShot: true }]);
    assert.deepEqual(request.mediaTags, { m: ['video_selfie'] });
    assert.equal(request.resolutionEndpoint, 'https://x');
  });

  it('refuses bad JSON, unknown analysis types, thresholds outside 0..1 and unknown media keys', () => {
    const invalid = (text: string): void =>
      assert.throws(() => parsePayload(text, ['m'], settings), (e: unknown) => e instanceof ServiceError && e.kind === 'invalid-payload', text);
    invalid('{');
    invalid('[]');
    invalid('{"analyses":[{"type":"documents"}]}');
    invalid('{"analyses":[{"type":"quality","params":{"threshold_spoofing":2}}]}');
    invalid('{"analyses":[{"type":"quality","params":{"extract_best_shot":"yes"}}]}');
    invalid('{"media:meta_data":{"other":{}}}');
  });

  it('refuses more analyses than the limit as too large, before checking any of them', () => {
    const analyses = (count: number, each: unknown): string => JSON.stringify({ analyses: Array.from({ length: count }, () => each) });
    assert.equal(parsePayload(analyses(4, { type: 'quality' }), ['m'], settings).analyses.length, 4);
    for (const text of [analyses(5, { type: 'quality' }), analyses(100_000, 1)]) {
      assert.throws(() => parsePayload(text, ['m'], settings), (e: unknown) => e instanceof ServiceError && e.kind === 'too-large' && /at most 4/.test(e.message));
    }
  });
});

describe('media kinds and best shots', () => {
  it('tells images, archives, capture objects and videos apart by their bytes', () => {
    assert.equal(sniffMediaKind(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'image');
    assert.equal(sniffMediaKind(Buffer.from('PK\x03\x04rest', 'latin1')), 'archive');
    assert.equal(sniffMediaKind(Buffer.from('  \n{"frame_list":[]}')), 'capture');
    assert.equal(sniffMediaKind(Buffer.from('\x00\x00\x00\x18ftypmp42', 'latin1')), 'video');
  });

  it('scores a frontal face 1 and a turned or tilted face lower', () => {
    const frontal = frontality([[40, 50], [70, 50], [55, 70], [42, 90], [68, 90]]);
    const turned = frontality([[40, 50], [70, 50], [66, 70], [42, 90], [68, 90]]);
    const tilted = frontality([[40, 50], [70, 62], [55, 75], [42, 90], [68, 95]]);
    assert.equal(frontal, 1);
    assert.ok(turned < 0.4);
    assert.ok(tilted < 0.95);
  });

  it('picks the frame that is sharp, frontal and large together', () => {
    assert.equal(
      bestShotIndex([
        { sharpness: 100, frontality: 0.3, faceHeight: 200 },
        { sharpness: 80, frontality: 0.95, faceHeight: 190 },
        { sharpness: 10, frontality: 1, faceHeight: 200 },
      ]),
      1,
    );
    assert.equal(bestShotIndex([]), -1);
  });
});
