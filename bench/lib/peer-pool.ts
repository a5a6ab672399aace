import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type CpuShare, watchCpu } from './cpu.js';
import type { ExtractImageName } from './images.js';
import type { PeerMessage, PeerRunRequest } from './peer-protocol.js';
import { sampleRss } from './rss.js';
import { type LatencySummary, summarise } from './stats.js';

const workerFile = fileURLToPath(new URL('./peer-worker.ts', import.meta.url));

export interface PeerRunResult {
  processes: number;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  failures: number;
  /** Highest RSS of one peer process during the run, MB. */
  peakRssMb: number;
  cpu: CpuShare;
}

function nextMessage(child: ChildProcess): Promise<PeerMessage> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`peer process exited with ${String(code)}`));
    child.once('exit', onExit);
    child.once('message', (message: PeerMessage) => {
      child.off('exit', onExit);
      resolve(message);
    });
  });
}

/**
 * Peer processes, each with its own Human instance: TensorFlow.js runs one inference at a time per process and its
 * WASM backend runs single-threaded in Node, so concurrency means processes.
 */
export async function startPeers(count: number) {
  const children = Array.from({ length: count }, () =>
    fork(workerFile, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const ready = await Promise.all(children.map(nextMessage));
  const first = ready[0];
  if (first?.kind !== 'ready') throw new Error('peer process did not start');

  return {
    backend: first.backend,
    versions: first.versions,
    /** Every one of the first `processes` peers extracts from `image` for `seconds`, all at once. */
    async run(image: ExtractImageName, seconds: number, processes: number): Promise<PeerRunResult> {
      const busy = children.slice(0, processes);
      const samplers = busy.map((child) => sampleRss(child.pid!));
      const cpu = watchCpu();
      const replies = busy.map(nextMessage);
      for (const child of busy) child.send({ kind: 'run', image, seconds } satisfies PeerRunRequest);
      const done = await Promise.all(replies);
      const cpuShare = cpu.stop();
      const peakRssMb = Math.max(...samplers.map((s) => s.stop().peakMb));
      const latencies = done.flatMap((m) => (m.kind === 'done' ? m.latenciesMs : []));
      const failures = done.reduce((sum, m) => sum + (m.kind === 'done' ? m.failures : 0), 0);
      const elapsed = Math.max(...done.map((m) => (m.kind === 'done' ? m.seconds : 0)));
      return { processes, seconds: elapsed, requestsPerSecond: latencies.length / elapsed, latencyMs: summarise(latencies), failures, peakRssMb, cpu: cpuShare };
    },
    async stop(): Promise<void> {
      await Promise.all(
        children.map(async (child) => {
          if (child.exitCode !== null) return;
          child.kill('SIGTERM');
          await once(child, 'exit');
        }),
      );
    },
  };
}

export type PeerPool = Awaited<ReturnType<typeof startPeers>>;
