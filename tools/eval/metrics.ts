/**
 * Error-rate metrics of a score that should be high for one class of samples (positives) and low for the other
 * (negatives). A sample is accepted when its score is at or above the threshold.
 *
 * - Face verification: positives are genuine (mated) pairs, negatives impostor pairs; a false accept is the FAR (FMR),
 *   a false reject the FRR (FNMR), and 1 − FRR the TAR.
 * - Liveness: positives are bona fide presentations, negatives attacks scored by their "live" probability; a false
 *   accept is the APCER, a false reject the BPCER. A DET curve is the ROC below drawn as (false accept, false reject).
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

/** The q-quantile of ascending scores, by linear interpolation between the nearest ranks. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no scores');
  const rank = Math.min(Math.max(q, 0), 1) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower]! + (rank - lower) * (sorted[upper]! - sorted[lower]!);
}
