import type { PhotoResult } from '../user-photos.js';
import { fixed } from './table.js';

/** The stages each photo's row shows, from the service's own metrics. */
export const USER_PHOTO_STAGES = ['decode', 'detect', 'landmarks', 'embed'] as const;

/** The user-photo benchmark's table, shared by its console output and the README section. */
export const userPhotoHeaders = ['photo', 'size', 'status', 'extract p50 ms', 'sharp full decode p50 ms', 'detector passes', ...USER_PHOTO_STAGES.map((s) => `${s} ms`)];

export const userPhotoRows = (photos: readonly PhotoResult[]): string[][] =>
  photos.map((p) => [
    p.label,
    `${p.width}×${p.height}`,
    String(p.status),
    fixed(p.extractP50Ms),
    fixed(p.fullDecodeP50Ms),
    fixed(p.detectorRunsPerRequest, 1),
    ...USER_PHOTO_STAGES.map((stage) => fixed(p.stagesMs[stage] ?? 0)),
  ]);
