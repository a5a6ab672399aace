import { type Box, boxHeight, iou } from './geometry.js';

/**
 * Which faces count. `dominant` (the default): a sample is about its dominant face, and only another face as
 * prominent makes it ambiguous. `strict`: any second face of a describable size makes it ambiguous.
 */
export type FaceChoiceMode = 'dominant' | 'strict';

export interface FaceChoicePolicy {
  mode: FaceChoiceMode;
  /** Faces shorter than this, in image pixels, are too small to describe and are not counted. */
  minFaceHeight: number;
  /** In dominant mode, a framed face at least this share of the subject's height is a second person. */
  comparableRatio: number;
}

export type FaceChoice<T> = { kind: 'none' } | { kind: 'one'; face: T } | { kind: 'several'; count: number };

interface ImageSize {
  width: number;
  height: number;
}

/**
 * Margins, in face heights, that a framed face keeps from the image's sides and from its top and bottom. A face
 * closer to an edge is cut by the frame: someone at the side of another person's photo. Measured (docs/face-choice.md):
 * of the LFW dev bystanders at least 0.7 of their subject's height, 90 % come within 0.14 face heights of a side;
 * the faces that make the group photos of multi_face keep at least 0.36 from the sides and, some heads near the top,
 * 0.05 from the top.
 */
const SIDE_MARGIN = 0.2;
const TOP_BOTTOM_MARGIN = 0.05;
/**
 * A box overlapping the subject's by more than this is not a second person beside it: a head behind the subject's,
 * or a detector box straddling the subject and a neighbour (seen on LFW dev); faces side by side do not overlap.
 */
const SUBJECT_OVERLAP = 0.1;

const framed = (box: Box, image: ImageSize): boolean =>
  Math.min(box.x1, image.width - box.x2) >= SIDE_MARGIN * boxHeight(box) &&
  Math.min(box.y1, image.height - box.y2) >= TOP_BOTTOM_MARGIN * boxHeight(box);

const tallestFirst = <T extends { box: Box }>(faces: readonly T[], minHeight: number): T[] =>
  faces.filter((f) => boxHeight(f.box) >= minHeight).sort((a, b) => boxHeight(b.box) - boxHeight(a.box));

/** The subject in dominant mode: the tallest framed face, else (every face cut by the frame) the tallest face. */
function dominantSubject<T extends { box: Box }>(usable: readonly T[], image: ImageSize): { subject: T | undefined; isFramed: boolean } {
  const subject = usable.find((f) => framed(f.box, image));
  return subject ? { subject, isFramed: true } : { subject: usable[0], isFramed: false };
}

/**
 * Which face a sample is about. Dominant mode: the subject is the tallest face the frame does not cut; another framed
 * face at least `comparableRatio` of its height, and not overlapping it, is a second person. Strict mode: every face
 * of `minFaceHeight` or more is a person.
 */
export function chooseFace<T extends { box: Box }>(faces: readonly T[], image: ImageSize, policy: FaceChoicePolicy): FaceChoice<T> {
  const usable = tallestFirst(faces, policy.minFaceHeight);
  if (policy.mode === 'strict') {
    if (usable.length === 0) return { kind: 'none' };
    return usable.length === 1 ? { kind: 'one', face: usable[0]! } : { kind: 'several', count: usable.length };
  }
  const { subject } = dominantSubject(usable, image);
  if (!subject) return { kind: 'none' };
  const others = usable.filter(
    (f) => f !== subject && framed(f.box, image) && boxHeight(f.box) >= policy.comparableRatio * boxHeight(subject.box) && iou(f.box, subject.box) <= SUBJECT_OVERLAP,
  );
  return others.length > 0 ? { kind: 'several', count: others.length + 1 } : { kind: 'one', face: subject };
}

/**
 * The smallest face that could still change chooseFace's answer given the faces found so far: a face shorter than it
 * would be neither the subject nor a second person. The detector searches harder only for faces that small.
 */
export function relevantFaceHeight(policy: FaceChoicePolicy, image: ImageSize): (found: readonly { box: Box }[]) => number {
  return (found) => {
    if (policy.mode === 'strict') return policy.minFaceHeight;
    const { subject, isFramed } = dominantSubject(tallestFirst(found, policy.minFaceHeight), image);
    return subject && isFramed ? Math.max(policy.minFaceHeight, policy.comparableRatio * boxHeight(subject.box)) : policy.minFaceHeight;
  };
}
