import { createHash } from 'node:crypto';
import { ServiceError } from '../errors.js';
import { encodeJpeg } from '../media/image.js';
import { type AnalysisSettings, analysisResolution, type BestShot, type FolderResult, roundScore } from './folder.js';
import type { MediaAnalysis, MediaAnalyser } from './media.js';

export interface LivenessDeps {
  analyser: MediaAnalyser;
  /** A score at or above it is an attack (single-image mode; folder analyses say their own). */
  threshold: number;
  /** Best shots are sent at most this many pixels, as video frames are sampled. */
  bestShotMaxPixels: number;
}

export interface Liveness {
  /** Single-image mode: `score` is the probability of an attack, `passed` whether it is below the threshold. */
  detectImage(image: Uint8Array): Promise<{ passed: boolean; score: number }>;
  /** Folder mode: every media analysed, every analysis resolved; `cancel` stops the work between frames. */
  detectFolder(media: readonly Uint8Array[], analyses: readonly AnalysisSettings[], cancel?: AbortSignal): Promise<FolderResult>;
}

export function createLiveness(deps: LivenessDeps): Liveness {
  const { analyser } = deps;

  async function bestShot(analysis: MediaAnalysis, item: number): Promise<BestShot | undefined> {
    if (!analysis.outcome.ok) return undefined;
    const frame = analysis.outcome.bestShot;
    const view = await frame.view(Math.min(1, Math.sqrt(deps.bestShotMaxPixels / (frame.width * frame.height))));
    const { jpeg, width, height } = await encodeJpeg(view.raster, deps.bestShotMaxPixels);
    return { item, jpeg, md5: createHash('md5').update(jpeg).digest('hex'), width, height };
  }

  return {
    async detectImage(image) {
      const frame = await analyser.scoreImage(image);
      if (!frame) throw new ServiceError('sample-unreadable', 'no face found in the image');
      const score = roundScore(frame.confidenceSpoofing);
      return { passed: score < deps.threshold, score };
    },

    async detectFolder(media, analyses, cancel) {
      const analysed: MediaAnalysis[] = [];
      for (const bytes of media) analysed.push(await analyser.analyse(bytes, cancel));
      const failedItem = analysed.findIndex((m) => !m.outcome.ok);
      const failed = analysed[failedItem]?.outcome;
      const failure = failed && !failed.ok ? { item: failedItem, detail: failed.detail } : undefined;
      const bestShots = analyses.some((a) => a.extractBestShot)
        ? (await Promise.all(analysed.map(bestShot))).filter((shot): shot is BestShot => shot !== undefined)
        : [];
      return {
        media: analysed,
        analyses: analyses.map((settings) => ({ resolution: analysisResolution(analysed, settings.thresholdSpoofing), failure })),
        bestShots,
      };
    },
  };
}
