/**
 * The capture flow of examples/web-capture in a real browser: Debian's Chromium, driven over the DevTools protocol by
 * puppeteer-core (which downloads no browser), with a fake camera fed from a video file. The page captures frames,
 * builds the capture plugin's result object and posts it to the example's host backend, which sends the frames to the
 * real service's liveness method as a ZIP; the page shows the verdict.
 *
 * WEB_CAPTURE_SCREENSHOT=docs/web-capture.png keeps a screenshot of the page with the verdict of the live run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import puppeteer from 'puppeteer-core';
import { createCaptureBackend, type Verdict } from '../../examples/web-capture/server.js';
import { loadConfig } from '../../src/config.js';
import { dataMissing, dataPath } from '../helpers/data.js';
import { type TestService, startService } from '../helpers/service.js';

// Skipped without Chromium, except on CI, where .ci/run installs it: there it must run.
const CHROMIUM = '/usr/bin/chromium';
const reason = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not installed (.ci/run installs Debian's chromium)`;
if (reason) process.stdout.write(`# ${process.env.CI ? 'cannot run' : 'skipping'} the browser test: ${reason}\n`);

/** The service's own ffmpeg, which also makes the fake camera's file: raw YUV frames in a Y4M container, 15 fps. */
const ffmpeg = (args: string[]) => promisify(execFile)(loadConfig({}).ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-y', ...args]);

interface Run {
  verdict: Verdict;
  shown: string | undefined;
  screenshot: Uint8Array;
}

describe('web capture example in Chromium', { skip: dataMissing ?? (reason && !process.env.CI ? reason : false), timeout: 120_000 }, () => {
  let service: TestService;
  let backend: ReturnType<typeof createCaptureBackend>;
  let pageUrl: string;
  let dir: string;

  /** Opens the page in a new Chromium whose camera plays `cameraFile`, clicks the button and waits for the verdict. */
  async function capture(cameraFile: string): Promise<Run> {
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: await mkdtemp(path.join(dir, 'profile-')),
      args: [
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
        '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        `--use-file-for-fake-video-capture=${cameraFile}`,
        // No background connections: the machine's network is closed, and each refused one slows the start.
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 760, height: 820 });
      await page.goto(pageUrl);
      const answered = page.waitForResponse((response) => response.url().endsWith('/api/liveness'), { timeout: 60_000 });
      await page.click('#start');
      const verdict = (await (await answered).json()) as Verdict;
      await page.waitForSelector('#verdict[data-verdict]');
      const shown = await page.$eval('#verdict', (element) => element.getAttribute('data-verdict') ?? undefined);
      return { verdict, shown, screenshot: await page.screenshot({ fullPage: true }) };
    } finally {
      await browser.close();
    }
  }

  before(async () => {
    if (reason) throw new Error(reason);
    dir = await mkdtemp(path.join(os.tmpdir(), 'web-capture-test-'));
    service = await startService();
    backend = createCaptureBackend({ faceApiUrl: service.url });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/`;
  });

  after(async () => {
    await new Promise((resolve) => backend?.close(resolve));
    await service?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('judges a live person live: frames of a real selfie video, through the page, the host backend and the API', async () => {
    const camera = path.join(dir, 'selfie.y4m');
    await ffmpeg(['-i', dataPath('video', 'selfie_6s.mp4'), '-vf', 'scale=640:-2', '-r', '15', '-pix_fmt', 'yuv420p', camera]);
    const run = await capture(camera);
    assert.equal(run.verdict.verdict, 'live', JSON.stringify(run.verdict));
    assert.equal(run.shown, 'live');
    assert.equal(run.verdict.frames, 12);
    assert.ok(run.verdict.confidenceSpoofing !== null && run.verdict.confidenceSpoofing < 0.5);
    assert.deepEqual([...run.screenshot.subarray(1, 4)], [...Buffer.from('PNG')]);
    if (process.env.WEB_CAPTURE_SCREENSHOT) await writeFile(process.env.WEB_CAPTURE_SCREENSHOT, run.screenshot);
  });

  it('declines a camera that shows one still photo', async () => {
    const still = path.join(dir, 'still.png');
    await ffmpeg(['-i', dataPath('video', 'selfie_6s.mp4'), '-frames:v', '1', '-vf', 'scale=640:-2', still]);
    const camera = path.join(dir, 'still.y4m');
    await ffmpeg(['-loop', '1', '-framerate', '15', '-i', still, '-t', '4', '-pix_fmt', 'yuv420p', camera]);
    const run = await capture(camera);
    assert.equal(run.verdict.verdict, 'declined', JSON.stringify(run.verdict));
    assert.equal(run.shown, 'declined');
  });
});
