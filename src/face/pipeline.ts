import { ensembleAttackProbability } from './antispoof.js';
import { clipToImage, type FaceImage, type ImageView, type Rect, wholeImage } from '../media/raster.js';
import { ignoreStages, type Stage, type StageObserver, timed } from '../observability/stages.js';
import { type Detection, inputScale, nonMaxSuppression, paddedRegion, placeRegion, sameFace, tileGrid, toImageDetection, verificationRegion } from './detector.js';
import { l2Normalise } from './embedder.js';
import { type Box, boxHeight, iou, type Point } from './geometry.js';
import { squareFaceBox } from './landmarks.js';
import type { FaceModels, ModelOutputs, ModelRunner, RoleModel } from './roles.js';
import { type Border, sampleView } from './sampling.js';

export interface LocatedFace {
  detection: Detection;
  /** Square box the landmark and (most) anti-spoof crops are made from. */
  faceBox: Box;
  /** Eyes, nose tip, mouth corners, in the order of the embedder's alignment template. */
  fivePoints: Point[];
  /** Pixels around the face at the resolution the steps it was located for need. */
  view: ImageView;
}

/** What a located face will be used for; its view covers what those steps read, at the resolution they need. */
export type FaceUse = 'embed' | 'antiSpoof';

/**
 * The smallest face height, in image pixels, that could change what the caller makes of the faces found so far;
 * the detector searches further (tiles) only where faces that small could have been missed.
 */
export type RelevantHeight = (found: readonly Detection[]) => number;

export interface FacePipeline {
  /**
   * Every face found and confirmed that could matter to the caller (`relevantHeight`), largest first, in
   * full-resolution image coordinates; confident faces are returned whatever their size.
   */
  detect(image: FaceImage, relevantHeight: RelevantHeight): Promise<Detection[]>;
  locate(image: FaceImage, detection: Detection, uses: readonly FaceUse[]): Promise<LocatedFace>;
  /** The face's L2-normalised embedding. */
  embed(image: FaceImage, face: LocatedFace): Promise<Float32Array>;
  /** Probability that the face is a presentation attack: the mean over the anti-spoof models of the manifest. */
  attackProbability(image: FaceImage, face: LocatedFace): Promise<number>;
}

/**
 * Each pass samples from a view at least this many times denser than the detector's input, so that shrinking it to
 * the input averages pixels rather than skipping them; crops for the other models likewise.
 */
const VIEW_DENSITY = 2;
/**
 * Tiles look for faces the whole-image pass may miss, those under its reliable height; a tile's candidate more than
 * this many times taller is one the whole pass would have found were it a face (measured: false boxes on coins and
 * on a group photo's clothes, 2.5 to 10 times that height).
 */
const TILE_FACE_LIMIT = 2;
/** Bounds the passes a search for small faces may cost: past it, the finest grid of this many tiles is searched. */
const MAX_TILES = 6;
/** Bounds the extra detector runs a crowd of low-confidence candidates can cost; the rest are dropped. */
const MAX_VERIFICATIONS = 8;
/** Mid-grey, the neutral value outside the image on padded and verification canvases. */
const CANVAS_GREY: Border = { fill: 127 };
/** The region a face is first read at: its square box enlarged this much holds the aligned face whatever its pose. */
const ALIGNMENT_CONTEXT = 2;

const union = (rects: readonly Rect[]): Rect => {
  const x1 = Math.min(...rects.map((r) => r.x));
  const y1 = Math.min(...rects.map((r) => r.y));
  const x2 = Math.max(...rects.map((r) => r.x + r.width));
  const y2 = Math.max(...rects.map((r) => r.y + r.height));
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
};

const covers = (view: ImageView, rect: Rect): boolean =>
  rect.x >= view.region.x && rect.y >= view.region.y && rect.x + rect.width <= view.region.x + view.region.width && rect.y + rect.height <= view.region.y + view.region.height;

const enlarged = (box: Box, factor: number): Rect => {
  const width = (box.x2 - box.x1) * factor;
  const height = (box.y2 - box.y1) * factor;
  return { x: (box.x1 + box.x2 - width) / 2, y: (box.y1 + box.y2 - height) / 2, width, height };
};

export interface FacePipelineOptions {
  /** Embed the aligned face and its mirror image and average the two (test-time augmentation): twice the embedder's cost. */
  mirroredEmbedding: boolean;
}

