import { readFileSync, readlinkSync } from 'node:fs';

/** Resident memory of a process, in MB (VmRSS of /proc/<pid>/status); undefined once the process is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function childPids(pid: number): number[] {
  try {
    const tasks = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return tasks ? tasks.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

function executable(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/**
 * RSS of the process and all its descendants (the service's ffmpeg children while it decodes video). A child that
 * has not yet exec'd is a copy-on-write fork showing the parent's whole RSS without owning it: it is left out.
 */
export function treeRssMb(pid: number): number {
  const own = executable(pid);
  const children = childPids(pid).filter((child) => executable(child) !== own);
  return (rssMb(pid) ?? 0) + children.reduce((sum, child) => sum + treeRssMb(child), 0);
}

export interface RssPeak {
  /** Highest RSS of the process itself, MB. */
  peakMb: number;
  /** Highest RSS of the process with its child processes, MB. */
  peakTreeMb: number;
  samples: number;
}

/** Samples RSS every `intervalMs` until stopped; reports the peaks. */
export function sampleRss(pid: number, intervalMs = 100): { stop(): RssPeak } {
  let peakMb = 0;
  let peakTreeMb = 0;
  let samples = 0;
  const sample = (): void => {
    peakMb = Math.max(peakMb, rssMb(pid) ?? 0);
    peakTreeMb = Math.max(peakTreeMb, treeRssMb(pid));
    samples++;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peakMb, peakTreeMb, samples };
    },
  };
}
