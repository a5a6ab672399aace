import { createHash, randomUUID } from 'node:crypto';
import { clientName, errorResponse, ServiceError } from '../errors.js';
import { encodeJpeg } from '../media/image.js';
import { type AnalysedMedia, type AnalysisOutcome, type AnalysisResolution, analysisResolution, type BestShotImage, folderObject, roundScore } from './folder.js';
import type { MediaAnalyser } from './media.js';
import { parsePayload } from './payload.js';

export interface LivenessDeps {
  analyser: MediaAnalyser;
  /** Default `threshold_spoofing`: a score at or above it is an attack. */
  threshold: number;
  /** Best shots are sent at most this many pixels, as video frames are sampled. */
  bestShotMaxPixels: number;
  /** Most analyses a folder payload may ask for. */
  maxAnalyses: number;
  /** Largest answer: the best shots it would repeat, once per analysis that asks for them, must fit in it. */
  maxAnswerBytes: number;
}

export interface MediaPart {
  key: string;
  filename: string | undefined;
  bytes: Uint8Array;
}

export interface Liveness {
  /** Single-image mode: `score` is the probability of an attack, `passed` whether it is below the threshold. */
  detectImage(image: Uint8Array): Promise<{ passed: boolean; score: number }>;
  /** Folder mode: every media analysed, every analysis of the payload resolved. */
  detectFolder(
    media: readonly MediaPart[],
    payload: string | undefined,
    cancel?: AbortSignal,
  ): Promise<{ folder: Record<string, unknown>; resolutions: AnalysisResolution[] }>;
}

export function createLiveness(deps: LivenessDeps): Liveness {
  const { analyser } = deps;

  async function bestShot(item: AnalysedMedia): Promise<BestShotImage | undefined> {
    if (!item.analysis.outcome.ok) return undefined;
    const frame = item.analysis.outcome.bestShot;
    const view = await frame.view(Math.min(1, Math.sqrt(deps.bestShotMaxPixels / (frame.width * frame.height))));
    const { jpeg, width, height } = await encodeJpeg(view.raster, deps.bestShotMaxPixels);
    return { mediaId: item.id, imageB64: jpeg.toString('base64'), md5: createHash('md5').update(jpeg).digest('hex'), width, height, size: jpeg.length };
  }

  return {
    async detectImage(image) {
      const frame = await analyser.scoreImage(image);
      if (!frame) throw new ServiceError('sample-unreadable', 'no face found in the image');
      const score = roundScore(frame.confidenceSpoofing);
      return { passed: score < deps.threshold, score };
    },

    async detectFolder(parts, payloadText, cancel) {
      const timeCreated = Date.now() / 1000;
      const request = parsePayload(payloadText, parts.map((p) => p.key), { defaultThreshold: deps.threshold, maxAnalyses: deps.maxAnalyses });
      const media: AnalysedMedia[] = [];
      for (const part of parts) {
        media.push({ key: part.key, id: randomUUID(), filename: part.filename, analysis: await analyser.analyse(part.bytes, cancel) });
      }
      const failed = media.find((m) => !m.analysis.outcome.ok);
      const sampleError = errorResponse('liveness', 'sample-unreadable').body;
      const shotsWanted = request.analyses.some((a) => a.extractBestShot);
      const shots = shotsWanted ? (await Promise.all(media.map(bestShot))).filter((s): s is BestShotImage => !!s) : [];
      // Each analysis that asks for best shots carries all of them: refuse before building an answer that large.
      const shotCopies = request.analyses.filter((a) => a.extractBestShot).length;
      const shotBytes = shotCopies * shots.reduce((sum, shot) => sum + shot.imageB64.length, 0);
      if (shotBytes > deps.maxAnswerBytes) {
        throw new ServiceError('too-large', `the answer would carry ${shotBytes} bytes of best shots (${shotCopies} analyses × ${shots.length} images); at most ${deps.maxAnswerBytes}`);
      }
      const analyses: AnalysisOutcome[] = request.analyses.map((analysisRequest) => {
        const resolution = analysisResolution(
          media.map((m) => m.analysis),
          analysisRequest.thresholdSpoofing,
        );
        const failure = failed && !failed.analysis.outcome.ok ? failed.analysis.outcome.detail : undefined;
        return {
          request: analysisRequest,
          id: randomUUID(),
          resolution,
          error: failure ? { code: sampleError.code, message: `${sampleError.message}: media "${clientName(failed!.key)}": ${failure}` } : undefined,
          bestShots: analysisRequest.extractBestShot ? shots : [],
        };
      });
      const folder = folderObject({ folderId: randomUUID(), timeCreated, timeUpdated: Date.now() / 1000, request, media, analyses });
      return { folder, resolutions: analyses.map((a) => a.resolution) };
    },
  };
}