/** The face pipeline over the model of each role; `runner` runs them by id (the loaded registry, or a fake of it). */
export function createFacePipeline(
  { detector, landmarker, embedder, antiSpoof }: FaceModels,
  runner: ModelRunner,
  options: FacePipelineOptions,
  observe: StageObserver = ignoreStages,
): FacePipeline {
  const timedStage = <T>(stage: Stage, work: () => Promise<T>): Promise<T> => timed(observe, stage, work);

  const run = async (model: RoleModel, input: Float32Array): Promise<ModelOutputs> => {
    const outputs = await runner.session(model.id).run({ [model.input.name]: { data: input, dims: model.input.shape } });
    return Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, tensor.data]));
  };

  const [, , inputHeight, inputWidth] = detector.input.shape as [number, number, number, number];
  const { fit, params } = detector;
  const embedderHeight = embedder.input.shape[2]!;

  /** The view a pass over `region` samples from: the image at VIEW_DENSITY times the input's density, at most whole. */
  const viewFor = (image: FaceImage, region: Rect, area?: Rect): Promise<ImageView> =>
    image.view(Math.min(1, VIEW_DENSITY * inputScale(region, inputWidth, inputHeight, fit)), area);

  /** Faces at least this tall (image pixels) are found by one pass over `region` (measured: tools/detector-recall.ts). */
  const reliableHeight = (region: Rect): number => params.reliableFaceHeight / placeRegion(region, inputWidth, inputHeight, fit).scaleY;

  const detectIn = (view: ImageView, region: Rect, border: Border, threshold = params.scoreThreshold): Promise<Detection[]> =>
    timedStage('detector_pass', async () => {
      const placement = placeRegion(region, inputWidth, inputHeight, fit);
      const outputs = await run(detector, sampleView(view, placement.mapping, detector.input, border));
      return detector.decode(outputs, threshold).map((candidate) => toImageDetection(candidate, placement));
    });

  /** A weak candidate is a face when the detector finds it again in every verification window around it. */
  async function confirmed(image: FaceImage, candidate: Detection): Promise<boolean> {
    for (const context of params.verificationContexts) {
      const window = verificationRegion(candidate.box, context, inputWidth / inputHeight);
      const area = clipToImage(window, image.width, image.height);
      if (!area) return false;
      const again = await detectIn(await viewFor(image, window, area), window, CANVAS_GREY, params.verificationScore);
      if (!again.some((d) => iou(d.box, candidate.box) > params.nmsIouThreshold)) return false;
    }
    return true;
  }

  /**
   * The whole image in one pass, which finds every face down to a measured height; tiles only where a face smaller
   * than that could exist and matter to the caller; a padded canvas when nothing confident was found (faces that fill
   * the photo). Confident candidates are faces; weaker ones must be found again in a window around them, which
   * removes the false boxes this kind of detector raises on animals and textures.
   */
  async function findFaces(image: FaceImage, relevantHeight: RelevantHeight): Promise<Detection[]> {
    const whole = wholeImage(image);
    const faces: Detection[] = [];
    const candidates: Detection[] = [];
    let verifications = 0;
    /**
     * New candidates of a pass, less the faces already found; confident ones are faces, weak ones are checked, tallest
     * first, but only while they could still matter to the caller: one shorter than the relevant height of the faces
     * found so far changes nothing the caller makes of them, and its check would cost two more passes.
     */
    const merge = async (found: Detection[]): Promise<void> => {
      const fresh = nonMaxSuppression(found, params.nmsIouThreshold).filter((c) => !faces.some((f) => sameFace(f.box, c.box, params.nmsIouThreshold)));
      candidates.push(...fresh);
      for (const candidate of fresh.sort((a, b) => boxHeight(b.box) - boxHeight(a.box))) {
        if (candidate.score >= params.confidentScore) faces.push(candidate);
        else if (boxHeight(candidate.box) < relevantHeight(faces)) continue;
        else if (verifications++ < MAX_VERIFICATIONS && (await confirmed(image, candidate))) faces.push(candidate);
      }
    };

    const overview = await viewFor(image, whole);
    await merge(await detectIn(overview, whole, 'replicate'));
    const wholeReliable = reliableHeight(whole);
    const wanted = relevantHeight(faces);
    if (wanted < wholeReliable) {
      const grid = tileGrid(image, { inputWidth, inputHeight, fit: fit, reliableFaceHeight: params.reliableFaceHeight }, wanted, wholeReliable, MAX_TILES);
      if (grid) {
        const tileView = await viewFor(image, grid.regions[0]!);
        const found = (await Promise.all(grid.regions.map((region) => detectIn(tileView, region, 'replicate')))).flat();
        await merge(found.filter((candidate) => boxHeight(candidate.box) <= TILE_FACE_LIMIT * wholeReliable));
      }
    }
    if (!candidates.some((d) => d.score >= params.confidentScore)) {
      await merge(await detectIn(overview, paddedRegion(image, params.paddingMargin), CANVAS_GREY));
    }
    return faces.sort((a, b) => boxHeight(b.box) - boxHeight(a.box));
  }

  /** The region and scale a face's later steps read, so that one decode serves them all. */
  function faceArea(image: FaceImage, detection: Detection, faceBox: Box, uses: readonly FaceUse[]): { area: Rect; scale: number } {
    const needs: { rect: Rect; scale: number }[] = [];
    if (landmarker) {
      const crop = landmarker.crop(faceBox, image.width, image.height);
      needs.push({ rect: crop, scale: (VIEW_DENSITY * landmarker.input.shape[2]!) / crop.height });
    }
    if (uses.includes('embed')) {
      needs.push({ rect: enlarged(faceBox, ALIGNMENT_CONTEXT), scale: (VIEW_DENSITY * embedderHeight) / boxHeight(faceBox) });
    }
    if (uses.includes('antiSpoof')) {
      for (const model of antiSpoof) {
        const { crop } = model.crop({ detection, faceBox }, image.width, image.height);
        needs.push({ rect: crop, scale: (VIEW_DENSITY * model.input.shape[2]!) / crop.height });
      }
    }
    if (needs.length === 0) needs.push({ rect: enlarged(faceBox, 1), scale: 1 });
    const area = clipToImage(union(needs.map((n) => n.rect)), image.width, image.height) ?? wholeImage(image);
    return { area, scale: Math.min(1, Math.max(...needs.map((n) => n.scale))) };
  }

  /** The face's view when it holds `rect` (clipped to the image), else a new view of it at the face view's scale. */
  async function viewHolding(image: FaceImage, face: LocatedFace, rect: Rect): Promise<ImageView> {
    const area = clipToImage(rect, image.width, image.height);
    if (!area || covers(face.view, area)) return face.view;
    return image.view(face.view.scale, area);
  }

  /** Five points from the 68-point landmarker when the manifest has one, else the detector's own. */
  async function fivePoints(view: ImageView, image: FaceImage, detection: Detection, faceBox: Box): Promise<Point[]> {
    if (!landmarker) {
      if (!detection.keypoints) throw new Error(`detector ${detector.id} gave no landmarks and no landmarker is configured`);
      return detection.keypoints;
    }
    const crop = landmarker.crop(faceBox, image.width, image.height);
    return landmarker.fivePoints(await run(landmarker, landmarker.tensor(view, crop)), crop);
  }

  return {
    detect: (image, relevantHeight) => timedStage('detect', () => findFaces(image, relevantHeight)),

    locate: (image, detection, uses) =>
      timedStage('landmarks', async () => {
        const faceBox = squareFaceBox(detection.box, image.width, image.height);
        const { area, scale } = faceArea(image, detection, faceBox, uses);
        const view = await image.view(scale, area);
        return { detection, faceBox, view, fivePoints: await fivePoints(view, image, detection, faceBox) };
      }),

    embed: (image, face) =>
      timedStage('embed', async () => {
        const transform = embedder.alignment(face.fivePoints);
        const view = await viewHolding(image, face, embedder.footprint(transform));
        const embedding = async (mirrored: boolean): Promise<Float32Array> =>
          l2Normalise(embedder.embedding(await run(embedder, embedder.tensor(view, transform, mirrored))));
        if (!options.mirroredEmbedding) return embedding(false);
        const [straight, mirror] = await Promise.all([embedding(false), embedding(true)]);
        return l2Normalise(straight.map((value, i) => value + mirror[i]!));
      }),

    attackProbability: (image, face) =>
      timedStage('liveness', async () => {
        const probabilities = await Promise.all(
          antiSpoof.map(async (model) => {
            const region = model.crop(face, image.width, image.height);
            const view = await viewHolding(image, face, region.crop);
            return model.attackProbability(await run(model, model.tensor(view, region)));
          }),
        );
        return ensembleAttackProbability(probabilities);
      }),
  };
}
