import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { sleep } from './stats.js';

/** Linux reports process and system CPU in clock ticks of 1/100 s (USER_HZ) on every platform Node runs on. */
export const TICKS_PER_SECOND = 100;

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** CPU ticks of a process and of its children it has already waited for (ffmpeg runs, for the service). */
function processTicks(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  // Fields after the command name, which may hold spaces: state is field 3, utime..cstime are fields 14..17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
}

export function descendants(pid: number): number[] {
  const children = (read(`/proc/${pid}/task/${pid}/children`) ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return children.flatMap((child) => [child, ...descendants(child)]);
}

export const treeTicks = (pid: number): number => [pid, ...descendants(pid)].reduce((sum, p) => sum + processTicks(p), 0);

function systemBusyTicks(): number {
  const [, ...values] = (read('/proc/stat') ?? '').split('\n')[0]!.trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
  return values.slice(0, 8).reduce((sum, v, i) => (i === 3 || i === 4 ? sum : sum + v), 0);
}

export interface CpuShare {
  /** Cores' worth of CPU used by this benchmark's process tree (the service, peers and probes included). */
  oursCores: number;
  /** Cores' worth used by every other process on the machine: the noise in the measurement. */
  foreignCores: number;
  cores: number;
}

/** Watches how the machine's CPU is shared between this benchmark's process tree and everything else. */
export function watchCpu(): { stop(): CpuShare } {
  const started = performance.now();
  const oursBefore = treeTicks(process.pid);
  const busyBefore = systemBusyTicks();
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000;
      const ours = (treeTicks(process.pid) - oursBefore) / TICKS_PER_SECOND / seconds;
      const busy = (systemBusyTicks() - busyBefore) / TICKS_PER_SECOND / seconds;
      return { oursCores: ours, foreignCores: Math.max(0, busy - ours), cores: os.availableParallelism() };
    },
  };
}

/** Watches the CPU one process tree uses (the service and its ffmpeg children), in cores' worth. */
export function watchTreeCpu(pid: number): { stop(): { cores: number; seconds: number } } {
  const started = performance.now();
  const before = treeTicks(pid);
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000;
      return { cores: (treeTicks(pid) - before) / TICKS_PER_SECOND / seconds, seconds };
    },
  };
}

/** Waits until a process tree has used less than `threshold` cores for a quarter of a second (or `timeoutMs` passed). */
export async function waitUntilQuiet(pid: number, threshold = 0.05, timeoutMs = 30_000): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const before = treeTicks(pid);
    await sleep(250);
    if ((treeTicks(pid) - before) / TICKS_PER_SECOND / 0.25 < threshold) return;
  }
}

/** The one-minute load average, for the record. */
export const loadAverage = (): number => os.loadavg()[0]!;

/** Above this many cores used by other processes, a run's numbers are flagged as disturbed. */
export const NOISE_CORES = 0.15;

/**
 * Waits (up to `maxWaitMs`) until the rest of the machine is quiet over a two-second window, and warns when it never
 * was: other processes on a 2-core machine change every number a benchmark reports.
 */
export async function waitForQuietMachine(maxWaitMs = 60_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const cpu = watchCpu();
    await sleep(2000);
    const { foreignCores } = cpu.stop();
    if (foreignCores <= NOISE_CORES) return foreignCores;
    if (performance.now() - started > maxWaitMs) {
      console.warn(`WARNING: other processes are using ${foreignCores.toFixed(2)} of ${os.availableParallelism()} cores; the numbers will be disturbed`);
      return foreignCores;
    }
  }
}

/** CPU ticks of each thread of a process, by thread id, with the thread's name (comm). */
function threadTicks(pid: number): Map<number, { name: string; ticks: number }> {
  const threads = new Map<number, { name: string; ticks: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    const stat = read(`/proc/${pid}/task/${tid}/stat`);
    if (!stat) continue;
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    threads.set(Number(tid), { name, ticks: Number(fields[11]) + Number(fields[12]) });
  }
  return threads;
}

/**
 * Watches where a process's CPU goes, thread by thread: the main thread (Node's event loop, named after the
 * process) apart from the rest, the rest grouped by thread name (libuv's pool, ONNX Runtime's and V8's threads).
 * Cores' worth per group.
 */
export function watchThreads(pid: number): { stop(): { mainThreadCores: number; byName: Record<string, number> } } {
  const started = performance.now();
  const before = threadTicks(pid);
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000;
      const byName: Record<string, number> = {};
      let mainThreadCores = 0;
      for (const [tid, thread] of threadTicks(pid)) {
        const cores = (thread.ticks - (before.get(tid)?.ticks ?? 0)) / TICKS_PER_SECOND / seconds;
        if (tid === pid) mainThreadCores = cores;
        else byName[thread.name] = (byName[thread.name] ?? 0) + cores;
      }
      return { mainThreadCores, byName };
    },
  };
}
