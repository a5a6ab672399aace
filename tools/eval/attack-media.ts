/**
 * Presentation and injection attacks built from the shared photos and videos, at run time and never stored: a still
 * photo turned into a video by ffmpeg, a photo moved in front of the camera as a flat object, a video whose face
 * changes identity half-way, capture objects. The tests and tools/eval-liveness.ts use the same builders.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { decodeVideo } from '../../src/media/video.js';
import { zip } from '../../test/helpers/zip.js';

const run = promisify(execFile);

export type VideoCodec = 'h264' | 'vp8' | 'vp9';

export interface EncodeOptions {
  codec: VideoCodec;
  fps: number;
  /** x264 CRF or libvpx CQ level: 0 best, higher worse. */
  quality: number;
  /** Strength of ffmpeg's per-frame (temporal) noise filter; 0 for none. */
  noise: number;
}

const encoders: Record<VideoCodec, { extension: string; args: (quality: number) => string[] }> = {
  h264: { extension: 'mp4', args: (q) => ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(q), '-pix_fmt', 'yuv420p', '-movflags', '+faststart'] },
  vp8: { extension: 'webm', args: (q) => ['-c:v', 'libvpx', '-crf', String(q), '-b:v', '1M', '-deadline', 'realtime', '-cpu-used', '8'] },
  vp9: { extension: 'webm', args: (q) => ['-c:v', 'libvpx-vp9', '-crf', String(q), '-b:v', '0', '-deadline', 'realtime', '-cpu-used', '8', '-row-mt', '1'] },
};

/** Video filters every builder ends with: even frame sizes (yuv420p needs them) and the optional per-frame noise. */
const finishingFilters = (noise: number): string => ['scale=trunc(iw/2)*2:trunc(ih/2)*2', ...(noise > 0 ? [`noise=alls=${noise}:allf=t+u`] : [])].join(',');

async function inTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'attack-media-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The photo upright (EXIF orientation applied) and at most 1280×720, as PNG: what an attacker would loop. */
const uprightFrame = (photo: Uint8Array): Promise<Buffer> =>
  sharp(photo).rotate().resize(1280, 720, { fit: 'inside', withoutEnlargement: true }).png().toBuffer();

/** A photo looped into a video by ffmpeg, as the cheapest injection attack makes one. */
export function stillVideo(ffmpegPath: string, photo: Uint8Array, seconds: number, options: EncodeOptions): Promise<Buffer> {
  return inTempDir(async (dir) => {
    const input = path.join(dir, 'photo.png');
    const output = path.join(dir, `still.${encoders[options.codec].extension}`);
    await writeFile(input, await uprightFrame(photo));
    await run(ffmpegPath, [
      '-nostdin', '-hide_banner', '-loglevel', 'error', '-loop', '1', '-framerate', String(options.fps), '-i', input, '-t', String(seconds),
      '-vf', finishingFilters(options.noise), '-r', String(options.fps), ...encoders[options.codec].args(options.quality), '-an', output,
    ]);
    return readFile(output);
  });
}

