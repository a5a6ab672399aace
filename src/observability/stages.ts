/** The processing stages whose durations the service measures (face_api_stage_duration_seconds). */
export type Stage = 'decode' | 'video_decode' | 'detect' | 'landmarks' | 'embed' | 'liveness' | 'temporal' | 'match';

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
