import { z } from 'zod';
import { clientName, ServiceError } from '../errors.js';
import type { AnalysisSettings } from '../liveness/folder.js';

const metaData = z.record(z.string(), z.unknown());

const analysisRequest = z.object({
  type: z.string(),
  meta_data: metaData.nullish(),
  params: z
    .object({
      threshold_spoofing: z.number().min(0).max(1).optional(),
      extract_best_shot: z.boolean().optional(),
    })
    .passthrough()
    .nullish(),
});

const payloadSchema = z
  .object({
    'folder:meta_data': metaData.nullish(),
    'media:meta_data': z.record(z.string(), metaData).nullish(),
    'media:tags': z.record(z.string(), z.array(z.string())).nullish(),
    resolution_endpoint: z.string().nullish(),
    analyses: z.array(analysisRequest).nullish(),
  })
  .passthrough();

/** Analysis types this service runs; the API's "quality" analysis is the liveness check. */
export const supportedAnalysisTypes = ['quality'] as const;

/** An analysis the payload asks for: what the liveness use case runs, and what the answer echoes. */
export interface AnalysisRequest extends AnalysisSettings {
  type: (typeof supportedAnalysisTypes)[number];
  metaData: Record<string, unknown>;
}

export interface FolderRequest {
  folderMetaData: Record<string, unknown>;
  mediaMetaData: Record<string, Record<string, unknown>>;
  mediaTags: Record<string, string[]>;
  resolutionEndpoint: string | null;
  analyses: AnalysisRequest[];
}

const invalid = (detail: string): ServiceError => new ServiceError('invalid-payload', detail);

/** Metadata comes back in the answer: nesting deeper than this would overflow the serialiser's stack long before. */
export const MAX_PAYLOAD_DEPTH = 64;

function nestedDeeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  return levels === 0 || Object.values(value).some((child) => nestedDeeperThan(child, levels - 1));
}

export interface PayloadSettings {
  /** `threshold_spoofing` of an analysis that gives none. */
  defaultThreshold: number;
  /** Most analyses one payload may ask for: each repeats the media and best shots in the answer. */
  maxAnalyses: number;
}

/**
 * The `payload` part of a liveness folder request, checked: JSON, known analysis types only, thresholds within 0..1,
 * metadata and tags only for media keys the request holds, at most `maxAnalyses` analyses. Without a payload (or
 * without `analyses`) one quality analysis runs with the service defaults. Fields this service has no use for are
 * accepted and ignored. The part's size is bounded before (LIVENESS_MAX_PAYLOAD_BYTES), and the number of analyses
 * is checked before the schema, whose cost grows with every element it finds wrong: 1.5 million numbers in place of
 * the analyses took 9 CPU-seconds and 900 MB to refuse.
 */
export function parsePayload(text: string | undefined, mediaKeys: readonly string[], settings: PayloadSettings): FolderRequest {
  let json: unknown = {};
  if (text !== undefined && text.trim() !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      throw invalid('payload is not valid JSON');
    }
  }
  if (nestedDeeperThan(json, MAX_PAYLOAD_DEPTH)) throw invalid(`payload is nested more than ${MAX_PAYLOAD_DEPTH} levels deep`);
  const asked = typeof json === 'object' && json !== null ? (json as { analyses?: unknown }).analyses : undefined;
  if (Array.isArray(asked) && asked.length > settings.maxAnalyses) {
    throw new ServiceError('too-large', `payload asks for ${asked.length} analyses; at most ${settings.maxAnalyses}`);
  }
  const result = payloadSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    // The path holds the client's own keys (media keys, metadata): a short prefix of each is enough to find it.
    const path = issue.path.map((segment) => clientName(String(segment))).join('.');
    throw invalid(`payload ${path || '(root)'}: ${issue.message}`);
  }
  const payload = result.data;
  const mediaMetaData = payload['media:meta_data'] ?? {};
  const mediaTags = payload['media:tags'] ?? {};
  for (const key of [...Object.keys(mediaMetaData), ...Object.keys(mediaTags)]) {
    if (!mediaKeys.includes(key)) throw invalid(`payload refers to media "${clientName(key)}", which the request does not hold`);
  }
  const analyses = (payload.analyses ?? [{ type: 'quality' }]).map((analysis, index): AnalysisRequest => {
    const type = analysis.type.toLowerCase();
    if (!(supportedAnalysisTypes as readonly string[]).includes(type)) {
      throw invalid(`analyses[${index}]: type "${clientName(analysis.type)}" is not supported; use ${supportedAnalysisTypes.join(', ')}`);
    }
    return {
      type: type as AnalysisRequest['type'],
      metaData: analysis.meta_data ?? {},
      thresholdSpoofing: analysis.params?.threshold_spoofing ?? settings.defaultThreshold,
      extractBestShot: analysis.params?.extract_best_shot ?? false,
    };
  });
  return {
    folderMetaData: payload['folder:meta_data'] ?? {},
    mediaMetaData,
    mediaTags,
    resolutionEndpoint: payload.resolution_endpoint ?? null,
    analyses,
  };
}
