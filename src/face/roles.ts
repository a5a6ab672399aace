/**
 * What the face pipeline needs of the model in each role, whatever its family. The manifest chooses a family per
 * role; the family table (src/models/families.ts) builds these from its entry. Nothing here knows the manifest or
 * the runtime: a test can implement a role by hand.
 */
import type { ImageView, Rect } from '../media/raster.js';
import type { DetectionParams, DetectorFamily } from './detector.js';
import type { Affine, Box, Point } from './geometry.js';
import type { Border, ModelInputSpec } from './sampling.js';

/** A model's outputs by name, as the pipeline hands them to the role that decodes them. */
export type ModelOutputs = Record<string, Float32Array>;

export interface RoleModel {
  /** The manifest id, by which the model is run. */
  readonly id: string;
  readonly input: ModelInputSpec;
}

export interface DetectorModel extends RoleModel, Pick<DetectorFamily, 'fit' | 'decode'> {
  /** How the pipeline searches an image with this detector. */
  readonly params: DetectionParams;
}

export interface LandmarkerModel extends RoleModel {
  /** The region of the image the landmarker reads around a square face box. */
  crop(faceBox: Box, imageWidth: number, imageHeight: number): Rect;
  tensor(view: ImageView, crop: Rect): Float32Array;
  /** The five alignment points, in image coordinates, in the order of the embedder's template. */
  fivePoints(outputs: ModelOutputs, crop: Rect): Point[];
}

export interface EmbedderModel extends RoleModel {
  /** The transform taking the image onto the aligned face the embedder takes. */
  alignment(fivePoints: readonly Point[]): Affine;
  /** The part of the image the aligned face is sampled from. */
  footprint(imageToAligned: Affine): Rect;
  tensor(view: ImageView, imageToAligned: Affine, mirrored: boolean): Float32Array;
  /** The raw (not normalised) embedding. */
  embedding(outputs: ModelOutputs): Float32Array;
}

/** The boxes of a located face an anti-spoof crop can start from. */
export interface AntiSpoofFace {
  detection: { box: Box };
  /** Square as tall as the detection, clipped to the image. */
  faceBox: Box;
}

/** The region an anti-spoof model sees, and what its part outside the image holds. */
export interface AntiSpoofRegion {
  crop: Rect;
  border: Border;
}

export interface AntiSpoofModel extends RoleModel {
  /** The region the classifier sees, and what its part outside the image holds. */
  crop(face: AntiSpoofFace, imageWidth: number, imageHeight: number): AntiSpoofRegion;
  tensor(view: ImageView, region: AntiSpoofRegion): Float32Array;
  attackProbability(outputs: ModelOutputs): number;
}

/** The model of each role, as the manifest assigns them. */
export interface FaceModels {
  detector: DetectorModel;
  /** Without one, alignment uses the five points the detector gives. */
  landmarker: LandmarkerModel | undefined;
  embedder: EmbedderModel;
  antiSpoof: readonly AntiSpoofModel[];
}

/** Runs models by id: the registry of loaded sessions, or a fake of it. */
export interface ModelRunner {
  session(id: string): {
    run(feeds: Record<string, { data: Float32Array; dims: readonly number[] }>): Promise<Record<string, { data: Float32Array }>>;
  };
}
