import { spawn } from 'node:child_process';

export interface FfmpegOutput {
  /** Returns false to stop ffmpeg: nothing more is wanted. */
  onStdout(chunk: Buffer): boolean;
  onStderrLine(line: string): void;
}

export interface FfmpegRun {
  exitCode: number | null;
  /** Stopped because onStdout asked to. */
  stopped: boolean;
}

// Longer stderr lines are cut: only the dump's and showinfo's lines matter, and they are short.
const STDERR_LINE_CAP = 4096;

/**
 * Runs ffmpeg under RLIMIT_DATA of `maxMemoryBytes`, handing its stdout to `onStdout` until that returns false, and
 * its stderr line by line. ffmpeg leads a process group of its own, which is killed whole (a wrapper script's
 * children too) when ffmpeg is stopped or the deadline passes; on the deadline the promise rejects only once ffmpeg
 * has exited.
 */
export function runFfmpeg(ffmpegPath: string, args: string[], maxMemoryBytes: number, deadline: AbortSignal, output: FfmpegOutput): Promise<FfmpegRun> {
  return new Promise((resolve, reject) => {
    if (deadline.aborted) return reject(deadline.reason);
    // The shell sets the limit and becomes ffmpeg (exec: same process, same group). RLIMIT_DATA rather than the
    // address space (ulimit -v): Debian's ffmpeg maps 300 MB of shared libraries before it allocates anything.
    const limited = ['-c', 'ulimit -d "$1" && shift && exec "$@"', 'ffmpeg', String(Math.floor(maxMemoryBytes / 1024)), ffmpegPath, ...args];
    // An empty environment: no proxy variable may route the loopback URL elsewhere, no FFREPORT may write a log file.
    const child = spawn('/bin/sh', limited, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: {} });
    let stopped = false;
    let partialLine = '';
    const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
    const kill = (): void => {
      if (child.pid === undefined || exited()) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    };
    const onDeadline = (): void => {
      kill();
      child.stdout.destroy();
      child.stderr.destroy();
      // 'exit' rather than 'close': a killed process may leave its pipes to no one, and we read nothing more.
      if (exited()) reject(deadline.reason);
      else child.once('exit', () => reject(deadline.reason));
    };
    deadline.addEventListener('abort', onDeadline, { once: true });
    child.stdout.on('data', (chunk: Buffer) => {
      if (stopped || output.onStdout(chunk)) return;
      stopped = true;
      child.stdout.destroy();
      kill();
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      const lines = (partialLine + text).split(/\r?\n|\r/);
      partialLine = lines.pop()!.slice(0, STDERR_LINE_CAP);
      for (const line of lines) output.onStderrLine(line.slice(0, STDERR_LINE_CAP));
    });
    child.on('error', (error) => {
      deadline.removeEventListener('abort', onDeadline);
      reject(error);
    });
    child.on('close', (exitCode) => {
      deadline.removeEventListener('abort', onDeadline);
      if (partialLine) output.onStderrLine(partialLine);
      if (deadline.aborted) return;
      // The shell's own codes: ffmpeg could not be found or run, which is no fault of the video.
      if (exitCode === 126 || exitCode === 127) {
        reject(new Error(`ffmpeg could not be run (exit code ${exitCode}): check FFMPEG_PATH, and that VIDEO_MAX_MEMORY_BYTES leaves it room to load`));
      } else resolve({ exitCode, stopped });
    });
  });
}