/** RGB frames, encoded by ffmpeg from raw video on its standard input. */
export function encodeFrames(ffmpegPath: string, frames: readonly Uint8Array[], width: number, height: number, options: EncodeOptions): Promise<Buffer> {
  return inTempDir(async (dir) => {
    const output = path.join(dir, `frames.${encoders[options.codec].extension}`);
    // No -nostdin here: the frames come on standard input.
    const args = [
      '-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(options.fps),
      '-i', 'pipe:0', '-vf', finishingFilters(options.noise), ...encoders[options.codec].args(options.quality), '-an', output,
    ];
    await new Promise<void>((resolve, reject) => {
      const child = spawn(ffmpegPath, args, { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}: ${stderr.slice(0, 500)}`))));
      child.stdin.on('error', reject);
      (async () => {
        for (const frame of frames) {
          if (!child.stdin.write(frame)) await new Promise((r) => child.stdin.once('drain', r));
        }
        child.stdin.end();
      })().catch(reject);
    });
    return readFile(output);
  });
}

export interface ClipPart {
  video: Uint8Array;
  startSeconds: number;
}

/** `seconds` of each clip from its start time, scaled to one size, joined: a face that changes identity half-way. */
export function spliceVideos(ffmpegPath: string, first: ClipPart, second: ClipPart, seconds: number, options: EncodeOptions): Promise<Buffer> {
  return inTempDir(async (dir) => {
    const inputs = [path.join(dir, 'a'), path.join(dir, 'b')];
    const output = path.join(dir, `splice.${encoders[options.codec].extension}`);
    await writeFile(inputs[0]!, first.video);
    await writeFile(inputs[1]!, second.video);
    const part = (input: number, start: number): string =>
      `[${input}:v]trim=${start}:${start + seconds},setpts=PTS-STARTPTS,fps=${options.fps},scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,setsar=1[v${input}]`;
    await run(ffmpegPath, [
      '-nostdin', '-hide_banner', '-loglevel', 'error', '-i', inputs[0]!, '-i', inputs[1]!,
      '-filter_complex', `${part(0, first.startSeconds)};${part(1, second.startSeconds)};[v0][v1]concat=n=2:v=1:a=0,${finishingFilters(options.noise)}[out]`,
      '-map', '[out]', ...encoders[options.codec].args(options.quality), '-an', output,
    ]);
    return readFile(output);
  });
}

/** `seconds` of a real clip from `startSeconds`, re-encoded (H.264, CRF 20): a shorter real video. */
export function cutVideo(ffmpegPath: string, video: Uint8Array, startSeconds: number, seconds: number): Promise<Buffer> {
  return inTempDir(async (dir) => {
    const [input, output] = [path.join(dir, 'in'), path.join(dir, 'cut.mp4')];
    await writeFile(input, video);
    await run(ffmpegPath, ['-nostdin', '-hide_banner', '-loglevel', 'error', '-ss', String(startSeconds), '-i', input, '-t', String(seconds), '-an', ...encoders.h264.args(20), output]);
    return readFile(output);
  });
}

// ---------------------------------------------------------------------------------------------------- flat motion

/** Mulberry32: a small seeded generator, so that every run builds the same attacks. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A smooth random path: the sum of two sinusoids of random phase, 0.1–0.6 Hz, peak `amplitude`. */
function smoothPath(random: () => number, amplitude: number): (t: number) => number {
  const waves = [0, 1].map(() => ({ frequency: 0.1 + 0.5 * random(), phase: 2 * Math.PI * random(), weight: 0.5 + random() }));
  const total = waves.reduce((s, w) => s + w.weight, 0);
  return (t) => (amplitude / total) * waves.reduce((s, w) => s + w.weight * Math.sin(2 * Math.PI * w.frequency * t + w.phase), 0);
}

export interface FlatMotion {
  /** Largest turn of the photo about its vertical and horizontal axes, in degrees (a print tilted, a phone turned). */
  tiltDegrees: number;
  /** Largest turn in its own plane, in degrees. */
  rollDegrees: number;
  /** Largest shift, as a share of the frame width. */
  shift: number;
  /** Largest change of distance to the camera, as a share of the distance. */
  zoom: number;
}

export const handheld: FlatMotion = { tiltDegrees: 15, rollDegrees: 6, shift: 0.06, zoom: 0.1 };

/**
 * Frames of a photo held in front of a camera and moved along a smooth random path, as a flat object moves: each
 * frame is the photo's plane turned and shifted in 3-D, seen through a pinhole camera, over a grey background.
 */
export async function flatMotionFrames(
  photo: Uint8Array,
  options: { width: number; height: number; fps: number; seconds: number; seed: number; motion: FlatMotion },
): Promise<Uint8Array[]> {
  const { data, info } = await sharp(photo).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const random = seededRandom(options.seed);
  const degrees = Math.PI / 180;
  const yaw = smoothPath(random, options.motion.tiltDegrees * degrees);
  const pitch = smoothPath(random, options.motion.tiltDegrees * degrees);
  const roll = smoothPath(random, options.motion.rollDegrees * degrees);
  const shiftX = smoothPath(random, options.motion.shift);
  const shiftY = smoothPath(random, options.motion.shift);
  const zoom = smoothPath(random, options.motion.zoom);
  const { width, height } = options;
  const focal = 1.2 * width;
  // The photo fills 90 % of the frame's height at the mean distance.
  const photoScale = (0.9 * height) / info.height;
  const frames: Uint8Array[] = [];
  for (let i = 0; i < Math.round(options.seconds * options.fps); i++) {
    const t = i / options.fps;
    const [cy, sy, cx, sx, cz, sz] = [Math.cos(yaw(t)), Math.sin(yaw(t)), Math.cos(pitch(t)), Math.sin(pitch(t)), Math.cos(roll(t)), Math.sin(roll(t))];
    // Columns of R = Rz · Rx · Ry applied to the plane's x and y axes.
    const r1 = [cz * cy + sz * sx * sy, sz * cy - cz * sx * sy, -cx * sy];
    const r2 = [-sz * cx, cz * cx, sx];
    const distance = focal * (1 + zoom(t));
    const translation = [shiftX(t) * width, shiftY(t) * width, distance];
    const frame = new Uint8Array(width * height * 3).fill(128);
    // A plane point (x, y) is seen at K · [r1 r2 T] · (x, y, 1); each pixel reads the plane through its inverse.
    const h = [
      [r1[0]!, r2[0]!, translation[0]!],
      [r1[1]!, r2[1]!, translation[1]!],
      [r1[2]!, r2[2]!, translation[2]!],
    ];
    const inverse = invert3(h);
    for (let py = 0; py < height; py++) {
      for (let px = 0; px < width; px++) {
        const rx = (px - width / 2) / focal;
        const ry = (py - height / 2) / focal;
        const w = inverse[2]![0]! * rx + inverse[2]![1]! * ry + inverse[2]![2]!;
        const planeX = (inverse[0]![0]! * rx + inverse[0]![1]! * ry + inverse[0]![2]!) / w;
        const planeY = (inverse[1]![0]! * rx + inverse[1]![1]! * ry + inverse[1]![2]!) / w;
        const u = planeX / photoScale + info.width / 2;
        const v = planeY / photoScale + info.height / 2;
        if (u < 0 || v < 0 || u >= info.width - 1 || v >= info.height - 1) continue;
        const [u0, v0] = [Math.floor(u), Math.floor(v)];
        const [fu, fv] = [u - u0, v - v0];
        const at = (v0 * info.width + u0) * 3;
        const below = at + info.width * 3;
        for (let c = 0; c < 3; c++) {
          frame[(py * width + px) * 3 + c] =
            (1 - fv) * ((1 - fu) * data[at + c]! + fu * data[at + 3 + c]!) + fv * ((1 - fu) * data[below + c]! + fu * data[below + 3 + c]!);
        }
      }
    }
    frames.push(frame);
  }
  return frames;
}

function invert3(m: readonly (readonly number[])[]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m as [[number, number, number], [number, number, number], [number, number, number]];
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
}

// ---------------------------------------------------------------------------------------------------- capture objects

const dataUrl = (jpeg: Uint8Array): string => `data:image/jpeg;base64,${Buffer.from(jpeg).toString('base64')}`;

/** The capture plugin's result object (no virtual camera) holding these JPEG frames and best frame. */
export function captureObject(frames: readonly Uint8Array[], bestFrame: Uint8Array): Buffer {
  return Buffer.from(
    JSON.stringify({ action: 'video_selfie_blank', best_frame: dataUrl(bestFrame), frame_list: frames.map(dataUrl), from_virtual_camera: null, additional_info: 'generated' }),
  );
}

/** A ZIP of JPEG frames, stored, in order: the capture plugin's frame archive. */
export const frameArchive = (frames: readonly Uint8Array[]): Buffer =>
  zip(frames.map((data, i) => ({ name: `frame_${String(i).padStart(3, '0')}.jpg`, data: Buffer.from(data) })));

/** `count` frames sampled evenly over a video by the service's own decoder, as JPEG (what a capture would send). */
export async function videoFramesAsJpeg(ffmpegPath: string, video: Uint8Array, count: number, startSeconds = 0, seconds = 30): Promise<Buffer[]> {
  const limits = { maxFrames: count, maxDurationSeconds: startSeconds + seconds, timeoutMs: 30_000, maxFramePixels: 921_600, maxSourcePixels: 4096 * 4096, maxMemoryBytes: 512 * 2 ** 20 };
  const decoded = await decodeVideo(video, limits, ffmpegPath);
  const frames = decoded.frames.filter((f) => f.timeSeconds >= startSeconds);
  return Promise.all(frames.map(({ raster }) => sharp(raster.data, { raw: { width: raster.width, height: raster.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer()));
}
