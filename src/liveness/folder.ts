/**
 * What a liveness folder request resolves to: every media analysed, every analysis of the request resolved. The HTTP
 * layer answers it as the published folder object (src/http/liveness-folder.ts).
 */
import type { MediaAnalysis } from './media.js';

export type AnalysisResolution = 'SUCCESS' | 'DECLINED' | 'FAILED';
export type SystemResolution = 'INITIAL' | 'PROCESSING' | 'FAILED' | 'DECLINED' | 'OPERATOR_REQUIRED' | 'SUCCESS';

/** The published order, worst first: the system resolution of a request is the worst of its analyses. */
const worstFirst: readonly SystemResolution[] = ['INITIAL', 'PROCESSING', 'FAILED', 'DECLINED', 'OPERATOR_REQUIRED', 'SUCCESS'];

export function systemResolution(analyses: readonly AnalysisResolution[]): SystemResolution {
  if (analyses.length === 0) return 'INITIAL';
  return worstFirst[Math.min(...analyses.map((a) => worstFirst.indexOf(a)))]!;
}

/** What one analysis of a folder request asks for. */
export interface AnalysisSettings {
  /** A media scoring at or above it is an attack. */
  thresholdSpoofing: number;
  extractBestShot: boolean;
}

/** A media's best shot, as a JPEG. */
export interface BestShot {
  /** The media's position in the request. */
  item: number;
  jpeg: Buffer;
  md5: string;
  width: number;
  height: number;
}

export interface AnalysisResult {
  resolution: AnalysisResolution;
  /** The first media that could not be analysed, by position, and why; every analysis fails with it. */
  failure: { item: number; detail: string } | undefined;
}

export interface FolderResult {
  /** One per media, in the request's order. */
  media: MediaAnalysis[];
  /** One per analysis, in the request's order. */
  analyses: AnalysisResult[];
  /** The best shots of the media that have one, when an analysis asked for them. */
  bestShots: BestShot[];
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
