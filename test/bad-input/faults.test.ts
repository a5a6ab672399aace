/**
 * Faults behind bad input: an ffmpeg that hangs, crashes or talks nonsense, a model whose runs fail or answer
 * nonsense (in both API areas), and a model file missing or corrupt at start. Each is answered with its code, within
 * its time limit, leaves no process behind, and shows in health when it persists.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../../src/config.js';
import { loadModels, ModelLoadError } from '../../src/models/registry.js';
import { needsData, readData } from '../helpers/data.js';
import { postMultipart } from '../helpers/multipart.js';
import { type ModelFault, postImage, type TestService, startService } from '../helpers/service.js';
import { accepted, assertNo5xx, assertNoLeaks, assertStillServing, failedAnalysis, Ledger } from '../helpers/bad-input.js';

const face = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');
const selfieImage = await readData('spoof/silent_face/real/image_T1.jpg');
const selfieVideo = await readData('video/selfie_6s.mp4');

describe('ffmpeg that hangs, crashes or talks nonsense', needsData, () => {
  const ledger = new Ledger();
  let dir: string;
  const which = (command: string): string => spawnSync('sh', ['-c', `command -v ${command}`]).stdout.toString().trim();

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ffmpeg-stubs-'));
    const [sh, sleep, cat, head] = ['sh', 'sleep', 'cat', 'head'].map(which) as [string, string, string, string];
    const pids = path.join(dir, 'pids');
    const fakeDump =
      'Input #0, mov,mp4,m4a,3gp,3g2,mj2, from stub:\\n  Duration: 00:00:06.00, start: 0.000000, bitrate: 100 kb/s\\n    Stream #0:0(und): Video: h264 (High), yuv420p, 400x300, 30 fps, 30 tbr\\n';
    const stubs: Record<string, string> = {
      // A child of its own, so that the whole process group must go.
      hangs: `${sleep} 600 & echo "$$ $!" >> ${pids}\nwait`,
      'exits 1 at once': `echo "$$" >> ${pids}\nexit 1`,
      // A plausible probe, then random bytes for frames (and no frame log).
      'writes garbage frames': `echo "$$" >> ${pids}\ncase "$*" in\n  *rawvideo*) ${head} -c 20000000 /dev/urandom ;;\n  *) printf '${fakeDump}' >&2 ;;\nesac`,
      'floods stdout forever': `echo "$$" >> ${pids}\nexec ${cat} /dev/zero`,
    };
    for (const [name, script] of Object.entries(stubs)) {
      const file = path.join(dir, name.replaceAll(' ', '-'));
      await writeFile(file, `#!${sh}\n${script}\n`);
      await chmod(file, 0o755);
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Processes still running (zombies are dead) among the recorded pids, or whose command line names the stubs. */
  async function stubProcessesLeft(): Promise<string[]> {
    const recorded = existsSync(path.join(dir, 'pids')) ? (await readFile(path.join(dir, 'pids'), 'utf8')).split(/\s+/).filter(Boolean) : [];
    const left: string[] = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const [cmdline, stat] = await Promise.all([readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''), readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')]);
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (!stat || state === 'Z') continue;
      if (recorded.includes(pid) || cmdline.includes(dir)) left.push(`${pid} ${cmdline.replaceAll('\0', ' ')}`);
    }
    return left;
  }

  for (const stub of ['hangs', 'exits 1 at once', 'writes garbage frames', 'floods stdout forever']) {
    it(`an ffmpeg that ${stub}: the analysis fails with LDE-002004 within VIDEO_TIMEOUT_MS, and no process is left`, async () => {
      const service = await startService({ FFMPEG_PATH: path.join(dir, stub.replaceAll(' ', '-')), VIDEO_TIMEOUT_MS: '500' });
      try {
        const started = performance.now();
        await ledger.check(`an ffmpeg that ${stub}`, postMultipart(`${service.url}/v1/face/liveness/detect`, [{ name: 'v', filename: 'v.mp4', body: selfieVideo }]), failedAnalysis());
        const elapsed = performance.now() - started;
        assert.ok(elapsed < 500 + 1000, `answered after ${elapsed.toFixed(0)} ms`);
        assert.deepEqual(await stubProcessesLeft(), []);
        await assertStillServing(service, face);
      } finally {
        await service.close();
      }
      assertNo5xx(ledger.answers);
      assertNoLeaks(ledger.answers);
    });
  }
});

