/**
 * Shared by the deployment tests: the project's own files read as data (README routes, settings, tsconfig), a small
 * Dockerfile parser, and the .dockerignore rules. Nothing here touches the network or a container engine.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { projectRoot, settingDocs } from '../../src/config.js';

export const root = projectRoot;

export function readText(relativePath: string): string {
  return readFileSync(path.join(root, relativePath), 'utf8');
}

export function exists(relativePath: string): boolean {
  return existsSync(path.join(root, relativePath));
}

export function isDirectory(relativePath: string): boolean {
  return exists(relativePath) && statSync(path.join(root, relativePath)).isDirectory();
}

export interface PackageJson {
  version: string;
  engines?: { node?: string };
  scripts: Record<string, string>;
}

export const packageJson = JSON.parse(readText('package.json')) as PackageJson;

/** The default of a setting as `settingDocs` documents it (the README's Configuration table). */
export function settingDefault(env: string): string {
  const setting = settingDocs.find((s) => s.env === env);
  if (!setting) throw new Error(`no setting ${env} in src/config.ts`);
  return setting.defaultValue;
}

export const defaultPort = Number(settingDefault('PORT'));

export interface Route {
  method: string;
  path: string;
}

/** The rows of the README's "## Methods" table: the service's documented routes. */
export function readmeRoutes(): Route[] {
  const readme = readText('README.md');
  const start = readme.indexOf('## Methods');
  if (start < 0) throw new Error('README has no "## Methods" section');
  const lines = readme.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const routes: Route[] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const [method, routePath] = line.split('|').slice(1, 3).map((cell) => cell.trim().replace(/`/g, ''));
    if (method && routePath) routes.push({ method, path: routePath });
  }
  return routes;
}

/** Documented GET routes whose path ends in /health: the ones that answer 503 with status 3. */
export function healthPaths(): string[] {
  return readmeRoutes()
    .filter((r) => r.method === 'GET' && r.path.endsWith('/health'))
    .map((r) => r.path);
}

export function isGetRoute(routePath: string): boolean {
  return readmeRoutes().some((r) => r.method === 'GET' && r.path === routePath);
}

/** compilerOptions.outDir of a tsconfig, following `extends`. */
export function tsconfigOutDir(file = 'tsconfig.build.json'): string {
  const config = JSON.parse(readText(file)) as { extends?: string; compilerOptions?: { outDir?: string } };
  if (config.compilerOptions?.outDir) return path.posix.normalize(config.compilerOptions.outDir);
  if (!config.extends) throw new Error(`${file} sets no outDir`);
  return tsconfigOutDir(path.posix.join(path.posix.dirname(file), config.extends));
}

/** Every file under a folder of the repository, relative to the root, with / separators. */
export function filesUnder(relativeDir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, relativeDir), { withFileTypes: true })) {
    const child = path.posix.join(relativeDir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(child));
    else out.push(child);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Dockerfile

export interface Instruction {
  keyword: string;
  /** The arguments after the keyword and its --flags, continuation lines joined. */
  args: string;
  flags: Record<string, string>;
  /** The exec form's array, when the arguments are one. */
  exec?: string[];
  line: number;
}

export interface Stage {
  index: number;
  name?: string;
  image: string;
  instructions: Instruction[];
}

const FLAGGED = new Set(['FROM', 'COPY', 'ADD', 'RUN', 'HEALTHCHECK']);

/** Parses a Dockerfile into its stages (comment lines, continuations, --flags, exec forms). */
export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const startLine = i + 1;
    let current = lines[i]!.trim();
    if (current === '' || current.startsWith('#')) continue;
    while (current.endsWith('\\') && i + 1 < lines.length) {
      current = current.slice(0, -1);
      i += 1;
      const next = lines[i]!.trim();
      if (next.startsWith('#')) continue; // comment lines inside a continuation are dropped, as Docker does
      current += ` ${next}`;
    }
    const match = /^(\S+)\s*(.*)$/s.exec(current)!;
    const keyword = match[1]!.toUpperCase();
    let rest = match[2]!.trim();
    const flags: Record<string, string> = {};
    if (FLAGGED.has(keyword)) {
      for (let flag = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest); flag; flag = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest)) {
        flags[flag[1]!] = flag[2] ?? 'true';
        rest = rest.slice(flag[0].length);
      }
    }
    const instruction: Instruction = { keyword, args: rest, flags, line: startLine };
    if (rest.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(rest);
        if (Array.isArray(parsed) && parsed.every((item) => typeof item === 'string')) instruction.exec = parsed;
      } catch {
        // not JSON: the shell form
      }
    }
    instructions.push(instruction);
  }

  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/);
      const stage: Stage = { index: stages.length, image: image!, instructions: [] };
      if (as?.toUpperCase() === 'AS' && name) stage.name = name;
      stages.push(stage);
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push(instruction);
    } else if (instruction.keyword !== 'ARG') {
      throw new Error(`line ${instruction.line}: ${instruction.keyword} before the first FROM`);
    }
  }
  return stages;
}

export interface Copy {
  instruction: Instruction;
  /** The stage copied from (--from), or undefined for the build context. */
  from?: string;
  sources: string[];
  /** Absolute destination in the image, resolved against WORKDIR. */
  destination: string;
  /** The WORKDIR in force at this COPY. */
  workdir: string;
}

/** The COPY instructions of a stage, destinations resolved against the WORKDIR in force. */
export function copies(stage: Stage): Copy[] {
  let workdir = '/';
  const out: Copy[] = [];
  for (const instruction of stage.instructions) {
    if (instruction.keyword === 'WORKDIR') workdir = path.posix.resolve(workdir, instruction.args);
    if (instruction.keyword !== 'COPY' && instruction.keyword !== 'ADD') continue;
    const parts = instruction.exec ?? instruction.args.split(/\s+/);
    const destination = path.posix.resolve(workdir, parts.at(-1)!);
    const copy: Copy = { instruction, sources: parts.slice(0, -1), destination, workdir };
    if (instruction.flags.from) copy.from = instruction.flags.from;
    out.push(copy);
  }
  return out;
}

/** The WORKDIR in force at the end of a stage. */
export function finalWorkdir(stage: Stage): string {
  return stage.instructions.filter((i) => i.keyword === 'WORKDIR').reduce((dir, i) => path.posix.resolve(dir, i.args), '/');
}

/**
 * Where a source of a COPY lands: a directory source's contents go into the destination; a file goes into it when the
 * destination ends in / or several sources are copied, else becomes it.
 */
export function landsAt(copy: Copy, source: string, sourceIsDirectory: boolean): string {
  const rawDestination = (copy.instruction.exec ?? copy.instruction.args.split(/\s+/)).at(-1)!;
  if (sourceIsDirectory) return copy.destination;
  if (rawDestination.endsWith('/') || copy.sources.length > 1) return path.posix.join(copy.destination, path.posix.basename(source));
  return copy.destination;
}

// ---------------------------------------------------------------------------------------------------------------
// .dockerignore

interface IgnoreRule {
  pattern: RegExp;
  negate: boolean;
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      source += '.*';
      i += 1;
      if (glob[i + 1] === '/') i += 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = path.posix.normalize((negate ? line.slice(1) : line).trim()).replace(/^\/+|\/+$/g, '');
      return { pattern: globToRegExp(pattern), negate };
    });
}

/** Docker's rule: the last rule matching the path, or one of its parent folders, decides. */
export function isIgnored(rules: IgnoreRule[], relativePath: string): boolean {
  const clean = path.posix.normalize(relativePath).replace(/^\.\/|\/+$/g, '');
  const candidates = clean.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (candidates.some((candidate) => rule.pattern.test(candidate))) ignored = !rule.negate;
  }
  return ignored;
}
