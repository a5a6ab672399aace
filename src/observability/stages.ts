/**
 * The processing stages whose durations the service measures (face_api_stage_duration_seconds). `detector_pass` is
 * one run of the detector over a region (the whole image, a tile, a verification window), inside `detect`; `decode`
 * is one decoded view of an image, inside the step that reads it.
 */
export type Stage = 'decode' | 'video_decode' | 'detect' | 'detector_pass' | 'landmarks' | 'embed' | 'liveness' | 'temporal' | 'match';

/** Receives each stage's duration; the service passes its metrics, tests and tools pass nothing. */
export type StageObserver = (stage: Stage, seconds: number) => void;

export const ignoreStages: StageObserver = () => {};

/** Runs `work` and reports how long it took, whether it succeeded or not. */
export async function timed<T>(observe: StageObserver, stage: Stage, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    observe(stage, (performance.now() - started) / 1000);
  }
}

export function timedSync<T>(observe: StageObserver, stage: Stage, work: () => T): T {
  const started = performance.now();
  try {
    return work();
  } finally {
    observe(stage, (performance.now() - started) / 1000);
  }
}
