/**
 * Error-rate metrics of a score that should be high for one class of samples (positives) and low for the other
 * (negatives). A sample is accepted when its score is at or above the threshold.
 *
 * - Face verification: positives are genuine (mated) pairs, negatives impostor pairs; a false accept is the FAR (FMR),
 *   a false reject the FRR (FNMR), and 1 − FRR the TAR.
 * - Liveness (presentation-attack detection): positives are attacks, negatives bona fide presentations, both scored
 *   by the service's attack probability, so that "accepted" reads "classified an attack" under the service's own rule
 *   (score ≥ threshold). A false reject is then the APCER, a false accept the BPCER; the `pad*` functions below say so.
 */

export interface ScoreSet {
  /** Scores of samples that should be accepted, ascending. */
  positives: Float64Array;
  /** Scores of samples that should be rejected, ascending. */
  negatives: Float64Array;
}

function sortedCopy(scores: ArrayLike<number>, name: string): Float64Array {
  const sorted = Float64Array.from(scores);
  if (sorted.length === 0) throw new RangeError(`a score set needs at least one ${name} score`);
  if (sorted.some(Number.isNaN)) throw new RangeError(`${name} scores contain NaN`);
  return sorted.sort();
}

export function scoreSet(positives: ArrayLike<number>, negatives: ArrayLike<number>): ScoreSet {
  return { positives: sortedCopy(positives, 'positive'), negatives: sortedCopy(negatives, 'negative') };
}

export function mergeScoreSets(sets: readonly ScoreSet[]): ScoreSet {
  const concat = (parts: Float64Array[]): Float64Array => {
    const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      all.set(part, offset);
      offset += part.length;
    }
    return all;
  };
  return scoreSet(concat(sets.map((s) => s.positives)), concat(sets.map((s) => s.negatives)));
}

/** Index of the first score ≥ threshold in an ascending array: how many scores are below it. */
function countBelow(sorted: Float64Array, threshold: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < threshold) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface ErrorRates {
  falseAccept: number;
  falseReject: number;
}

export function errorRatesAt(set: ScoreSet, threshold: number): ErrorRates {
  const { positives, negatives } = set;
  return {
    falseAccept: (negatives.length - countBelow(negatives, threshold)) / negatives.length,
    falseReject: countBelow(positives, threshold) / positives.length,
  };
}

/** Share of all samples classified correctly. */
export function accuracyAt(set: ScoreSet, threshold: number): number {
  const { positives, negatives } = set;
  const correct = positives.length - countBelow(positives, threshold) + countBelow(negatives, threshold);
  return correct / (positives.length + negatives.length);
}

/**
 * Visits every distinct threshold, from the highest score down, with how many positives and negatives it accepts.
 * Tied scores are one threshold, so a tie between classes moves the curve diagonally.
 */
function sweep(set: ScoreSet, visit: (threshold: number, acceptedPositives: number, acceptedNegatives: number) => void): void {
  const { positives, negatives } = set;
  let p = positives.length - 1;
  let n = negatives.length - 1;
  while (p >= 0 || n >= 0) {
    const threshold = Math.max(p >= 0 ? positives[p]! : -Infinity, n >= 0 ? negatives[n]! : -Infinity);
    while (p >= 0 && positives[p]! >= threshold) p--;
    while (n >= 0 && negatives[n]! >= threshold) n--;
    visit(threshold, positives.length - 1 - p, negatives.length - 1 - n);
  }
}

export interface RocPoint {
  threshold: number;
  falseAccept: number;
  trueAccept: number;
}

/** Every ROC point, from accepting nothing (threshold +∞) to accepting everything. */
export function rocCurve(set: ScoreSet): RocPoint[] {
  const points: RocPoint[] = [{ threshold: Infinity, falseAccept: 0, trueAccept: 0 }];
  sweep(set, (threshold, tp, fp) => {
    points.push({ threshold, falseAccept: fp / set.negatives.length, trueAccept: tp / set.positives.length });
  });
  return points;
}

