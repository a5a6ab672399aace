/**
 * The one definition of a quantile in the service, its tools and its benchmarks: linear interpolation between the
 * two nearest ranks (Hyndman & Fan's type 7, the default of R and numpy), so that the median of an even count is
 * the mean of the two middle values, as the liveness score of a media has always been.
 */

/** The q-quantile (q in 0..1) of values already in ascending order; NaN when there are none. */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(Math.max(q, 0), 1) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower]! + (rank - lower) * (sorted[upper]! - sorted[lower]!);
}

/** The values in ascending order, as a new array. */
export const ascending = (values: Iterable<number>): number[] => [...values].sort((a, b) => a - b);

/** The q-quantile (q in 0..1) of values in any order; NaN when there are none. */
export const quantile = (values: Iterable<number>, q: number): number => quantileOfSorted(ascending(values), q);

export const median = (values: Iterable<number>): number => quantile(values, 0.5);
