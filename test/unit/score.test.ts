import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CalibrationAnchors, cosineForScore, decide, scoreFromCosine } from '../../src/biometry/score.js';

const anchors: CalibrationAnchors = [
  [0, 0],
  [0.3, 0.5],
  [0.45, 0.85],
  [1, 1],
];

describe('scoreFromCosine', () => {
  it('passes through every anchor and interpolates linearly between them', () => {
    for (const [cosine, score] of anchors) assert.equal(scoreFromCosine(cosine, anchors), score);
    assert.ok(Math.abs(scoreFromCosine(0.15, anchors) - 0.25) < 1e-12);
    assert.ok(Math.abs(scoreFromCosine(0.725, anchors) - 0.925) < 1e-12);
  });

  it('scores cosines at or below the first anchor 0, and is never above 1', () => {
    assert.equal(scoreFromCosine(-0.4, anchors), 0);
    assert.equal(scoreFromCosine(Number.NaN, anchors), 0);
    assert.equal(scoreFromCosine(1.0000001, anchors), 1);
  });

  it('increases with the cosine', () => {
    let previous = -1;
    for (let c = -1; c <= 1; c += 0.01) {
      const score = scoreFromCosine(c, anchors);
      assert.ok(score >= previous);
      previous = score;
    }
  });

  it('is inverted by cosineForScore', () => {
    for (const score of [0.1, 0.5, 0.7, 0.85, 0.99]) {
      assert.ok(Math.abs(scoreFromCosine(cosineForScore(score, anchors), anchors) - score) < 1e-12);
    }
  });
});

describe('decide', () => {
  const thresholds = { approve: 0.85, decline: 0.5 };
  it('approves at or above the approve threshold, declines below the decline threshold, else asks an operator', () => {
    assert.equal(decide(0.85, thresholds), 'approved');
    assert.equal(decide(1, thresholds), 'approved');
    assert.equal(decide(0.8499, thresholds), 'operator_required');
    assert.equal(decide(0.5, thresholds), 'operator_required');
    assert.equal(decide(0.4999, thresholds), 'declined');
  });
});
