/**
 * Evidence that only a sequence of frames gives, and how it combines with the anti-spoof models' per-frame scores.
 * Pure: it works on what the pipeline already found in each frame (five points, embeddings) and on a small grey patch
 * of the face region. The rules and their thresholds were measured: docs/liveness-temporal.md.
 *
 * - **A still is an attack.** A photo turned into a video does not change: the face region, sampled at one place in
 *   every frame, is the same picture up to noise and recompression. Each half of the frames is averaged (which
 *   averages the per-frame noise out) and the two averages compared; below STILL_FACE_CHANGE the media is a still.
 * - **One person throughout.** The best shot is what a host matches against a document or template, so it must show
 *   the person of the whole media: frames spread over the media are compared with it by the matcher's own score (a
 *   frame shows that person when any of its people of comparable size does); a score the matcher would decline means
 *   another person. A capture object's `best_frame` must show that person too.
 */
import { type Affine, invertAffine, type Point, similarityTransform } from '../face/geometry.js';
import { greyPatchSpec, sampleView } from '../face/sampling.js';
import { type CalibrationAnchors, decide, type DecisionThresholds, scoreFromCosine } from '../biometry/score.js';
import type { ImageView } from '../media/raster.js';

/**
 * Split-half change of the face region at or below which a media is a still. Chosen between the generated stills
 * (at most 0.0006) and the stillest real 3-second clip (0.0013): docs/liveness-temporal.md.
 */
export const STILL_FACE_CHANGE = 0.0009;
/** Frames spread over the media compared with the best shot for identity (each costs an embedder run per person). */
export const IDENTITY_FRAMES = 3;
/** People of one frame compared at most: the largest face and the faces of comparable size. */
export const IDENTITY_FACES_PER_FRAME = 3;
/**
 * Faces shorter than this (pixels) are not compared for identity: on 22–30-pixel faces the embedder scored one person
 * as low as two different people (docs/liveness-temporal.md).
 */
export const IDENTITY_MIN_FACE_HEIGHT = 40;

/** Side of the compared patch: coarse enough that pixel noise and compression average out within each pixel. */
const PATCH_SIZE = 24;
/** Each patch pixel is the mean of SUPERSAMPLING² bilinear samples of the face region. */
const SUPERSAMPLING = 4;
const SAMPLED_SIZE = PATCH_SIZE * SUPERSAMPLING;

/**
 * Where the five points of the reference frame land in the patch, as fractions of its side: the ArcFace layout
 * (eyes, nose tip, mouth corners on a 112-pixel face), which frames the face from the eyebrows to the chin.
 */
const PATCH_LAYOUT: readonly Point[] = [
  [38.2946 / 112, 51.6963 / 112],
  [73.5318 / 112, 51.5014 / 112],
  [56.0252 / 112, 71.7366 / 112],
  [41.5493 / 112, 92.3655 / 112],
  [70.7299 / 112, 92.2041 / 112],
];

const greySamples = greyPatchSpec('face-region', SAMPLED_SIZE);

/**
 * The face region a reference frame's five points frame, sampled in `view`: grey, box-filtered to PATCH_SIZE²,
 * standardised (so that flicker and exposure changes do not count).
 * Every frame of a media is sampled at the same place, that of its first face: a still then gives the same patch in
 * every frame whatever the detector's jitter, a moving face does not.
 */
export function faceRegionPatch(view: ImageView, referencePoints: readonly Point[]): Float32Array {
  const layout = PATCH_LAYOUT.map(([x, y]): Point => [x * SAMPLED_SIZE, y * SAMPLED_SIZE]);
  const sampledToImage: Affine = invertAffine(similarityTransform(referencePoints, layout));
  const samples = sampleView(view, sampledToImage, greySamples, 'replicate');
  const patch = new Float32Array(PATCH_SIZE * PATCH_SIZE);
  for (let y = 0; y < SAMPLED_SIZE; y++) {
    for (let x = 0; x < SAMPLED_SIZE; x++) {
      patch[Math.floor(y / SUPERSAMPLING) * PATCH_SIZE + Math.floor(x / SUPERSAMPLING)]! += samples[y * SAMPLED_SIZE + x]!;
    }
  }
  return standardised(patch);
}