describe('a model whose runs fail, in both API areas', needsData, () => {
  const ledger = new Ledger();
  let template: Buffer;
  before(async () => {
    const healthy = await startService();
    template = Buffer.from(await (await postImage(`${healthy.url}/v1/face/pattern/extract`, face, 'image/jpeg')).arrayBuffer());
    await healthy.close();
  });

  /** Every inference method, with good inputs. */
  function requests(service: TestService): Record<string, () => Promise<Response>> {
    const pattern = (method: string): string => `${service.url}/v1/face/pattern/${method}`;
    const image = { contentType: 'image/jpeg', body: face };
    return {
      extract: () => postImage(pattern('extract'), face, 'image/jpeg'),
      verify: () => postMultipart(pattern('verify'), [{ name: 'sample', ...image }, { name: 'bio_template', body: template }]),
      extract_and_compare: () => postMultipart(pattern('extract_and_compare'), [{ name: 'sample_1', ...image }, { name: 'sample_2', ...image }]),
      verify_n: () => postMultipart(pattern('verify_n'), [{ name: 'sample_1', ...image }, { name: 'templates_n', filename: 'a.bin', body: template }]),
      extract_and_compare_n: () => postMultipart(pattern('extract_and_compare_n'), [{ name: 'sample_1', ...image }, { name: 'samples_n', filename: 'a.jpg', ...image }]),
      'liveness image': () => postImage(`${service.url}/v1/face/liveness/detect`, selfieImage, 'image/jpeg'),
      'liveness folder': () => postMultipart(`${service.url}/v1/face/liveness/detect`, [{ name: 'm', contentType: 'image/jpeg', body: selfieImage }]),
    };
  }

  const affected: [ModelFault['modelId'], string[]][] = [
    ['fr_detect', ['extract', 'verify', 'extract_and_compare', 'verify_n', 'extract_and_compare_n', 'liveness image', 'liveness folder']],
    ['fr_landmark', ['extract', 'verify', 'extract_and_compare', 'verify_n', 'extract_and_compare_n', 'liveness image', 'liveness folder']],
    ['fr_feature', ['extract', 'verify', 'extract_and_compare', 'verify_n', 'extract_and_compare_n']],
    ['fr_liveness', ['liveness image', 'liveness folder']],
  ];
  for (const [modelId, methods] of affected) {
    it(`${modelId} throwing: its methods answer the model-runtime code, the others still work, and health reports 3`, async () => {
      const service = await startService({}, { modelId, fault: 'runtime-error' });
      try {
        for (const [method, send] of Object.entries(requests(service))) {
          const code = method.startsWith('liveness') ? 'LDE-001002' : 'BPE-001002';
          await ledger.check(`${modelId} failing → ${method}`, send(), methods.includes(method) ? { code } : accepted);
        }
        // Health turns at three failed runs in a row.
        const [first] = methods as [string];
        for (let run = methods.length; run < 3; run++) {
          await ledger.check(`${modelId} failing → ${first}, run ${run + 1}`, requests(service)[first]!(), { code: first.startsWith('liveness') ? 'LDE-001002' : 'BPE-001002' });
        }
        for (const area of ['pattern', 'liveness']) {
          const health = await fetch(`${service.url}/v1/face/${area}/health`);
          assert.equal(health.status, 503);
          assert.deepEqual(await health.json(), { status: 3, message: `model ${modelId} failed its last 3 runs` });
        }
        assert.match(await (await fetch(`${service.url}/metrics`)).text(), new RegExp(`^face_api_model_run_failures_total\\{model="${modelId}"\\} [3-9]`, 'm'));
      } finally {
        await service.close();
      }
    });
  }

  it('a model answering nonsense is an internal error in both areas, with no detail', async () => {
    for (const modelId of ['fr_feature', 'fr_liveness'] as const) {
      const service = await startService({}, { modelId, fault: 'wrong-outputs' });
      try {
        const send = modelId === 'fr_feature' ? requests(service).extract! : requests(service)['liveness image']!;
        const code = modelId === 'fr_feature' ? 'BPE-001001' : 'LDE-001001';
        const body = (await ledger.check(`${modelId} answering nonsense`, send(), { code })) as { message: string };
        assert.ok(['Internal bioprocessor error', 'Liveness detection processor internal error'].includes(body.message), body.message);
      } finally {
        await service.close();
      }
    }
    assertNo5xx(ledger.answers, ['BPE-001001', 'LDE-001001']);
    assertNoLeaks(ledger.answers);
  });
});

describe('a model file missing or corrupt at start', () => {
  let root: string;
  const bundled = path.join(projectRoot, 'models');
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'bad-models-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  async function modelsWith(name: string, change: (dir: string) => Promise<void>): Promise<string> {
    const dir = path.join(root, name);
    await mkdir(dir);
    await copyFile(path.join(bundled, 'manifest.json'), path.join(dir, 'manifest.json'));
    for (const file of await readdir(bundled)) if (file.endsWith('.onnx')) await symlink(path.join(bundled, file), path.join(dir, file));
    await change(dir);
    return dir;
  }

  it('names the missing file', async () => {
    const dir = await modelsWith('missing', (d) => rm(path.join(d, 'fr_landmark.onnx')));
    await assert.rejects(loadModels(dir, { intraOpThreads: 1 }), (error: unknown) => {
      assert.ok(error instanceof ModelLoadError);
      assert.ok(error.message.includes(path.join(dir, 'fr_landmark.onnx')), error.message);
      assert.match(error.message, /missing/);
      return true;
    });
  });

  it('names the corrupt file', async () => {
    const dir = await modelsWith('corrupt', async (d) => {
      await rm(path.join(d, 'fr_liveness.onnx'));
      await writeFile(path.join(d, 'fr_liveness.onnx'), 'not a model');
    });
    await assert.rejects(loadModels(dir, { intraOpThreads: 1 }), (error: unknown) => {
      assert.ok(error instanceof ModelLoadError);
      assert.ok(error.message.includes(path.join(dir, 'fr_liveness.onnx')), error.message);
      assert.match(error.message, /corrupt/);
      return true;
    });
  });
});
