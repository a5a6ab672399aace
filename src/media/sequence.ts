/** `count` positions evenly spread over `length`, the first and last included (just the first when count is 1); every position when count ≥ length. */
export function spreadPositions(length: number, count: number): number[] {
  const positions = new Set<number>();
  for (let i = 0; i < count && length > 0; i++) positions.add(Math.round((i * (length - 1)) / Math.max(1, count - 1)));
  return [...positions];
}

/** `count` items evenly spread over the sequence, the first and last included (just the first when count is 1). */
export const evenlySpread = <T>(items: readonly T[], count: number): T[] => spreadPositions(items.length, count).map((i) => items[i]!);
