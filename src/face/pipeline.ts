import { antiSpoofInput, attackProbability, ensembleAttackProbability } from './antispoof.js';
import type { Raster } from '../media/raster.js';
import { ignoreStages, type Stage, type StageObserver, timed } from '../observability/stages.js';
import type { ModelRegistry } from '../models/registry.js';
import {
  type Detection,
  detectorInput,
  fullRegion,
  nonMaxSuppression,
  paddedRegion,
  placeRegion,
  tileRegions,
  toImageDetection,
  verificationRegion,
} from './detector.js';
import { detectorFamily } from './detector-families.js';
import { alignmentTransform, embedderInput, l2Normalise } from './embedder.js';
import { type Box, boxHeight, iou, type Point } from './geometry.js';
import { contextCrop, decodeLandmarks, fivePointsFrom68, landmarkInput, squareFaceBox } from './landmarks.js';
import type { Border, Rect } from './sampling.js';


export interface LocatedFace {
  detection: Detection;
  /** Square box the landmark and (most) anti-spoof crops are made from. */
  faceBox: Box;
  /** Eyes, nose tip, mouth corners, in the order of the embedder's alignment template. */
  fivePoints: Point[];
}

export interface FacePipeline {
  /** Every face found and confirmed, largest first. */
  detect(raster: Raster): Promise<Detection[]>;
  locate(raster: Raster, detection: Detection): Promise<LocatedFace>;
  /** The face's L2-normalised embedding. */
  embed(raster: Raster, face: LocatedFace): Promise<Float32Array>;
  /** Probability that the face is a presentation attack: the mean over the anti-spoof models of the manifest. */
  attackProbability(raster: Raster, face: LocatedFace): Promise<number>;
}

/**
 * When the whole-image pass finds no face, or only faces shorter than this share of the image height, the image is
 * searched again in tiles: the detector sees the whole image at 320×240, where such faces are a few pixels tall.
 */
const TILE_WHEN_LARGEST_FACE_BELOW = 0.2;
/** Tiling helps only where a tile still has more pixels than the detector input. */
const TILE_WHEN_IMAGE_EXCEEDS_INPUT = 1.5;
/** Bounds the extra detector runs a crowd of low-confidence candidates can cost; the rest are dropped. */
const MAX_VERIFICATIONS = 8;
/** Mid-grey, the neutral value outside the image on padded and verification canvases. */
const CANVAS_GREY: Border = { fill: 127 };

export function createFacePipeline(registry: ModelRegistry, observe: StageObserver = ignoreStages): FacePipeline {
  const { detector, landmarker, embedder, antiSpoof } = registry.pipeline;
  const detectorSession = registry.session(detector.id);
  const embedderSession = registry.session(embedder.id);
  const family = detectorFamily(detector);

  const timedStage = <T>(stage: Stage, work: () => Promise<T>): Promise<T> => timed(observe, stage, work);

  const [, , inputHeight, inputWidth] = detector.input.shape as [number, number, number, number];
  const params = detector.params;

  async function detectIn(raster: Raster, region: Rect, border: Border, threshold = params.scoreThreshold): Promise<Detection[]> {
    const placement = placeRegion(region, inputWidth, inputHeight, family.fit);
    const input = detectorInput(raster, placement, detector, border);
    const outputs = await detectorSession.run({ [detector.input.name]: { data: input, dims: detector.input.shape } });
    const data = Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, tensor.data]));
    return family.decode(data, threshold).map((candidate) => toImageDetection(candidate, placement));
  }

  /** Five points from the 68-point landmarker when the manifest has one, else the detector's own. */
  async function fivePoints(raster: Raster, detection: Detection, faceBox: Box): Promise<Point[]> {
    if (!landmarker) {
      if (!detection.keypoints) throw new Error(`detector ${detector.id} gave no landmarks and no landmarker is configured`);
      return detection.keypoints;
    }
    const crop = contextCrop(faceBox, landmarker.params.cropScale, raster.width, raster.height);
    const outputs = await registry.session(landmarker.id).run({
      [landmarker.input.name]: { data: landmarkInput(raster, crop, landmarker), dims: landmarker.input.shape },
    });
    return fivePointsFrom68(decodeLandmarks(outputs[landmarker.outputs[0]!.name]!.data, crop));
  }

  async function confirmed(raster: Raster, candidate: Detection): Promise<boolean> {
    const region = verificationRegion(candidate.box, params.verificationContext, inputWidth / inputHeight);
    const again = await detectIn(raster, region, CANVAS_GREY, params.verificationScore);
    return again.some((d) => iou(d.box, candidate.box) > params.nmsIouThreshold);
  }

  /**
   * Candidates from the whole image; from tiles when faces may be too small for it; from a padded canvas when nothing
   * confident was found (faces that fill the photo). Confident candidates are faces; the others must be found again
   * in a window around them, which removes the false boxes this detector raises on animals and textures.
   */
  async function findFaces(raster: Raster): Promise<Detection[]> {
    const nms = (detections: Detection[]): Detection[] => nonMaxSuppression(detections, params.nmsIouThreshold);
    let candidates = nms(await detectIn(raster, fullRegion(raster), 'replicate'));
    const largest = Math.max(0, ...candidates.map((d) => boxHeight(d.box)));
    const tileable = raster.width >= TILE_WHEN_IMAGE_EXCEEDS_INPUT * inputWidth && raster.height >= TILE_WHEN_IMAGE_EXCEEDS_INPUT * inputHeight;
    if (tileable && largest < TILE_WHEN_LARGEST_FACE_BELOW * raster.height) {
      const tiles = await Promise.all(tileRegions(raster.width, raster.height).map((region) => detectIn(raster, region, 'replicate')));
      candidates = nms([...candidates, ...tiles.flat()]);
    }
    if (!candidates.some((d) => d.score >= params.confidentScore)) {
      candidates = nms([...candidates, ...(await detectIn(raster, paddedRegion(raster, params.paddingMargin), CANVAS_GREY))]);
    }
    candidates.sort((a, b) => boxHeight(b.box) - boxHeight(a.box));
    const faces: Detection[] = [];
    let verifications = 0;
    for (const candidate of candidates) {
      if (candidate.score >= params.confidentScore) faces.push(candidate);
      else if (verifications++ < MAX_VERIFICATIONS && (await confirmed(raster, candidate))) faces.push(candidate);
    }
    return faces;
  }

  return {
    detect: (raster) => timedStage('detect', () => findFaces(raster)),

    locate: (raster, detection) =>
      timedStage('landmarks', async () => {
        const faceBox = squareFaceBox(detection.box, raster.width, raster.height);
        return { detection, faceBox, fivePoints: await fivePoints(raster, detection, faceBox) };
      }),

    embed: (raster, face) =>
      timedStage('embed', async () => {
        const input = embedderInput(raster, alignmentTransform(face.fivePoints, embedder), embedder);
        const outputs = await embedderSession.run({ [embedder.input.name]: { data: input, dims: embedder.input.shape } });
        return l2Normalise(outputs[embedder.outputs[0]!.name]!.data);
      }),

    attackProbability: (raster, face) =>
      timedStage('liveness', async () => {
        const probabilities = await Promise.all(
          antiSpoof.map(async (model) => {
            const outputs = await registry.session(model.id).run({
              [model.input.name]: { data: antiSpoofInput(raster, face, model), dims: model.input.shape },
            });
            return attackProbability(outputs[model.outputs[0]!.name]!.data, model);
          }),
        );
        return ensembleAttackProbability(probabilities);
      }),
  };
}
