import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config.js';
import { gitCommit, machine, type Machine } from '../../tools/eval/run-info.js';

export const resultsDir = path.join(projectRoot, 'bench', 'results');

/** Where, when and on what code a benchmark ran, recorded beside its numbers. */
export interface RunInfo {
  date: string;
  commit: string;
  /** Paths of src/ with uncommitted changes when the run started: the numbers are of that working tree. */
  uncommittedSrc: string[];
  machine: Omit<Machine, 'onnxThreads'>;
  versions: Record<string, string>;
  /** The service settings that shape performance, as the service resolved them. */
  settings: Record<string, number | string>;
  /** Nice value the benchmark (and so the service it started) ran at: below 0 it was favoured over other processes. */
  niceness: number;
}

function installedVersion(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(projectRoot, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function uncommittedSrc(): string[] {
  try {
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return status.split('\n').filter(Boolean).map((line) => line.slice(3));
  } catch {
    return [];
  }
}

export function runInfo(settings: Record<string, number | string>, packages: readonly string[] = []): RunInfo {
  const { cpu, cores, node } = machine(0);
  const versions: Record<string, string> = { node: process.versions.node };
  for (const pkg of ['onnxruntime-node', 'sharp', 'autocannon', ...packages]) versions[pkg] = installedVersion(pkg);
  // BENCH_COMMIT names the commit when the bench runs in an exported copy (git archive) rather than the checkout.
  return { date: new Date().toISOString(), commit: process.env.BENCH_COMMIT ?? gitCommit(), uncommittedSrc: uncommittedSrc(), machine: { cpu, cores, node }, versions, settings, niceness: os.getPriority() };
}

export async function writeResults(name: string, results: unknown): Promise<string> {
  await mkdir(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${name}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

/** Names of the results files of one benchmark's labelled variants (`load-<label>.json`). */
export async function variantNames(benchmark: string): Promise<string[]> {
  try {
    return (await readdir(resultsDir)).filter((f) => f.startsWith(`${benchmark}-`) && f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
  } catch {
    return [];
  }
}

export async function readResults<T>(name: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path.join(resultsDir, `${name}.json`), 'utf8')) as T;
  } catch {
    return undefined;
  }
}