/** Mean 0, variance 1. */
function standardised(values: Float32Array): Float32Array {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  const std = Math.sqrt(squares / values.length);
  return values.map((v) => (std > 0 ? (v - mean) / std : 0));
}

/** 1 − the normalised correlation of two patches: 0 for the same picture whatever its brightness and contrast. */
export function patchChange(a: Float32Array, b: Float32Array): number {
  const [sa, sb] = [standardised(a), standardised(b)];
  let dot = 0;
  for (let i = 0; i < sa.length; i++) dot += sa[i]! * sb[i]!;
  return Math.max(0, 1 - dot / sa.length);
}

function meanPatch(patches: readonly Float32Array[]): Float32Array {
  const mean = new Float32Array(patches[0]!.length);
  for (const patch of patches) for (let i = 0; i < mean.length; i++) mean[i]! += patch[i]! / patches.length;
  return mean;
}

/**
 * How much the face region changed between the first and the second half of the frames (in media order), each half
 * averaged first: per-frame noise, which a still's frames differ by, shrinks with the number of frames averaged; a
 * face that moves or changes expression does not. Undefined with fewer than two frames.
 */
export function faceChange(patches: readonly Float32Array[]): number | undefined {
  if (patches.length < 2) return undefined;
  const half = patches.length >> 1;
  return patchChange(meanPatch(patches.slice(0, half)), meanPatch(patches.slice(half)));
}

const cosine = (a: Float32Array, b: Float32Array): number => {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
};

export interface IdentityRule {
  calibration: CalibrationAnchors;
  thresholds: DecisionThresholds;
}

/** The matcher's score of two L2-normalised embeddings, and whether the matcher would call them one person. */
export function sameIdentity(a: Float32Array, b: Float32Array, rule: IdentityRule): { score: number; same: boolean } {
  const score = scoreFromCosine(cosine(a, b), rule.calibration);
  return { score, same: decide(score, rule.thresholds) !== 'declined' };
}

/** What the frames of a multi-frame media showed over time; reported in results_data. */
export interface TemporalEvidence {
  /** Frames in which a face was found (the others take no part). */
  framesWithFace: number;
  /** Split-half change of the face region (faceChange); null with fewer than two frames with a face. */
  faceChange: number | null;
  /** The face region did not change beyond noise: a still picture. */
  still: boolean;
  /** Frames compared with the best shot for identity. */
  framesCompared: number;
  /** Lowest matcher score between the best shot and a compared frame (or the capture's best_frame); null when none. */
  identityScore: number | null;
  /** Every compared frame shows the best shot's person. */
  samePerson: boolean;
  /**
   * Capture objects that send both: whether `best_frame` shows the person of `frame_list` (false when it shows no
   * face). Undefined otherwise.
   */
  bestFrameSamePerson?: boolean;
}

export type DecidedBy = 'frames' | 'virtual_camera' | 'identity_change' | 'still_image';

/**
 * A media's attack probability: the anti-spoof models' per-frame median, unless evidence beyond the frames decides —
 * a virtual camera, another person in the media, or a still — which makes it 1, an attack at any threshold. When
 * several apply, the first in that order is named.
 */
export function combinedScore(framesScore: number, evidence: TemporalEvidence | undefined, fromVirtualCamera: boolean): { confidenceSpoofing: number; decidedBy: DecidedBy } {
  const decidedBy: DecidedBy = fromVirtualCamera
    ? 'virtual_camera'
    : evidence && (!evidence.samePerson || evidence.bestFrameSamePerson === false)
      ? 'identity_change'
      : evidence?.still
        ? 'still_image'
        : 'frames';
  return { confidenceSpoofing: decidedBy === 'frames' ? framesScore : 1, decidedBy };
}
