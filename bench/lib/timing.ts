import { median } from '../../src/statistics.js';

export interface OpCost {
  /** Wall-clock time per operation, ms (median of the iterations). */
  wallMs: number;
  /** CPU time of the whole process (all its threads) per operation, ms (mean over the iterations). */
  cpuMs: number;
  iterations: number;
}

/** Times `operation` alone, one call after another, after a few untimed calls. */
export async function timeAlone(operation: () => unknown, iterations: number, warmup = 3): Promise<OpCost> {
  for (let i = 0; i < warmup; i++) await operation();
  const walls: number[] = [];
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    await operation();
    walls.push(performance.now() - started);
  }
  const cpu = process.cpuUsage(cpuStart);
  return { wallMs: median(walls), cpuMs: (cpu.user + cpu.system) / 1000 / iterations, iterations };
}