/** Area under the ROC curve: the chance a positive scores above a negative, ties counting one half. */
export function areaUnderRoc(set: ScoreSet): number {
  let area = 0;
  let lastFalseAccept = 0;
  let lastTrueAccept = 0;
  sweep(set, (_, tp, fp) => {
    const falseAccept = fp / set.negatives.length;
    const trueAccept = tp / set.positives.length;
    area += ((falseAccept - lastFalseAccept) * (trueAccept + lastTrueAccept)) / 2;
    lastFalseAccept = falseAccept;
    lastTrueAccept = trueAccept;
  });
  return area;
}

export interface EqualErrorRate {
  /** Where false accepts and false rejects are equal, interpolated between the two ROC points that enclose it. */
  rate: number;
  /** The threshold of whichever enclosing point is nearer to equal error. */
  threshold: number;
}

export function equalErrorRate(set: ScoreSet): EqualErrorRate {
  let previous = { threshold: Infinity, gap: 1, falseAccept: 0 };
  let result: EqualErrorRate | undefined;
  sweep(set, (threshold, tp, fp) => {
    if (result) return;
    const falseAccept = fp / set.negatives.length;
    const gap = 1 - tp / set.positives.length - falseAccept;
    if (gap <= 0) {
      const along = previous.gap / (previous.gap - gap);
      result = {
        rate: previous.falseAccept + along * (falseAccept - previous.falseAccept),
        threshold: -gap <= previous.gap ? threshold : previous.threshold,
      };
    }
    previous = { threshold, gap, falseAccept };
  });
  // The sweep ends accepting everything (false rejects 0), so the gap always reaches 0.
  return result!;
}

export interface OperatingPoint {
  targetFalseAccept: number;
  /** The lowest threshold whose false-accept rate is at most the target (+∞ when only accepting nothing is). */
  threshold: number;
  falseAccept: number;
  trueAccept: number;
  /**
   * Whether there are enough negatives to observe a false-accept rate this low: with n negatives the smallest non-zero
   * rate is 1/n, so a lower target can only be met as "0 of n", which says little about the rate itself.
   */
  measurable: boolean;
}

/** The operating point at each target false-accept rate, in one pass over the scores; results follow the targets' order. */
export function operatingPoints(set: ScoreSet, targetFalseAccepts: readonly number[]): OperatingPoint[] {
  const negatives = set.negatives.length;
  const targets = targetFalseAccepts
    // The tolerance keeps products such as 0.29 × 100 from flooring to one false accept fewer.
    .map((target, index) => ({ target, index, allowed: Math.floor(target * negatives * (1 + 1e-9)) }))
    .sort((a, b) => a.allowed - b.allowed);
  const results: OperatingPoint[] = new Array<OperatingPoint>(targets.length);
  let next = 0;
  const settle = (point: RocPoint, falseAccepts: number): void => {
    for (; next < targets.length && targets[next]!.allowed < falseAccepts; next++) {
      const { target, index } = targets[next]!;
      results[index] = { targetFalseAccept: target, ...point, measurable: target * negatives >= 1 };
    }
  };
  // False accepts only grow as the threshold falls: a target is settled by the last point before they exceed it.
  let previous: RocPoint = { threshold: Infinity, falseAccept: 0, trueAccept: 0 };
  sweep(set, (threshold, tp, fp) => {
    settle(previous, fp);
    previous = { threshold, falseAccept: fp / negatives, trueAccept: tp / set.positives.length };
  });
  settle(previous, Infinity);
  return results;
}

export function operatingPointAtFalseAccept(set: ScoreSet, targetFalseAccept: number): OperatingPoint {
  return operatingPoints(set, [targetFalseAccept])[0]!;
}

export interface ThresholdAccuracy {
  threshold: number;
  accuracy: number;
}

/**
 * The threshold with the fewest errors. All thresholds between the best-scoring sample and the next lower score give
 * the same errors; the midpoint of that gap is returned, as it generalises better than its edge. Among equally good
 * gaps the highest is taken (fewer false accepts).
 */
