import { createHash } from 'node:crypto';
import { ServiceError } from '../errors.js';
import type { Detection } from '../face/detector.js';
import { boxHeight } from '../face/geometry.js';
import type { FacePipeline, FaceUse, LocatedFace } from '../face/pipeline.js';
import { type ArchiveLimits, readFrameArchive } from '../media/archive.js';
import { looksLikeJsonObject, readCaptureObject } from '../media/capture.js';
import { type DecodeLimits, imageMimeTypes, openImage, sniffImageFormat } from '../media/image.js';
import { type FaceImage, rasterImage } from '../media/raster.js';
import { spreadPositions } from '../media/sequence.js';
import { decodeVideo, type VideoInfo, type VideoLimits } from '../media/video.js';
import { ignoreStages, type StageObserver, timed, timedSync } from '../observability/stages.js';
import { median } from '../statistics.js';
import { bestShotIndex, faceSharpness, frontality, type ShotQuality } from './quality.js';
import {
  combinedScore,
  type DecidedBy,
  faceChange,
  faceRegionPatch,
  IDENTITY_FACES_PER_FRAME,
  IDENTITY_FRAMES,
  IDENTITY_MIN_FACE_HEIGHT,
  type IdentityRule,
  sameIdentity,
  STILL_FACE_CHANGE,
  type TemporalEvidence,
} from './temporal.js';

export interface MediaLimits {
  decode: DecodeLimits;
  video: VideoLimits;
  archive: Omit<ArchiveLimits, 'maxFrames'>;
  /** Frames scored per archive or capture object (videos sample `video.maxFrames`). */
  maxFrames: number;
  minFaceHeight: number;
  /** Faces at least this share of the largest face's height are people of the frame, not bystanders (FACE_COMPARABLE_RATIO). */
  comparableRatio: number;
}

export interface LivenessMediaDeps {
  pipeline: FacePipeline;
  observe?: StageObserver;
  limits: MediaLimits;
  ffmpegPath: string;
  /** The matcher's calibration and thresholds, by which frames of a media are one person or not. */
  identity: IdentityRule;
}

export type MediaKind = 'image' | 'video' | 'archive' | 'capture';

export interface MediaInfo {
  kind: MediaKind;
  mimeType: string;
  size: number;
  md5: string;
  width?: number;
  height?: number;
  video?: Pick<VideoInfo, 'durationSeconds' | 'fps'>;
  frameCount?: number;
}

export type MediaOutcome =
  | {
      ok: true;
      /** What the media reports: the frames' score unless other evidence decided (see temporal.ts combinedScore). */
      confidenceSpoofing: number;
      /** The anti-spoof models' median over the frames with a face. */
      framesConfidenceSpoofing: number;
      decidedBy: DecidedBy;
      /** Media of more than one frame (or a capture object with a best_frame apart). */
      temporal: TemporalEvidence | undefined;
      framesScored: number;
      bestShot: FaceImage;
    }
  | { ok: false; detail: string };

export interface MediaAnalysis {
  info: MediaInfo;
  /** The capture plugin reported a virtual camera: never a success, whatever the frames show. */
  fromVirtualCamera: boolean;
  outcome: MediaOutcome;
}

/** What a media part is, by its bytes: declared Content-Types of liveness parts are too unreliable to go by. */
export function sniffMediaKind(bytes: Uint8Array): MediaKind {
  if (sniffImageFormat(bytes)) return 'image';
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 0x03 || bytes[2] === 0x05)) return 'archive';
  if (looksLikeJsonObject(bytes)) return 'capture';
  return 'video';
}

const videoMimeTypes: Record<VideoInfo['container'], string> = { 'mp4/mov': 'video/mp4', 'matroska/webm': 'video/webm', avi: 'video/x-msvideo' };

/**
 * The frames of a media. Frames of archives and capture objects are decoded when loaded and dropped after use, so
 * that a media holds one decoded frame at a time, not all of them (a video's sampled frames come from ffmpeg at once,
 * already scaled to the frame pixel limit).
 */
