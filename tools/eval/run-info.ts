import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { projectRoot } from '../../src/config.js';

/** Where and on what an evaluation ran, recorded beside its numbers. */
export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  onnxThreads: number;
}

export function machine(onnxThreads: number): Machine {
  return { cpu: os.cpus()[0]?.model ?? 'unknown CPU', cores: os.availableParallelism(), node: process.versions.node, onnxThreads };
}

/** The checkout's commit, read only; "unknown" outside a git checkout. */
export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectRoot, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** An argument as a POSIX shell reads it back: bare when safe, else single-quoted. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
