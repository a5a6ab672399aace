import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { ServiceError } from '../errors.js';
import type { Raster } from './raster.js';

export interface VideoLimits {
  /** Frames sampled at most, spread evenly over the clip. */
  maxFrames: number;
  /** Only this much of the clip, from its start, is considered. */
  maxDurationSeconds: number;
  /** Wall-clock budget of the whole decode, probing included. */
  timeoutMs: number;
  /** Larger frames are scaled down to this many pixels, aspect ratio kept. */
  maxFramePixels: number;
  /** Videos whose coded frames are larger are refused: from the probe, and by ffmpeg's decoders themselves. */
  maxSourcePixels: number;
  /** Data memory (RLIMIT_DATA: heap and anonymous mappings) each ffmpeg process may allocate. */
  maxMemoryBytes: number;
}

export interface VideoInfo {
  /** The container's duration; measured from the packets, up to maxDurationSeconds, when the container has none. */
  durationSeconds: number;
  /** The video stream's frame rate; 0 when ffmpeg reports none. */
  fps: number;
  /** The displayed size: after rotation metadata, before any scaling down. */
  width: number;
  height: number;
  /** ffmpeg's codec name, e.g. h264, vp8. */
  codec: string;
  container: Container;
}

export interface VideoFrame {
  raster: Raster;
  /** On the clip's timeline, as ffmpeg presents it (starting at or near 0). */
  timeSeconds: number;
}

export interface DecodedVideo {
  info: VideoInfo;
  frames: VideoFrame[];
}

/** The only demuxers ffmpeg may use, by the first of the names ffmpeg gives them, and what we call them. */
const containers = { mov: 'mp4/mov', matroska: 'matroska/webm', avi: 'avi' } as const;

export type Container = (typeof containers)[keyof typeof containers];

/**
 * Samples up to `maxFrames` frames of a video, evenly over its first `maxDurationSeconds`, as RGB rasters (rotation
 * metadata applied, scaled down to `maxFramePixels`). Nothing touches the disk: ffmpeg reads the bytes from a loopback
 * HTTP server that lives as long as the call, because MP4s with their index at the end need seekable input, which
 * stdin is not. Input that is not a decodable video in an MP4/MOV, Matroska/WebM or AVI container, whose frames are
 * larger than `maxSourcePixels`, that needs more than `maxMemoryBytes` to decode, or that is not decoded within
 * `timeoutMs`, is an unreadable sample.
 *
 * ffmpeg's memory is bounded three ways, because a few kilobytes can declare frames of any size: the probe reads
 * the frame size and refuses large ones before any frame is decoded for sampling; `-max_pixels` makes ffmpeg's own
 * decoders refuse a larger frame (also when the container states a small size and the frames inside are large, and
 * in the probe's own look at the first frame); and each ffmpeg runs under RLIMIT_DATA, so that whatever else it
 * would allocate fails inside ffmpeg instead of growing the pod. A 3 MB AVI of two 16000×16000 frames grew ffmpeg by
 * 2.4–3 GB before.
 */
export async function decodeVideo(
  bytes: Uint8Array,
  limits: VideoLimits,
  ffmpegPath: string = ffmpegInstaller.path,
  cancel?: AbortSignal,
): Promise<DecodedVideo> {
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  // ffmpeg is killed on the wall-clock limit, or when the caller no longer wants the frames (its client has gone).
  const deadline = cancel ? AbortSignal.any([timeout, cancel]) : timeout;
  const source = await serveFromMemory(bytes);
  try {
    const info = await probe(ffmpegPath, source.url, limits, deadline);
    const frames = await sampleFrames(ffmpegPath, source.url, info, limits, deadline);
    return { info, frames };
  } catch (error) {
    cancel?.throwIfAborted();
    if (deadline.aborted) {
      throw new ServiceError('sample-unreadable', `the video could not be decoded within ${limits.timeoutMs / 1000} s`);
    }
    throw error;
  } finally {
    await source.close();
  }
}

/** Input options of every run: ffmpeg may open nothing but the loopback URL, and only as one of our containers. */
function inputArgs(url: string, limits: VideoLimits): string[] {
  return [
    '-nostdin',
    '-hide_banner',
    '-nostats',
    '-protocol_whitelist',
    'http,tcp',
    '-format_whitelist',
    Object.keys(containers).join(','),
    '-threads',
    '1',
    '-max_pixels',
    String(limits.maxSourcePixels),
    '-t',
    String(limits.maxDurationSeconds),
    '-i',
    url,
  ];
}

/** What ffmpeg's decoders log when a frame is larger than -max_pixels. */
const OVER_MAX_PIXELS = /Picture size (\d+)x(\d+) exceeds specified max pixel count/;

const tooLarge = (width: number, height: number, limits: VideoLimits): ServiceError =>
  new ServiceError('sample-unreadable', `the video's frames are ${width}×${height}, more than ${limits.maxSourcePixels} pixels`);

