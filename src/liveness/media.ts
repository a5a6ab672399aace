import { createHash } from 'node:crypto';
import { ServiceError } from '../errors.js';
import type { Detection } from '../face/detector.js';
import { boxHeight } from '../face/geometry.js';
import type { FacePipeline } from '../face/pipeline.js';
import { type ArchiveLimits, readFrameArchive } from '../media/archive.js';
import { looksLikeJsonObject, readCaptureObject } from '../media/capture.js';
import { type DecodeLimits, imageMimeTypes, openImage, sniffImageFormat } from '../media/image.js';
import { type FaceImage, rasterImage } from '../media/raster.js';
import { decodeVideo, type VideoInfo, type VideoLimits } from '../media/video.js';
import { ignoreStages, type StageObserver, timed } from '../observability/stages.js';
import { bestShotIndex, faceSharpness, frontality, type ShotQuality } from './quality.js';

export interface MediaLimits {
  decode: DecodeLimits;
  video: VideoLimits;
  archive: Omit<ArchiveLimits, 'maxFrames'>;
  /** Frames scored per archive or capture object (videos sample `video.maxFrames`). */
  maxFrames: number;
  minFaceHeight: number;
}

export interface LivenessMediaDeps {
  pipeline: FacePipeline;
  observe?: StageObserver;
  limits: MediaLimits;
  ffmpegPath: string;
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

export interface FrameScore {
  confidenceSpoofing: number;
  quality: ShotQuality;
  frame: FaceImage;
}

export type MediaOutcome =
  | { ok: true; confidenceSpoofing: number; framesScored: number; bestShot: FaceImage }
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

/** The median: per-media scores are robust to a few frames spoilt by blur or a detection slip. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function createMediaAnalyser(deps: LivenessMediaDeps) {
  const { pipeline, limits } = deps;
  const observe = deps.observe ?? ignoreStages;
  const decode = (bytes: Uint8Array): ReturnType<typeof openImage> => openImage(bytes, limits.decode, observe);
  /** Only the largest face is scored: smaller faces than the largest found need no further search. */
  const largestMatters = (found: readonly Detection[]): number => Math.max(limits.minFaceHeight, ...found.map((face) => boxHeight(face.box)));

  /** The largest usable face of a frame, scored; undefined when the frame shows none. */
  async function scoreFrame(frame: FaceImage): Promise<FrameScore | undefined> {
    const faces = (await pipeline.detect(frame, largestMatters)).filter((face: Detection) => boxHeight(face.box) >= limits.minFaceHeight);
    const largest = faces[0];
    if (!largest) return undefined;
    const face = await pipeline.locate(frame, largest, ['antiSpoof']);
    return {
      confidenceSpoofing: await pipeline.attackProbability(frame, face),
      quality: { sharpness: faceSharpness(face.view, face.faceBox), frontality: frontality(face.fivePoints), faceHeight: boxHeight(largest.box) },
      frame,
    };
  }

  async function decodeFrames(kind: MediaKind, bytes: Uint8Array, cancel: AbortSignal | undefined): Promise<{ frames: FaceImage[]; info: Partial<MediaInfo>; fromVirtualCamera: boolean }> {
    switch (kind) {
      case 'image': {
        const image = await decode(bytes);
        return { frames: [image], info: { mimeType: imageMimeTypes[image.format], width: image.width, height: image.height }, fromVirtualCamera: false };
      }
      case 'video': {
        const video = await timed(observe, 'video_decode', () => decodeVideo(bytes, limits.video, deps.ffmpegPath, cancel));
        const { durationSeconds, fps, width, height, container } = video.info;
        return {
          frames: video.frames.map((f) => rasterImage(f.raster)),
          info: { mimeType: videoMimeTypes[container], width, height, video: { durationSeconds, fps }, frameCount: video.frames.length },
          fromVirtualCamera: false,
        };
      }
      case 'archive': {
        const entries = readFrameArchive(bytes, { ...limits.archive, maxFrames: limits.maxFrames });
        const frames = await Promise.all(entries.map((e) => decode(e.bytes)));
        return { frames, info: { mimeType: 'application/zip', frameCount: frames.length }, fromVirtualCamera: false };
      }
      case 'capture': {
        const capture = readCaptureObject(bytes, { maxFrames: limits.maxFrames });
        const frames = await Promise.all(capture.frames.map((f) => decode(f.bytes)));
        return { frames, info: { mimeType: 'application/json', frameCount: frames.length }, fromVirtualCamera: capture.fromVirtualCamera };
      }
    }
  }

  /**
   * Decodes a media part, scores every frame that shows a face and aggregates them. A media that cannot be decoded
   * or shows no face is an outcome, not an exception: it fails its analyses, not the request.
   */
  async function analyse(bytes: Uint8Array, cancel?: AbortSignal): Promise<MediaAnalysis> {
    const kind = sniffMediaKind(bytes);
    const info: MediaInfo = { kind, mimeType: 'application/octet-stream', size: bytes.length, md5: createHash('md5').update(bytes).digest('hex') };
    const unreadable = (error: unknown): MediaAnalysis => {
      if (error instanceof ServiceError && error.kind === 'sample-unreadable') {
        return { info, fromVirtualCamera: false, outcome: { ok: false, detail: error.detail ?? 'the media cannot be read' } };
      }
      throw error;
    };
    let decoded: Awaited<ReturnType<typeof decodeFrames>>;
    try {
      decoded = await decodeFrames(kind, bytes, cancel);
    } catch (error) {
      return unreadable(error);
    }
    Object.assign(info, decoded.info);
    const scored: FrameScore[] = [];
    // Images are decoded as each step reads them: a frame whose pixels turn out unreadable fails the media too.
    try {
      for (const frame of decoded.frames) {
        if (cancel?.aborted) throw new ServiceError('client-closed');
        const score = await scoreFrame(frame);
        if (score) scored.push(score);
      }
    } catch (error) {
      return unreadable(error);
    }
    if (scored.length === 0) {
      const where = decoded.frames.length > 1 ? `any of the ${decoded.frames.length} frames` : 'the image';
      return { info, fromVirtualCamera: decoded.fromVirtualCamera, outcome: { ok: false, detail: `no face found in ${where}` } };
    }
    return {
      info,
      fromVirtualCamera: decoded.fromVirtualCamera,
      outcome: {
        ok: true,
        confidenceSpoofing: median(scored.map((s) => s.confidenceSpoofing)),
        framesScored: scored.length,
        bestShot: scored[bestShotIndex(scored.map((s) => s.quality))]!.frame,
      },
    };
  }

  return {
    /** Single-image mode: the image's largest face, scored. */
    scoreImage: async (bytes: Uint8Array) => scoreFrame(await decode(bytes)),
    analyse,
  };
}

export type MediaAnalyser = ReturnType<typeof createMediaAnalyser>;
