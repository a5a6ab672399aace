import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  accuracyAt,
  areaUnderRoc,
  bestAccuracyThreshold,
  crossValidatedAccuracy,
  equalErrorRate,
  errorRatesAt,
  meanAndSd,
  mergeScoreSets,
  normalQuantile,
  operatingPointAtFalseAccept,
  operatingPoints,
  operatingPointsAtFalseReject,
  padApcerAtBpcer,
  padBpcerAtApcer,
  padDetCurve,
  padErrorRatesAt,
  padScoreSet,
  rocCurve,
  scoreSet,
  wilsonInterval,
} from '../../tools/eval/metrics.js';
import { decodePgm } from '../../tools/eval/pgm.js';

const close = (actual: number, expected: number, tolerance = 1e-12): void =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not ${expected}`);

const separated = scoreSet([0.8, 0.9, 0.7], [0.1, 0.3, 0.2]);
const overlapping = scoreSet([0.5, 0.5], [0.5, 0.5]);
const reversed = scoreSet([0.1, 0.2], [0.8, 0.9]);
/** Positives 0.2, 0.6, 0.6, 0.9; negatives 0.1, 0.3, 0.4, 0.6: one positive-negative tie at 0.6. */
const tied = scoreSet([0.6, 0.2, 0.9, 0.6], [0.1, 0.6, 0.3, 0.4]);

describe('score sets', () => {
  it('sorts the scores and merges sets', () => {
    assert.deepEqual([...tied.positives], [0.2, 0.6, 0.6, 0.9]);
    const merged = mergeScoreSets([separated, reversed]);
    assert.deepEqual([...merged.positives], [0.1, 0.2, 0.7, 0.8, 0.9]);
    assert.deepEqual([...merged.negatives], [0.1, 0.2, 0.3, 0.8, 0.9]);
  });

  it('refuses an empty class and NaN scores', () => {
    assert.throws(() => scoreSet([], [0.1]), RangeError);
    assert.throws(() => scoreSet([0.1, Number.NaN], [0.1]), RangeError);
  });
});

describe('error rates at a threshold', () => {
  it('accepts scores at or above the threshold', () => {
    assert.deepEqual(errorRatesAt(tied, 0.6), { falseAccept: 0.25, falseReject: 0.25 });
    assert.deepEqual(errorRatesAt(tied, 0.61), { falseAccept: 0, falseReject: 0.75 });
    assert.deepEqual(errorRatesAt(separated, 0.5), { falseAccept: 0, falseReject: 0 });
    assert.deepEqual(errorRatesAt(overlapping, 0.5), { falseAccept: 1, falseReject: 0 });
    assert.equal(accuracyAt(tied, 0.5), 0.75);
  });
});

describe('ROC curve and its area', () => {
  it('steps through each distinct score once, ties moving diagonally', () => {
    assert.deepEqual(rocCurve(overlapping), [
      { threshold: Infinity, falseAccept: 0, trueAccept: 0 },
      { threshold: 0.5, falseAccept: 1, trueAccept: 1 },
    ]);
    assert.deepEqual(
      rocCurve(tied).map((p) => [p.threshold, p.falseAccept, p.trueAccept]),
      [
        [Infinity, 0, 0],
        [0.9, 0, 0.25],
        [0.6, 0.25, 0.75],
        [0.4, 0.5, 0.75],
        [0.3, 0.75, 0.75],
        [0.2, 0.75, 1],
        [0.1, 1, 1],
      ],
    );
  });

  it('has area 1 when separated, 1/2 when fully overlapping, 0 when reversed', () => {
    assert.equal(areaUnderRoc(separated), 1);
    assert.equal(areaUnderRoc(overlapping), 0.5);
    assert.equal(areaUnderRoc(reversed), 0);
  });

  it('counts a tie between a positive and a negative as one half (Mann-Whitney)', () => {
    // Positive 0.2 beats 1 negative, each 0.6 beats 3 and ties 1, 0.9 beats 4: 12 of 16 pairs.
    close(areaUnderRoc(tied), 12 / 16);
  });
});

describe('equal error rate', () => {
  it('is 0 when separated, 1/2 when fully overlapping, 1 when reversed', () => {
    assert.deepEqual(equalErrorRate(separated), { rate: 0, threshold: 0.7 });
    assert.deepEqual(equalErrorRate(overlapping), { rate: 0.5, threshold: 0.5 });
    assert.equal(equalErrorRate(reversed).rate, 1);
  });

  it('is read where both rates are equal at a point of the curve', () => {
    assert.deepEqual(equalErrorRate(tied), { rate: 0.25, threshold: 0.6 });
  });

  it('is interpolated when the rates cross between two points', () => {
    // At 0.6: false accepts 1/4, false rejects 1/2; at 0.5: 1/4 and 0. The segment crosses equality at 1/4.
    const set = scoreSet([0.5, 0.9], [0.1, 0.2, 0.3, 0.6]);
    close(equalErrorRate(set).rate, 0.25);
  });
});

describe('operating point at a false-accept rate', () => {
  it('takes the lowest threshold whose false-accept rate is within the target', () => {
    assert.deepEqual(operatingPointAtFalseAccept(tied, 0.25), {
      targetFalseAccept: 0.25,
      threshold: 0.6,
      falseAccept: 0.25,
      trueAccept: 0.75,
      measurable: true,
    });
    assert.deepEqual(operatingPointAtFalseAccept(tied, 0.3), { ...operatingPointAtFalseAccept(tied, 0.25), targetFalseAccept: 0.3 });
    assert.equal(operatingPointAtFalseAccept(separated, 0).threshold, 0.7);
    assert.equal(operatingPointAtFalseAccept(separated, 0).trueAccept, 1);
  });

  it('says when the target is below what the number of negatives can resolve', () => {
    const point = operatingPointAtFalseAccept(tied, 0.1);
    assert.equal(point.measurable, false);
    assert.deepEqual([point.threshold, point.falseAccept, point.trueAccept], [0.9, 0, 0.25]);
  });

  it('accepts nothing when even the highest score is a negative and no false accept is allowed', () => {
    assert.deepEqual(operatingPointAtFalseAccept(reversed, 0.4), {
      targetFalseAccept: 0.4,
      threshold: Infinity,
      falseAccept: 0,
      trueAccept: 0,
      measurable: false,
    });
  });

  it('does not lose a false accept to rounding of target × count', () => {
    const negatives = Array.from({ length: 100 }, (_, i) => i / 100);
    const point = operatingPointAtFalseAccept(scoreSet([0.5], negatives), 0.29);
    assert.equal(point.falseAccept, 0.29);
  });

  it('answers several targets in one pass, in the order asked', () => {
    const targets = [0.5, 0, 1, 0.25];
    assert.deepEqual(
      operatingPoints(tied, targets),
      targets.map((t) => operatingPointAtFalseAccept(tied, t)),
    );
    assert.equal(operatingPointAtFalseAccept(tied, 1).threshold, 0.1);
  });
});

describe('operating point at a false-reject rate', () => {
  it('takes the highest threshold whose false-reject rate is within the target', () => {
    assert.deepEqual(operatingPointsAtFalseReject(tied, [0.25, 0.5]), [
      { targetFalseReject: 0.25, threshold: 0.6, falseAccept: 0.25, trueAccept: 0.75, measurable: true },
      { targetFalseReject: 0.5, threshold: 0.6, falseAccept: 0.25, trueAccept: 0.75, measurable: true },
    ]);
  });

  it('accepts every positive when none may be rejected, and says a zero rate is not measurable', () => {
    assert.deepEqual(operatingPointsAtFalseReject(tied, [0, 0.1]), [
      { targetFalseReject: 0, threshold: 0.2, falseAccept: 0.75, trueAccept: 1, measurable: false },
      { targetFalseReject: 0.1, threshold: 0.2, falseAccept: 0.75, trueAccept: 1, measurable: false },
    ]);
  });

  it('accepts nothing when every positive may be rejected', () => {
    assert.deepEqual(operatingPointsAtFalseReject(tied, [1])[0], {
      targetFalseReject: 1,
      threshold: Infinity,
      falseAccept: 0,
      trueAccept: 0,
      measurable: true,
    });
  });
});

describe('liveness error rates (ISO/IEC 30107-3)', () => {
  // Attack probabilities: bona fide 0.1, 0.2, 0.3, 0.6; attacks 0.4, 0.5, 0.8, 0.9.
  const pad = padScoreSet([0.3, 0.1, 0.6, 0.2], [0.8, 0.4, 0.9, 0.5]);

  it('classifies a score at or above the threshold as an attack, as the service does', () => {
    // At 0.5 the attack scored 0.5 is caught; only 0.4 passes as bona fide. The bona fide 0.6 is rejected.
    assert.deepEqual(padErrorRatesAt(pad, 0.5), { apcer: 0.25, bpcer: 0.25 });
    assert.deepEqual(padErrorRatesAt(pad, 0.6), { apcer: 0.5, bpcer: 0.25 });
    assert.deepEqual(padErrorRatesAt(pad, 0.95), { apcer: 1, bpcer: 0 });
  });

  it('gives the lowest APCER within a BPCER target, at the lowest threshold that keeps it', () => {
    assert.deepEqual(padApcerAtBpcer(pad, [0, 0.25]), [
      { target: 0, threshold: 0.8, apcer: 0.5, bpcer: 0, measurable: false },
      { target: 0.25, threshold: 0.4, apcer: 0, bpcer: 0.25, measurable: true },
    ]);
  });

  it('gives the lowest BPCER within an APCER target, at the highest threshold that keeps it', () => {
    assert.deepEqual(padBpcerAtApcer(pad, [0, 0.25, 0.5]), [
      { target: 0, threshold: 0.4, apcer: 0, bpcer: 0.25, measurable: false },
      { target: 0.25, threshold: 0.5, apcer: 0.25, bpcer: 0.25, measurable: true },
      { target: 0.5, threshold: 0.8, apcer: 0.5, bpcer: 0, measurable: true },
    ]);
  });

  it('draws the DET curve from classifying nothing as an attack to classifying everything', () => {
    assert.deepEqual(
      padDetCurve(pad).map((p) => [p.apcer, p.bpcer]),
      [
        [1, 0],
        [0.75, 0],
        [0.5, 0],
        [0.5, 0.25],
        [0.25, 0.25],
        [0, 0.25],
        [0, 0.5],
        [0, 0.75],
        [0, 1],
      ],
    );
  });
});

describe('best-accuracy threshold and k-fold accuracy', () => {
  it('puts the threshold in the middle of the gap with the fewest errors', () => {
    assert.deepEqual(bestAccuracyThreshold(separated), { threshold: 0.5, accuracy: 1 });
    const best = bestAccuracyThreshold(tied);
    close(best.threshold, 0.5);
    assert.equal(best.accuracy, 0.75);
  });

  it('scores each fold at the threshold chosen on the other folds', () => {
    const folds = [scoreSet([0.8, 0.9], [0.1, 0.2]), scoreSet([0.6, 0.7], [0.3, 0.4]), scoreSet([0.5, 0.95], [0.55, 0.05])];
    const result = crossValidatedAccuracy(folds);
    // Thresholds from the other folds: (0.6 + 0.55)/2, (0.8 + 0.55)/2 and (0.6 + 0.4)/2.
    const expected = [
      [0.575, 1],
      [0.675, 0.75],
      [0.5, 0.75],
    ];
    result.folds.forEach((fold, k) => {
      close(fold.threshold, expected[k]![0]!);
      assert.equal(fold.accuracy, expected[k]![1]);
    });
    close(result.mean, 2.5 / 3);
    close(result.sd, Math.sqrt(1 / 48));
  });
});

describe('summary statistics', () => {
  it('gives the sample standard deviation', () => {
    assert.deepEqual(meanAndSd([1, 2, 3]), { mean: 2, sd: 1 });
    assert.deepEqual(meanAndSd([4]), { mean: 4, sd: 0 });
  });
});

describe('interval and quantile helpers', () => {
  it('gives the Wilson 95 % interval of a proportion, not collapsing at 0 errors', () => {
    const none = wilsonInterval(0, 10);
    assert.equal(none.lower, 0);
    close(none.upper, 0.27753, 1e-5);
    const half = wilsonInterval(5, 10);
    close(half.lower, 0.23659, 1e-5);
    close(half.upper, 0.76341, 1e-5);
    assert.equal(wilsonInterval(10, 10).upper, 1);
    assert.throws(() => wilsonInterval(1, 0), RangeError);
    assert.throws(() => wilsonInterval(3, 2), RangeError);
  });

  it('gives the standard normal quantile, symmetric about 1/2, infinite at 0 and 1', () => {
    assert.equal(normalQuantile(0.5), 0);
    close(normalQuantile(0.975), 1.959963985, 1e-8);
    close(normalQuantile(0.001), -3.090232306, 1e-8);
    close(normalQuantile(0.9), -normalQuantile(0.1), 1e-9);
    assert.equal(normalQuantile(0), -Infinity);
    assert.equal(normalQuantile(1), Infinity);
    assert.throws(() => normalQuantile(1.5), RangeError);
  });
});

describe('PGM reader', () => {
  const pgm = (header: string, samples: number[]): Uint8Array => Uint8Array.from([...Buffer.from(header, 'latin1'), ...samples]);

  it('reads a P5 image into grey RGB, skipping header comments', () => {
    const raster = decodePgm(pgm('P5\n# Created by GIMP\n2 1\n# depth\n255\n', [10, 200]));
    assert.deepEqual({ width: raster.width, height: raster.height }, { width: 2, height: 1 });
    assert.deepEqual([...raster.data], [10, 10, 10, 200, 200, 200]);
  });

  it('reads sample bytes that look like header text as samples', () => {
    const raster = decodePgm(pgm('P5 2 1 255\n', [0x23, 0x0a]));
    assert.deepEqual([...raster.data], [0x23, 0x23, 0x23, 0x0a, 0x0a, 0x0a]);
  });

  it('scales samples of a smaller maximum value to 0–255', () => {
    assert.deepEqual([...decodePgm(pgm('P5 2 1 15\n', [15, 5])).data], [255, 255, 255, 85, 85, 85]);
  });

  it('refuses other formats and truncated samples', () => {
    assert.throws(() => decodePgm(pgm('P2\n1 1\n255\n', [0])), /P5/);
    assert.throws(() => decodePgm(pgm('P5\n2 2\n255\n', [0, 1, 2])), /truncated/);
  });
});