/**
 * Reads the container, codec, size, rotation and frame rate from ffmpeg's dump of the input, and measures the
 * duration by demuxing the video packets without decoding them (for containers that do not state it, like WebM
 * from a browser's MediaRecorder).
 */
async function probe(ffmpegPath: string, url: string, limits: VideoLimits, deadline: AbortSignal): Promise<VideoInfo> {
  let dump = '';
  let progress = '';
  const args = [...inputArgs(url, limits), '-loglevel', 'info', '-map', '0:v:0', '-c', 'copy', '-f', 'null', '-progress', 'pipe:1', '-'];
  await runFfmpeg(ffmpegPath, args, limits, deadline, {
    onStdout: (chunk) => {
      progress = (progress + chunk.toString('latin1')).slice(-4096);
      return true;
    },
    onStderrLine: (line) => {
      if (dump.length < DUMP_CAP) dump += `${line}\n`;
    },
  });
  if (/not on whitelist/.test(dump)) throw new ServiceError('sample-unreadable', 'the container is not MP4/MOV, Matroska/WebM or AVI');
  const refused = OVER_MAX_PIXELS.exec(dump);
  if (refused) throw tooLarge(Number(refused[1]), Number(refused[2]), limits);
  const input = inputSection(dump);
  if (!input) throw new ServiceError('sample-unreadable', 'the bytes are not a readable video');
  const stream = /Stream #0:\d+.*?: Video: (\w+)(.*)((?:\n(?! *Stream #) {4,}.*)*)/.exec(input.text);
  if (!stream) throw new ServiceError('sample-unreadable', 'the file holds no video stream');
  const [, codec = '', details = '', metadata = ''] = stream;
  const size = /, (\d+)x(\d+)\b/.exec(details);
  const [codedWidth, codedHeight] = [Number(size?.[1]), Number(size?.[2])];
  if (!(codedWidth > 0 && codedHeight > 0)) throw new ServiceError('sample-unreadable', 'the video stream has no frame size');
  if (codedWidth * codedHeight > limits.maxSourcePixels) throw tooLarge(codedWidth, codedHeight, limits);
  const turned = Math.abs(Math.abs(rotationDegrees(metadata) % 180) - 90) < 1;
  const durationSeconds = input.durationSeconds ?? lastTimestamp(progress);
  if (durationSeconds === undefined) throw new ServiceError('sample-unreadable', 'the video holds no frame');
  return {
    durationSeconds,
    fps: rate(/, ([\d.]+)(k?) fps/.exec(details)) ?? rate(/, ([\d.]+)(k?) tbr/.exec(details)) ?? 0,
    width: turned ? codedHeight : codedWidth,
    height: turned ? codedWidth : codedHeight,
    codec,
    container: input.container,
  };
}

// The input dump is at the start of stderr; a crafted file's metadata could make it long.
const DUMP_CAP = 64 * 1024;

/** The dump of input #0 (ffmpeg dumps the output after it, in the same format), its container and stated duration. */
function inputSection(stderr: string): { text: string; container: Container; durationSeconds: number | undefined } | undefined {
  const start = /^Input #0, (\w+)[^\n]*/m.exec(stderr);
  const container = start && containers[start[1] as keyof typeof containers];
  if (!start || !container) return undefined;
  const rest = stderr.slice(start.index);
  const end = rest.search(/^(Output #0|Stream mapping:)/m);
  const text = end < 0 ? rest : rest.slice(0, end);
  const duration = /Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(text);
  const durationSeconds = duration ? Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]) : undefined;
  return { text, container, durationSeconds };
}

/** The display rotation, from the `rotate` tag or the display matrix ffmpeg reports; 0 when neither is there. */
function rotationDegrees(metadata: string): number {
  const angle = /rotate\s*: (-?[\d.]+)/.exec(metadata) ?? /displaymatrix: rotation of (-?[\d.]+) degrees/.exec(metadata);
  return angle ? Number(angle[1]) : 0;
}

/** ffmpeg writes rates of 1000 and more as e.g. "1k". */
function rate(match: RegExpExecArray | null): number | undefined {
  return match ? Number(match[1]) * (match[2] ? 1000 : 1) : undefined;
}

