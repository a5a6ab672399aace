/**
 * From cosine similarity to the API's score and decision.
 *
 * The score is a piecewise-linear, increasing map of the cosine through the embedder's calibration anchors (from its
 * manifest entry), so that score thresholds keep one meaning whatever model is loaded: the anchors are placed at
 * cosines whose false-accept rates were measured (docs/accuracy.md). Cosines at or below the first anchor score 0,
 * identical templates (cosine 1) score 1.
 */
export type CalibrationAnchors = readonly (readonly [cosine: number, score: number])[];

export type Decision = 'approved' | 'operator_required' | 'declined';

export interface DecisionThresholds {
  /** Scores at or above this are approved. */
  approve: number;
  /** Scores below this are declined; between the two, an operator decides. */
  decline: number;
}

/** Piecewise-linear interpolation through increasing points, reading coordinate `from` and returning `to`. */
function interpolate(value: number, anchors: CalibrationAnchors, from: 0 | 1): number {
  const to: 0 | 1 = from === 0 ? 1 : 0;
  const first = anchors[0]!;
  if (!(value > first[from])) return first[to];
  for (let i = 1; i < anchors.length; i++) {
    const upper = anchors[i]!;
    if (value <= upper[from]) {
      const lower = anchors[i - 1]!;
      if (upper[from] === lower[from]) return upper[to];
      return lower[to] + ((value - lower[from]) / (upper[from] - lower[from])) * (upper[to] - lower[to]);
    }
  }
  return anchors.at(-1)![to];
}

export const scoreFromCosine = (cosine: number, anchors: CalibrationAnchors): number => interpolate(cosine, anchors, 0);

/** The cosine a score threshold corresponds to: the inverse of scoreFromCosine, for reports. */
export const cosineForScore = (score: number, anchors: CalibrationAnchors): number => interpolate(score, anchors, 1);

export function decide(score: number, thresholds: DecisionThresholds): Decision {
  if (score >= thresholds.approve) return 'approved';
  if (score < thresholds.decline) return 'declined';
  return 'operator_required';
}
