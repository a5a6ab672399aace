/**
 * The folder object a liveness folder request answers with, in the shape of the published examples. Nothing is
 * stored: ids are temporary, fields about storage, operators and companies are null.
 */
import { randomUUID } from 'node:crypto';
import { clientName, errorResponse, ServiceError } from '../errors.js';
import { type AnalysisResult, type BestShot, type FolderResult, roundScore, systemResolution } from '../liveness/folder.js';
import type { MediaAnalysis } from '../liveness/media.js';
import type { AnalysisRequest, FolderRequest } from './liveness-payload.js';

/** A media part of the request: its key (the part name) and filename. */
export interface MediaName {
  key: string;
  filename: string | undefined;
}

/** A best shot as the answer carries it. */
interface ShotImage extends BestShot {
  imageB64: string;
}

interface FolderContext {
  folderId: string;
  timeCreated: number;
  timeUpdated: number;
  request: FolderRequest;
  /** The media of the request, in its order, with the ids the answer gives them. */
  media: (MediaName & { id: string; analysis: MediaAnalysis })[];
  analyses: { request: AnalysisRequest; id: string; result: AnalysisResult; shots: ShotImage[] }[];
}

export interface FolderAnswer {
  /** When the request came in and when its answer was ready, in seconds since the epoch. */
  timeCreated: number;
  timeUpdated: number;
  request: FolderRequest;
  media: readonly MediaName[];
  result: FolderResult;
  /** The largest answer: the best shots it would repeat, once per analysis that asks for them, must fit in it. */
  maxBytes: number;
}

/**
 * A media's `results_data`: the published `confidence_spoofing`, and (beyond the published API) what decided it
 * and the evidence over time of media with more than one frame. Documented in the README and the OpenAPI.
 */
export function resultsData(media: MediaAnalysis): Record<string, unknown> | null {
  const { outcome } = media;
  if (!outcome.ok) return null;
  const { temporal } = outcome;
  return {
    confidence_spoofing: roundScore(outcome.confidenceSpoofing),
    ...(media.fromVirtualCamera && { from_virtual_camera: true }),
    decided_by: outcome.decidedBy,
    frames_confidence_spoofing: roundScore(outcome.framesConfidenceSpoofing),
    ...(temporal && {
      temporal: {
        frames_with_face: temporal.framesWithFace,
        face_change: temporal.faceChange === null ? null : roundScore(temporal.faceChange),
        still: temporal.still,
        frames_compared: temporal.framesCompared,
        identity_score: temporal.identityScore === null ? null : roundScore(temporal.identityScore),
        same_person: temporal.samePerson,
        ...(temporal.bestFrameSamePerson !== undefined && { best_frame_same_person: temporal.bestFrameSamePerson }),
      },
    }),
  };
}

function mediaObject(context: FolderContext, item: FolderContext['media'][number]): Record<string, unknown> {
  const { info } = item.analysis;
  const isVideo = info.kind === 'video';
  const details = {
    ...(info.video ? { duration: info.video.durationSeconds, FPS: info.video.fps } : {}),
    ...(info.width !== undefined ? { width: info.width, height: info.height } : {}),
    ...(info.frameCount !== undefined && !isVideo ? { frames: info.frameCount } : {}),
    md5: info.md5,
    size: info.size,
    'mime-type': info.mimeType,
  };
  const mediaType = info.kind === 'image' ? 'IMAGE_FOLDER' : isVideo ? 'VIDEO_FOLDER' : 'SHOTS_SET';
  const infoKey = info.kind === 'image' ? 'original' : isVideo ? 'video' : 'shots_set';
  const idKey = info.kind === 'image' ? 'image' : isVideo ? 'video' : 'shots_set';
  return {
    folder_id: context.folderId,
    media_id: item.id,
    media_type: mediaType,
    info: { thumb: null, [infoKey]: details },
    tags: context.request.mediaTags[item.key] ?? [],
    original_name: item.filename ?? item.key,
    original_url: null,
    company_id: null,
    technical_meta_data: {},
    time_created: context.timeCreated,
    time_updated: context.timeUpdated,
    meta_data: context.request.mediaMetaData[item.key] ?? {},
    thumb_url: null,
    folder_time_created: null,
    [`${idKey}_id`]: item.id,
    [`${idKey}_url`]: null,
  };
}

/** The published error of an analysis that failed with a media. */
function analysisError(context: FolderContext, failure: { item: number; detail: string } | undefined): { code: string; message: string } | undefined {
  return failure && errorResponse('liveness', 'sample-unreadable', `media "${clientName(context.media[failure.item]!.key)}": ${failure.detail}`).body;
}