interface FrameSource {
  count: number;
  load(index: number): Promise<FaceImage>;
  /** A capture object's best_frame, sent besides its frame_list. */
  loadBestFrame: (() => Promise<FaceImage>) | undefined;
  info: Partial<MediaInfo>;
  fromVirtualCamera: boolean;
}

/** A frame in which a face was found, with what the rest of the analysis needs of it (its pixels are not kept). */
interface FaceFrame {
  index: number;
  face: Omit<LocatedFace, 'view'>;
  confidenceSpoofing: number;
  quality: ShotQuality;
  /** The face region at the media's first face, for the still check. */
  regionPatch: Float32Array;
}

export function createMediaAnalyser(deps: LivenessMediaDeps) {
  const { pipeline, limits } = deps;
  const observe = deps.observe ?? ignoreStages;
  const decode = (bytes: Uint8Array, decodeLimits = limits.decode): Promise<FaceImage> => openImage(bytes, decodeLimits, observe);
  // Frames of a sequence are held to the pixel limit of video frames, as a video's are.
  const frameDecodeLimits: DecodeLimits = { ...limits.decode, maxDecodedPixels: Math.min(limits.decode.maxDecodedPixels, limits.video.maxFramePixels) };
  /** Only the largest face is scored: faces smaller than the largest found need no further search. */
  const largestMatters = (found: readonly Detection[]): number => Math.max(limits.minFaceHeight, ...found.map((face) => boxHeight(face.box)));

  /** The usable faces of a frame, largest first. */
  const detectFaces = async (frame: FaceImage): Promise<Detection[]> =>
    (await pipeline.detect(frame, largestMatters)).filter((face) => boxHeight(face.box) >= limits.minFaceHeight);

  /** The largest usable face of a frame, located for `uses`; undefined when the frame shows none. */
  async function findFace(frame: FaceImage, uses: readonly FaceUse[]): Promise<LocatedFace | undefined> {
    const [largest] = await detectFaces(frame);
    return largest ? pipeline.locate(frame, largest, uses) : undefined;
  }

  /**
   * The embeddings of a frame's people: its largest face (already located) and the other faces of comparable size,
   * each tall enough to be told apart. A frame may show two people; either may be the best shot's person.
   */
  async function embedPeople(frame: FaceImage, largest: LocatedFace, others: readonly Detection[]): Promise<Float32Array[]> {
    const tallEnough = (face: Detection): boolean => boxHeight(face.box) >= IDENTITY_MIN_FACE_HEIGHT;
    const comparable = others.filter((face) => tallEnough(face) && boxHeight(face.box) >= limits.comparableRatio * boxHeight(largest.detection.box));
    const faces = [
      ...(tallEnough(largest.detection) ? [largest] : []),
      ...(await Promise.all(comparable.slice(0, IDENTITY_FACES_PER_FRAME - 1).map((face) => pipeline.locate(frame, face, ['embed'])))),
    ];
    return Promise.all(faces.map((face) => pipeline.embed(frame, face)));
  }

  async function scoreFace(frame: FaceImage, face: LocatedFace): Promise<{ confidenceSpoofing: number; quality: ShotQuality }> {
    return {
      confidenceSpoofing: await pipeline.attackProbability(frame, face),
      quality: { sharpness: faceSharpness(face.view, face.faceBox), frontality: frontality(face.fivePoints), faceHeight: boxHeight(face.detection.box) },
    };
  }

  async function openFrames(kind: MediaKind, bytes: Uint8Array, cancel: AbortSignal | undefined): Promise<FrameSource> {
    switch (kind) {
      case 'image': {
        const image = await openImage(bytes, limits.decode, observe);
        const info = { mimeType: imageMimeTypes[image.format], width: image.width, height: image.height };
        return { count: 1, load: async () => image, loadBestFrame: undefined, info, fromVirtualCamera: false };
      }
      case 'video': {
        const video = await timed(observe, 'video_decode', () => decodeVideo(bytes, limits.video, deps.ffmpegPath, cancel));
        const { durationSeconds, fps, width, height, container } = video.info;
        return {
          count: video.frames.length,
          load: async (index) => rasterImage(video.frames[index]!.raster),
          loadBestFrame: undefined,
          info: { mimeType: videoMimeTypes[container], width, height, video: { durationSeconds, fps }, frameCount: video.frames.length },
          fromVirtualCamera: false,
        };
      }
      case 'archive': {
        const frames = readFrameArchive(bytes, { ...limits.archive, maxFrames: limits.maxFrames });
        return {
          count: frames.length,
          load: (index) => decode(frames[index]!.read(), frameDecodeLimits),
          loadBestFrame: undefined,
          info: { mimeType: 'application/zip', frameCount: frames.length },
          fromVirtualCamera: false,
        };
      }
      case 'capture': {
        const capture = readCaptureObject(bytes, { maxFrames: limits.maxFrames });
        const { bestFrame } = capture;
        return {
          count: capture.frames.length,
          load: (index) => decode(capture.frames[index]!.bytes, frameDecodeLimits),
          loadBestFrame: bestFrame && (() => decode(bestFrame.bytes, frameDecodeLimits)),
          info: { mimeType: 'application/json', frameCount: capture.frames.length },
          fromVirtualCamera: capture.fromVirtualCamera,
        };
      }
    }
  }

  /**
   * Identity over the media: the best shot's face against the people of the frames embedded during the frame loop
   * (spread over the media) and against the capture's best_frame. A frame shows the best shot's person when any of
   * its people does. Faces too small to tell people apart take no part.
   */
  async function compareIdentities(
    source: FrameSource,
    faces: readonly FaceFrame[],
    embedded: ReadonlyMap<number, Promise<Float32Array[]>>,
    best: number,
    bestShot: FaceImage,
  ): Promise<Pick<TemporalEvidence, 'framesCompared' | 'identityScore' | 'samePerson' | 'bestFrameSamePerson'>> {
    const bestFace = faces[best]!.face;
    const unknown = { framesCompared: 0, identityScore: null, samePerson: true };
    if (boxHeight(bestFace.detection.box) < IDENTITY_MIN_FACE_HEIGHT) return unknown;
    const embedBest = async (): Promise<Float32Array> => pipeline.embed(bestShot, await pipeline.locate(bestShot, bestFace.detection, ['embed']));
    const reference = (await embedded.get(best))?.[0] ?? (await embedBest());
    const framePeople = (await Promise.all([...embedded].filter(([position]) => position !== best).map(([, people]) => people))).filter((people) => people.length > 0);
    const comparisons = framePeople.map((people) => {
      const scored = people.map((embedding) => sameIdentity(reference, embedding, deps.identity));
      return scored.reduce((a, b) => (b.score > a.score ? b : a));
    });
    let bestFrameSamePerson: boolean | undefined;
    if (source.loadBestFrame) {
      const frame = await source.loadBestFrame();
      const face = await findFace(frame, ['embed']);
      const comparison = face && sameIdentity(reference, await pipeline.embed(frame, face), deps.identity);
      bestFrameSamePerson = comparison?.same ?? false;
      if (comparison) comparisons.push(comparison);
    }
    return {
      framesCompared: framePeople.length,
      identityScore: comparisons.length > 0 ? Math.min(...comparisons.map((c) => c.score)) : null,
      samePerson: comparisons.slice(0, framePeople.length).every((c) => c.same),
      ...(bestFrameSamePerson !== undefined && { bestFrameSamePerson }),
    };
  }

  /**
   * Scores every frame that shows a face, then the evidence over time; the media's outcome. The people compared for
   * identity are embedded as the loop reaches them (the first face at or after each of IDENTITY_FRAMES positions
   * spread over the media), so that the embedder runs beside the loop's own model runs rather than after them.
   */
  async function analyseFrames(source: FrameSource, cancel: AbortSignal | undefined): Promise<MediaOutcome> {
    const overTime = source.count > 1 || source.loadBestFrame !== undefined;
    const targets = overTime ? spreadPositions(source.count, IDENTITY_FRAMES) : [];
    const faces: FaceFrame[] = [];
    const embedded = new Map<number, Promise<Float32Array[]>>();
    for (let index = 0; index < source.count; index++) {
      cancel?.throwIfAborted();
      const frame = await source.load(index);
      const [largest, ...others] = await detectFaces(frame);
      if (!largest) continue;
      const identityFrame = targets.length > 0 && index >= targets[0]!;
      const face = await pipeline.locate(frame, largest, identityFrame ? ['antiSpoof', 'embed'] : ['antiSpoof']);
      const reference = faces[0]?.face.fivePoints ?? face.fivePoints;
      const regionPatch = timedSync(observe, 'temporal', () => faceRegionPatch(face.view, reference));
      if (identityFrame) {
        const people = embedPeople(frame, face, others);
        // Awaited after the loop; until then a failure must not count as unhandled.
        people.catch(() => undefined);
        embedded.set(faces.length, people);
        while (targets.length > 0 && index >= targets[0]!) targets.shift();
      }
      const { view: _pixels, ...kept } = face;
      faces.push({ index, face: kept, ...(await scoreFace(frame, face)), regionPatch });
    }
    if (faces.length === 0) {
      return { ok: false, detail: `no face found in ${source.count > 1 ? `any of the ${source.count} frames` : 'the image'}` };
    }
    const best = bestShotIndex(faces.map((f) => f.quality));
    const bestShot = await source.load(faces[best]!.index);
    let temporal: TemporalEvidence | undefined;
    if (overTime) {
      const change = timedSync(observe, 'temporal', () => faceChange(faces.map((f) => f.regionPatch)));
      temporal = {
        framesWithFace: faces.length,
        faceChange: change ?? null,
        still: change !== undefined && change <= STILL_FACE_CHANGE,
        ...(await compareIdentities(source, faces, embedded, best, bestShot)),
      };
    }
    // The median: a per-media score robust to a few frames spoilt by blur or a detection slip.
    const framesConfidenceSpoofing = median(faces.map((f) => f.confidenceSpoofing));
    return {
      ok: true,
      ...combinedScore(framesConfidenceSpoofing, temporal, source.fromVirtualCamera),
      framesConfidenceSpoofing,
      temporal,
      framesScored: faces.length,
      bestShot,
    };
  }

  /**
   * Decodes a media part, scores every frame that shows a face and aggregates them with the evidence over time. A
   * media that cannot be decoded or shows no face is an outcome, not an exception: it fails its analyses, not the
   * request.
   */
  async function analyse(bytes: Uint8Array, cancel?: AbortSignal): Promise<MediaAnalysis> {
    const kind = sniffMediaKind(bytes);
    const info: MediaInfo = { kind, mimeType: 'application/octet-stream', size: bytes.length, md5: createHash('md5').update(bytes).digest('hex') };
    let fromVirtualCamera = false;
    try {
      const source = await openFrames(kind, bytes, cancel);
      Object.assign(info, source.info);
      fromVirtualCamera = source.fromVirtualCamera;
      return { info, fromVirtualCamera, outcome: await analyseFrames(source, cancel) };
    } catch (error) {
      if (error instanceof ServiceError && error.kind === 'sample-unreadable') {
        return { info, fromVirtualCamera, outcome: { ok: false, detail: error.detail ?? 'the media cannot be read' } };
      }
      throw error;
    }
  }

  return {
    /** Single-image mode: the image's largest face, scored; undefined when it shows none. */
    async scoreImage(bytes: Uint8Array): Promise<{ confidenceSpoofing: number } | undefined> {
      const image = await decode(bytes);
      const face = await findFace(image, ['antiSpoof']);
      return face && { confidenceSpoofing: (await scoreFace(image, face)).confidenceSpoofing };
    },
    analyse,
  };
}

export type MediaAnalyser = ReturnType<typeof createMediaAnalyser>;
