import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';
import { type Config, loadConfig, projectRoot } from '../../src/config.js';
import { sleep } from './stats.js';

/** The compiled service running as a child process: what a deployment runs, measured from outside. */
export interface ServiceProcess {
  url: string;
  pid: number;
  /** The settings the child reads from its environment, resolved by the service's own config code. */
  config: Config;
  /** glibc's malloc arena cap the child runs with (MALLOC_ARENA_MAX), which shapes its RSS. */
  mallocArenaMax: string;
  /** The last lines the service printed, for failure messages. */
  recentOutput(): string;
  stop(): Promise<void>;
}

const SERVER_ENTRY = path.join(projectRoot, 'dist', 'src', 'server.js');
const OUTPUT_LINES_KEPT = 40;
const HEALTHY_WITHIN_MS = 120_000;

/** `npm run build`, as a deployment builds; throws with the compiler's output when it fails. */
export function buildService(): void {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: projectRoot, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
}

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (!address || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

function keepRecentLines(child: ChildProcess): () => string {
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - OUTPUT_LINES_KEPT));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => lines.join('\n');
}

async function healthStatus(url: string): Promise<number | undefined> {
  try {
    const response = await fetch(`${url}/v1/face/pattern/health`);
    return ((await response.json()) as { status: number }).status;
  } catch {
    return undefined;
  }
}

/**
 * Starts `node dist/src/server.js` on a free loopback port with the caller's environment plus `overrides`, and waits
 * until health reports status 0 (models loaded and warmed). Build first with buildService().
 */
export async function startServiceProcess(overrides: NodeJS.ProcessEnv = {}): Promise<ServiceProcess> {
  const port = await freeLoopbackPort();
  // A bench stops the service many times: the drain delay meant for load balancers only slows it down. The malloc
  // arena cap is the container image's (Dockerfile): without it glibc gives each allocating thread its own arena.
  const env: NodeJS.ProcessEnv = { SHUTDOWN_DELAY_MS: '0', MALLOC_ARENA_MAX: '2', ...process.env, ...overrides, PORT: String(port), HOST: '127.0.0.1' };
  const config = loadConfig(env);
  const child = spawn(process.execPath, [SERVER_ENTRY], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const recentOutput = keepRecentLines(child);
  let exited = false;
  const exit = once(child, 'exit').then(() => {
    exited = true;
  });
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  while ((await healthStatus(url)) !== 0) {
    if (exited) throw new Error(`the service exited during start:\n${recentOutput()}`);
    if (performance.now() - started > HEALTHY_WITHIN_MS) {
      child.kill('SIGKILL');
      throw new Error(`the service was not healthy within ${HEALTHY_WITHIN_MS} ms:\n${recentOutput()}`);
    }
    await sleep(100);
  }
  return {
    url,
    pid: child.pid!,
    config,
    mallocArenaMax: env.MALLOC_ARENA_MAX ?? 'unset',
    recentOutput,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), config.shutdownGraceMs + 5_000);
      await exit;
      clearTimeout(killer);
    },
  };
}