function analysisObject(context: FolderContext, outcome: FolderContext['analyses'][number], sourceMedia: Record<string, unknown>[]): Record<string, unknown> {
  const error = analysisError(context, outcome.result.failure);
  const resolution = outcome.result.resolution;
  return {
    analyse_id: outcome.id,
    analysis_id: outcome.id,
    folder_id: context.folderId,
    folder_time_created: null,
    type: outcome.request.type.toUpperCase(),
    state: resolution === 'FAILED' ? 'FAILED' : 'FINISHED',
    company_id: null,
    group_id: null,
    results_data: null,
    confs: { threshold_spoofing: outcome.request.thresholdSpoofing, extract_best_shot: outcome.request.extractBestShot },
    error_message: error?.message ?? null,
    error_code: error?.code ?? null,
    resolution_operator: null,
    technical_meta_data: {},
    time_created: context.timeCreated,
    time_updated: context.timeUpdated,
    meta_data: outcome.request.metaData,
    source_media: sourceMedia,
    results_media: context.media.map((item, position) => ({
      company_id: null,
      media_association_id: item.id,
      analysis_id: outcome.id,
      results_data: resultsData(item.analysis),
      source_media_id: item.id,
      output_images: outcome.shots
        .filter((shot) => shot.item === position)
        .map((shot) => ({
          folder_id: context.folderId,
          media_id: item.id,
          media_type: 'IMAGE_RESULT_ANALYSIS_SINGLE',
          info: { thumb: null, original: { md5: shot.md5, width: shot.width, height: shot.height, size: shot.jpeg.length, 'mime-type': 'image/jpeg' } },
          tags: [],
          original_name: `best_shot_${item.key}.jpg`,
          original_url: null,
          company_id: null,
          technical_meta_data: {},
          time_created: context.timeUpdated,
          time_updated: context.timeUpdated,
          meta_data: null,
          folder_time_created: null,
          image_b64: shot.imageB64,
          media_association_id: item.id,
        })),
      collection_persons: [],
      folder_time_created: null,
    })),
    resolution_status: resolution,
    resolution: resolution,
  };
}

function folderObject(context: FolderContext): Record<string, unknown> {
  const media = context.media.map((item) => mediaObject(context, item));
  const resolutions = context.analyses.map((a) => a.result.resolution);
  const folderStatus = resolutions.length === 0 ? 'INITIAL' : resolutions.includes('FAILED') ? 'FAILED' : 'FINISHED';
  return {
    company_id: null,
    time_created: context.timeCreated,
    folder_id: context.folderId,
    user_id: null,
    resolution_endpoint: context.request.resolutionEndpoint,
    resolution_status: folderStatus,
    resolution_comment: '[]',
    system_resolution: systemResolution(resolutions),
    resolution_time: null,
    resolution_author_id: null,
    resolution_state_hash: null,
    operator_comment: null,
    operator_status: null,
    is_cleared: null,
    meta_data: context.request.folderMetaData,
    technical_meta_data: {},
    time_updated: context.timeUpdated,
    media,
    analyses: context.analyses.map((outcome) => analysisObject(context, outcome, media)),
  };
}

/**
 * The folder object answering a folder request. Each analysis that asks for best shots carries all of them: an answer
 * they would take past `maxBytes` is refused before it is built.
 */
export function folderAnswer(answer: FolderAnswer): Record<string, unknown> {
  const { request, result } = answer;
  const shots = result.bestShots.map((shot): ShotImage => ({ ...shot, imageB64: shot.jpeg.toString('base64') }));
  const shotCopies = request.analyses.filter((a) => a.extractBestShot).length;
  const shotBytes = shotCopies * shots.reduce((sum, shot) => sum + shot.imageB64.length, 0);
  if (shotBytes > answer.maxBytes) {
    throw new ServiceError('too-large', `the answer would carry ${shotBytes} bytes of best shots (${shotCopies} analyses × ${shots.length} images); at most ${answer.maxBytes}`);
  }
  return folderObject({
    folderId: randomUUID(),
    timeCreated: answer.timeCreated,
    timeUpdated: answer.timeUpdated,
    request,
    media: answer.media.map((name, item) => ({ ...name, id: randomUUID(), analysis: result.media[item]! })),
    analyses: request.analyses.map((analysisRequest, index) => ({
      request: analysisRequest,
      id: randomUUID(),
      result: result.analyses[index]!,
      shots: analysisRequest.extractBestShot ? shots : [],
    })),
  });
}