export function bestAccuracyThreshold(set: ScoreSet): ThresholdAccuracy {
  const total = set.positives.length + set.negatives.length;
  let fewestErrors = set.positives.length;
  let best = Infinity;
  sweep(set, (threshold, tp, fp) => {
    const errors = set.positives.length - tp + fp;
    if (errors < fewestErrors) {
      fewestErrors = errors;
      best = threshold;
    }
  });
  const below = (sorted: Float64Array): number => sorted[countBelow(sorted, best) - 1] ?? -Infinity;
  const nextLower = Math.max(below(set.positives), below(set.negatives));
  const threshold = Number.isFinite(best) && Number.isFinite(nextLower) ? (best + nextLower) / 2 : best;
  return { threshold, accuracy: 1 - fewestErrors / total };
}

export interface MeanAndSd {
  mean: number;
  /** Sample standard deviation (n − 1); 0 for a single value. */
  sd: number;
}

export function meanAndSd(values: readonly number[]): MeanAndSd {
  if (values.length === 0) throw new RangeError('mean of no values');
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length === 1) return { mean, sd: 0 };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1);
  return { mean, sd: Math.sqrt(variance) };
}

export interface CrossValidatedAccuracy extends MeanAndSd {
  /** Per fold: the threshold chosen on the other folds and the accuracy it gives on this fold. */
  folds: ThresholdAccuracy[];
}

/** k-fold accuracy as in the LFW protocol: each fold is scored at the best-accuracy threshold of the other folds. */
export function crossValidatedAccuracy(folds: readonly ScoreSet[]): CrossValidatedAccuracy {
  if (folds.length < 2) throw new RangeError('cross-validation needs at least two folds');
  const results = folds.map((fold, k) => {
    const { threshold } = bestAccuracyThreshold(mergeScoreSets(folds.filter((_, other) => other !== k)));
    return { threshold, accuracy: accuracyAt(fold, threshold) };
  });
  return { folds: results, ...meanAndSd(results.map((r) => r.accuracy)) };
}

export interface FalseRejectOperatingPoint {
  targetFalseReject: number;
  /** The highest threshold whose false-reject rate is at most the target (+∞ when accepting nothing meets it). */
  threshold: number;
  falseAccept: number;
  trueAccept: number;
  /** Whether there are enough positives to observe a false-reject rate this low: the smallest non-zero one is 1/n. */
  measurable: boolean;
}

/**
 * The operating point at each target false-reject rate: the highest threshold that meets it, which accepts the fewest
 * negatives. Results follow the targets' order.
 */
export function operatingPointsAtFalseReject(set: ScoreSet, targetFalseRejects: readonly number[]): FalseRejectOperatingPoint[] {
  const positives = set.positives.length;
  // The tolerance keeps products such as 0.29 × 100 from flooring to one false reject fewer.
  const allowed = targetFalseRejects.map((target) => Math.floor(target * positives * (1 + 1e-9)));
  const results: (FalseRejectOperatingPoint | undefined)[] = targetFalseRejects.map(() => undefined);
  const settle = (threshold: number, acceptedPositives: number, acceptedNegatives: number): void => {
    targetFalseRejects.forEach((target, i) => {
      if (results[i] || positives - acceptedPositives > allowed[i]!) return;
      results[i] = {
        targetFalseReject: target,
        threshold,
        falseAccept: acceptedNegatives / set.negatives.length,
        trueAccept: acceptedPositives / positives,
        measurable: target * positives >= 1,
      };
    });
  };
  settle(Infinity, 0, 0);
  sweep(set, settle);
  // The sweep ends accepting every positive, which meets any target ≥ 0.
  return results as FalseRejectOperatingPoint[];
}

export interface Interval {
  lower: number;
  upper: number;
}

/** 1.96: the two-sided 95 % point of the standard normal distribution. */
const Z95 = 1.959963984540054;

/**
 * Wilson score interval of a proportion of `errors` in `samples`: unlike the normal approximation it stays inside
 * [0, 1] and does not collapse to a point when no error (or only errors) was seen, which small test sets often show.
 */
