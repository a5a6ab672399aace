import { type Box, boxHeight } from './geometry.js';

export interface FaceChoicePolicy {
  /** Faces shorter than this, in pixels, are too small to describe and are not counted. */
  minFaceHeight: number;
  /**
   * Another face counts as a second person when it is at least this share of the largest face's height. Smaller
   * faces are bystanders or the "ghost" portrait printed beside the holder photo on identity documents.
   */
  comparableRatio: number;
}

export type FaceChoice<T> = { kind: 'none' } | { kind: 'one'; face: T } | { kind: 'several'; count: number };

/** Which face a sample is about: the largest, unless another face of comparable size makes it ambiguous. */
export function chooseFace<T extends { box: Box }>(faces: readonly T[], policy: FaceChoicePolicy): FaceChoice<T> {
  const usable = faces.filter((f) => boxHeight(f.box) >= policy.minFaceHeight).sort((a, b) => boxHeight(b.box) - boxHeight(a.box));
  const primary = usable[0];
  if (!primary) return { kind: 'none' };
  const comparable = usable.filter((f) => boxHeight(f.box) >= policy.comparableRatio * boxHeight(primary.box));
  return comparable.length > 1 ? { kind: 'several', count: comparable.length } : { kind: 'one', face: primary };
}
