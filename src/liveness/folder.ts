/**
 * The folder object a liveness folder request answers with, in the shape of the published examples. Nothing is
 * stored: ids are temporary, fields about storage, operators and companies are null.
 */
import type { AnalysisRequest, FolderRequest } from './payload.js';
import type { MediaAnalysis } from './media.js';

export type AnalysisResolution = 'SUCCESS' | 'DECLINED' | 'FAILED';
export type SystemResolution = 'INITIAL' | 'PROCESSING' | 'FAILED' | 'DECLINED' | 'OPERATOR_REQUIRED' | 'SUCCESS';

/** The published order, worst first: the system resolution of a request is the worst of its analyses. */
const worstFirst: readonly SystemResolution[] = ['INITIAL', 'PROCESSING', 'FAILED', 'DECLINED', 'OPERATOR_REQUIRED', 'SUCCESS'];

export function systemResolution(analyses: readonly AnalysisResolution[]): SystemResolution {
  if (analyses.length === 0) return 'INITIAL';
  return worstFirst[Math.min(...analyses.map((a) => worstFirst.indexOf(a)))]!;
}

/** A media item of the request with what the analyser found. */
export interface AnalysedMedia {
  key: string;
  id: string;
  filename: string | undefined;
  analysis: MediaAnalysis;
}

export interface BestShotImage {
  mediaId: string;
  imageB64: string;
  md5: string;
  width: number;
  height: number;
  size: number;
}

export interface AnalysisOutcome {
  request: AnalysisRequest;
  id: string;
  resolution: AnalysisResolution;
  error: { code: string; message: string } | undefined;
  bestShots: BestShotImage[];
}

export interface FolderContext {
  folderId: string;
  timeCreated: number;
  timeUpdated: number;
  request: FolderRequest;
  media: AnalysedMedia[];
  analyses: AnalysisOutcome[];
}

/**
 * An analysis declines when any media is an attack by its threshold, or was decided an attack by evidence beyond
 * its frames' scores (a virtual camera, a still, another person), whatever the threshold.
 */
export function analysisResolution(media: readonly MediaAnalysis[], thresholdSpoofing: number): AnalysisResolution {
  if (media.some((m) => !m.outcome.ok)) return 'FAILED';
  const attack = media.some((m) => m.outcome.ok && (m.outcome.decidedBy !== 'frames' || m.outcome.confidenceSpoofing >= thresholdSpoofing));
  return attack ? 'DECLINED' : 'SUCCESS';
}

/** Scores go out with 6 decimals, the precision of the published examples. */
export const roundScore = (score: number): number => Math.round(score * 1e6) / 1e6;

/** The score reported for a media (1 when evidence beyond the frames decided), rounded; null when it failed. */
export function confidenceSpoofing(media: MediaAnalysis): number | null {
  return media.outcome.ok ? roundScore(media.outcome.confidenceSpoofing) : null;
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

function mediaObject(context: FolderContext, item: AnalysedMedia): Record<string, unknown> {
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

function analysisObject(context: FolderContext, outcome: AnalysisOutcome, sourceMedia: Record<string, unknown>[]): Record<string, unknown> {
  return {
    analyse_id: outcome.id,
    analysis_id: outcome.id,
    folder_id: context.folderId,
    folder_time_created: null,
    type: outcome.request.type.toUpperCase(),
    state: outcome.resolution === 'FAILED' ? 'FAILED' : 'FINISHED',
    company_id: null,
    group_id: null,
    results_data: null,
    confs: { threshold_spoofing: outcome.request.thresholdSpoofing, extract_best_shot: outcome.request.extractBestShot },
    error_message: outcome.error?.message ?? null,
    error_code: outcome.error?.code ?? null,
    resolution_operator: null,
    technical_meta_data: {},
    time_created: context.timeCreated,
    time_updated: context.timeUpdated,
    meta_data: outcome.request.metaData,
    source_media: sourceMedia,
    results_media: context.media.map((item) => ({
      company_id: null,
      media_association_id: item.id,
      analysis_id: outcome.id,
      results_data: resultsData(item.analysis),
      source_media_id: item.id,
      output_images: outcome.bestShots
        .filter((shot) => shot.mediaId === item.id)
        .map((shot) => ({
          folder_id: context.folderId,
          media_id: item.id,
          media_type: 'IMAGE_RESULT_ANALYSIS_SINGLE',
          info: { thumb: null, original: { md5: shot.md5, width: shot.width, height: shot.height, size: shot.size, 'mime-type': 'image/jpeg' } },
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
    resolution_status: outcome.resolution,
    resolution: outcome.resolution,
  };
}

export function folderObject(context: FolderContext): Record<string, unknown> {
  const media = context.media.map((item) => mediaObject(context, item));
  const resolutions = context.analyses.map((a) => a.resolution);
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