export function wilsonInterval(errors: number, samples: number, z = Z95): Interval {
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`a proportion needs at least one sample, got ${samples}`);
  if (!Number.isInteger(errors) || errors < 0 || errors > samples) throw new RangeError(`${errors} errors out of ${samples} samples`);
  const p = errors / samples;
  const z2 = z * z;
  const centre = (p + z2 / (2 * samples)) / (1 + z2 / samples);
  const half = (z / (1 + z2 / samples)) * Math.sqrt((p * (1 - p)) / samples + z2 / (4 * samples * samples));
  // At 0 and at every sample the bounds are exactly 0 and 1; floating point would land a hair inside.
  return { lower: errors === 0 ? 0 : centre - half, upper: errors === samples ? 1 : centre + half };
}

/**
 * The standard normal quantile (probit), by Acklam's rational approximation (relative error below 1.2e-9): the axis
 * transform of DET curves, on which normally distributed scores draw straight lines.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${p} is not a probability`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const horner = (coefficients: readonly number[], x: number): number => coefficients.reduce((sum, k) => sum * x + k, 0);
  const tail = 0.02425;
  if (p < tail) {
    const q = Math.sqrt(-2 * Math.log(p));
    return horner(c, q) / (horner(d, q) * q + 1);
  }
  if (p > 1 - tail) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -horner(c, q) / (horner(d, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (horner(a, r) * q) / (horner(b, r) * r + 1);
}

// ---------------------------------------------------------------------------------------------------- liveness

/**
 * A liveness test set in the orientation described at the top: attacks are the positives, so that a score at or above
 * the threshold is classified an attack, exactly as the service decides.
 */
export function padScoreSet(bonaFideScores: ArrayLike<number>, attackScores: ArrayLike<number>): ScoreSet {
  return scoreSet(attackScores, bonaFideScores);
}

/** ISO/IEC 30107-3 error rates: APCER, attacks classified bona fide; BPCER, bona fide presentations classified attacks. */
export interface PadErrorRates {
  apcer: number;
  bpcer: number;
}

export function padErrorRatesAt(set: ScoreSet, threshold: number): PadErrorRates {
  const { falseAccept, falseReject } = errorRatesAt(set, threshold);
  return { apcer: falseReject, bpcer: falseAccept };
}

export interface PadOperatingPoint extends PadErrorRates {
  /** The rate held at or below its target: the BPCER for `padApcerAtBpcer`, the APCER for `padBpcerAtApcer`. */
  target: number;
  /** +∞ when only classifying nothing as an attack meets the target. */
  threshold: number;
  /** Whether the test set has enough samples of the held class to observe a rate as low as the target. */
  measurable: boolean;
}

/** The lowest APCER while BPCER ≤ each target: the lowest threshold that keeps the BPCER within it. */
export function padApcerAtBpcer(set: ScoreSet, targetBpcers: readonly number[]): PadOperatingPoint[] {
  return operatingPoints(set, targetBpcers).map((p) => ({
    target: p.targetFalseAccept,
    threshold: p.threshold,
    apcer: 1 - p.trueAccept,
    bpcer: p.falseAccept,
    measurable: p.measurable,
  }));
}

/** The lowest BPCER while APCER ≤ each target: the highest threshold that keeps the APCER within it. */
export function padBpcerAtApcer(set: ScoreSet, targetApcers: readonly number[]): PadOperatingPoint[] {
  return operatingPointsAtFalseReject(set, targetApcers).map((p) => ({
    target: p.targetFalseReject,
    threshold: p.threshold,
    apcer: 1 - p.trueAccept,
    bpcer: p.falseAccept,
    measurable: p.measurable,
  }));
}

/** The DET curve: (APCER, BPCER) at every distinct threshold, from classifying nothing as an attack to everything. */
export function padDetCurve(set: ScoreSet): PadErrorRates[] {
  return rocCurve(set).map((p) => ({ apcer: 1 - p.trueAccept, bpcer: p.falseAccept }));
}