/** The time of the last packet demuxed, from the final block of ffmpeg's -progress output. */
function lastTimestamp(progress: string): number | undefined {
  const times = [...progress.matchAll(/^out_time=(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/gm)];
  const last = times.at(-1);
  return last ? Number(last[1]) * 3600 + Number(last[2]) * 60 + Number(last[3]) : undefined;
}

/**
 * Decodes frames evenly spread over the considered span: ffmpeg's fps filter picks the frame nearest to each tick,
 * at a rate no higher than the clip's own so that no frame is returned twice, and scales every frame to one size we
 * compute, which is what lets us cut ffmpeg's output into frames. showinfo logs each frame's time.
 */
async function sampleFrames(ffmpegPath: string, url: string, info: VideoInfo, limits: VideoLimits, deadline: AbortSignal): Promise<VideoFrame[]> {
  const span = Math.min(info.durationSeconds, limits.maxDurationSeconds);
  // A clip of one frame spans no time: any rate then yields that frame.
  const sampling = limits.maxFrames / Math.max(span, 1e-3);
  const fps = info.fps > 0 ? Math.min(sampling, info.fps) : sampling;
  const scale = Math.min(1, Math.sqrt(limits.maxFramePixels / (info.width * info.height)));
  const width = Math.max(1, Math.floor(info.width * scale));
  const height = Math.max(1, Math.floor(info.height * scale));
  const frameBytes = width * height * 3;
  const args = [
    ...inputArgs(url, limits),
    '-loglevel',
    'info',
    '-filter_threads',
    '1',
    '-map',
    '0:v:0',
    '-vf',
    `fps=${fps.toFixed(6)},scale=${width}:${height},showinfo`,
    '-vsync',
    'passthrough',
    '-frames:v',
    String(limits.maxFrames),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];

  const rasters: Raster[] = [];
  const times: number[] = [];
  let pending = new Uint8Array(frameBytes);
  let filled = 0;
  let refused: ServiceError | undefined;
  const run = await runFfmpeg(ffmpegPath, args, limits, deadline, {
    onStdout: (chunk) => {
      for (let offset = 0; offset < chunk.length; ) {
        // More than maxFrames frames is ffmpeg misbehaving: stop reading rather than let it fill memory.
        if (rasters.length === limits.maxFrames) return false;
        const taken = Math.min(frameBytes - filled, chunk.length - offset);
        pending.set(chunk.subarray(offset, offset + taken), filled);
        filled += taken;
        offset += taken;
        if (filled === frameBytes) {
          rasters.push({ width, height, data: pending });
          pending = new Uint8Array(frameBytes);
          filled = 0;
        }
      }
      return true;
    },
    onStderrLine: (line) => {
      const time = /^\[Parsed_showinfo_\d+ @ \w+\] n: *\d+ pts: *-?\d+ pts_time:(-?[\d.]+)/.exec(line);
      if (time && times.length < limits.maxFrames) times.push(Number(time[1]));
      const over = OVER_MAX_PIXELS.exec(line);
      if (over) refused ??= tooLarge(Number(over[1]), Number(over[2]), limits);
      // A decoder that cannot allocate its frame under RLIMIT_DATA says get_buffer() failed; elsewhere ENOMEM.
      if (/get_buffer\(\) failed|Cannot allocate memory/.test(line)) {
        refused ??= new ServiceError('sample-unreadable', `decoding the video needs more than ${limits.maxMemoryBytes} bytes of memory`);
      }
    },
  });
  if (refused && rasters.length < limits.maxFrames) throw refused;
  if ((run.exitCode !== 0 && !run.stopped) || rasters.length === 0) {
    throw new ServiceError('sample-unreadable', 'no frame of the video could be decoded');
  }
  // Frames without their logged time are not frames ffmpeg decoded from this input: the output cannot be trusted.
  if (times.length < rasters.length) throw new ServiceError('sample-unreadable', 'the decoder did not account for the frames it produced');
  return rasters.map((raster, i) => ({ raster, timeSeconds: times[i]! }));
}

interface FfmpegOutput {
  /** Returns false to stop ffmpeg: nothing more is wanted. */
  onStdout(chunk: Buffer): boolean;
  onStderrLine(line: string): void;
}

interface FfmpegRun {
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
function runFfmpeg(ffmpegPath: string, args: string[], limits: Pick<VideoLimits, 'maxMemoryBytes'>, deadline: AbortSignal, output: FfmpegOutput): Promise<FfmpegRun> {
  return new Promise((resolve, reject) => {
    if (deadline.aborted) return reject(deadline.reason);
    // The shell sets the limit and becomes ffmpeg (exec: same process, same group). RLIMIT_DATA rather than the
    // address space (ulimit -v): Debian's ffmpeg maps 300 MB of shared libraries before it allocates anything.
    const limited = ['-c', 'ulimit -d "$1" && shift && exec "$@"', 'ffmpeg', String(Math.floor(limits.maxMemoryBytes / 1024)), ffmpegPath, ...args];
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

interface MemorySource {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `bytes` at an unguessable path of a loopback HTTP server on a free port, with Range requests (ffmpeg
 * seeks by reconnecting at an offset). Any other path or method is a 404.
 */
async function serveFromMemory(bytes: Uint8Array): Promise<MemorySource> {
  const path = `/${randomBytes(16).toString('hex')}`;
  const server = createServer((request, response) => {
    if (request.url !== path || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404).end();
      return;
    }
    const total = bytes.length;
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range?.[2] ? Math.min(Number(range[2]), total - 1) : total - 1;
    if (range && (start >= total || end < start)) {
      response.writeHead(416, { 'Content-Range': `bytes */${total}` }).end();
      return;
    }
    response.writeHead(range ? 206 : 200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': end - start + 1,
      'Accept-Ranges': 'bytes',
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${total}` } : {}),
    });
    response.end(request.method === 'HEAD' ? undefined : bytes.subarray(start, end + 1));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
