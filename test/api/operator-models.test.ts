import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadFaceModels } from '../../src/compose.js';
import { loadConfig, projectRoot } from '../../src/config.js';
import { stillVideo, videoFramesAsJpeg } from '../../tools/eval/attack-media.js';
import { dataPath, needsData, readData } from '../helpers/data.js';
import { postMultipart } from '../helpers/multipart.js';
import { expectError, postImage, type TestService, startService } from '../helpers/service.js';

/** An example operator manifest of the README, with its files linked from the shared data (never copied). */
async function operatorModelsDir(
  root: string,
  name: string,
  edit?: (manifest: { models: Record<string, unknown>[] }) => void,
  example = 'operator-models',
): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir);
  const manifest = JSON.parse(await readFile(path.join(projectRoot, 'examples', example, 'manifest.json'), 'utf8')) as {
    models: Record<string, unknown>[];
  };
  edit?.(manifest);
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  for (const file of ['face_detection_yunet_2023mar.onnx', '2.7_80x80_MiniFASNetV2.onnx', '4_0_0_80x80_MiniFASNetV1SE.onnx', 'facenox_minifasnetv2se_128.onnx']) {
    await symlink(dataPath('models', file), path.join(dir, file));
  }
  for (const file of ['fr_feature.onnx', 'fr_landmark.onnx']) await symlink(path.join(projectRoot, 'models', file), path.join(dir, file));
  return dir;
}

describe('operator models: YuNet detector, bundled embedder, MiniFASNet V2 + V1SE ensemble', needsData, () => {
  let root: string;
  let service: TestService;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'operator-models-'));
    service = await startService({ MODELS_DIR: await operatorModelsDir(root, 'yunet-minifasnet') });
  });
  after(async () => {
    await service.close();
    await rm(root, { recursive: true, force: true });
  });

  it('/version lists the models in use', async () => {
    const version = (await (await fetch(`${service.url}/version`)).json()) as { models: { name: string }[] };
    assert.deepEqual(version.models.map((m) => m.name), ['yunet_2023mar', 'fr_feature', 'minifasnet_v2', 'minifasnet_v1se']);
  });

  it('extracts templates, finds no face where there is none and two people in the group photos', async () => {
    const extract = `${service.url}/v1/face/pattern/extract`;
    const response = await postImage(extract, await readData('faces/face_recognition_examples/barack_obama/obama.jpg'), 'image/jpeg');
    assert.equal(response.status, 200);
    assert.equal((await response.arrayBuffer()).byteLength, 2064);
    await expectError(await postImage(extract, await readData('no_face/skimage/chelsea.png'), 'image/png'), 400, 'BPE-003002');
    await expectError(await postImage(extract, await readData('multi_face/face_recognition/obama_and_biden.jpg'), 'image/jpeg'), 400, 'BPE-003003');
    const document = await postImage(extract, await readData('documents/passporteye_testdata/100_pass-cze.jpg'), 'image/jpeg');
    assert.equal(document.status, 200, 'a document with a ghost portrait still gives one template');
  });

  it('matches one person and declines two', async () => {
    const compare = async (a: string, b: string): Promise<string> => {
      const response = await postMultipart(`${service.url}/v1/face/pattern/extract_and_compare`, [
        { name: 'sample_1', contentType: 'image/jpeg', body: await readData(a) },
        { name: 'sample_2', contentType: 'image/jpeg', body: await readData(b) },
      ]);
      return ((await response.json()) as { decision: string }).decision;
    };
    assert.equal(await compare('faces/face_recognition_examples/barack_obama/obama.jpg', 'faces/face_recognition_examples/barack_obama/obama2.jpg'), 'approved');
    assert.equal(await compare('faces/face_recognition_examples/barack_obama/obama.jpg', 'faces/face_recognition_examples/joe_biden/biden.jpg'), 'declined');
  });

  it('accepts templates of the bundled set: the embedder, and so the template fingerprint, is the same', async () => {
    const bundled = await startService();
    try {
      const face = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');
      const fromBundled = Buffer.from(await (await postImage(`${bundled.url}/v1/face/pattern/extract`, face, 'image/jpeg')).arrayBuffer());
      const response = await postMultipart(`${service.url}/v1/face/pattern/verify`, [
        { name: 'sample', contentType: 'image/jpeg', body: face },
        { name: 'bio_template', body: fromBundled },
      ]);
      assert.equal(response.status, 200);
      assert.equal((JSON.parse((await response.formData()).get('score') as string) as { decision: string }).decision, 'approved');
    } finally {
      await bundled.close();
    }
  });

  it('scores liveness with the ensemble: the live photo passes, the printed photos do not, the selfie video succeeds', async () => {
    const detect = `${service.url}/v1/face/liveness/detect`;
    const live = (await (await postImage(detect, await readData('spoof/silent_face/real/image_T1.jpg'), 'image/jpeg')).json()) as { passed: boolean };
    assert.equal(live.passed, true);
    for (const file of ['spoof/silent_face/spoof/image_F1.jpg', 'spoof/silent_face/spoof/image_F2.jpg']) {
      const attack = (await (await postImage(detect, await readData(file), 'image/jpeg')).json()) as { passed: boolean };
      assert.equal(attack.passed, false, file);
    }
    const folder = (await (await postMultipart(detect, [{ name: 'v', filename: 'v.mp4', body: await readData('video/selfie_6s.mp4') }])).json()) as {
      system_resolution: string;
    };
    assert.equal(folder.system_resolution, 'SUCCESS');
  });
});

for (const [example, antiSpoof] of [
  ['operator-models-facenox', ['facenox_minifasnetv2se_128']],
  ['operator-models-ensemble', ['minifasnet_v2', 'minifasnet_v1se', 'facenox_minifasnetv2se_128']],
] as const) {
  describe(`operator models: ${example} (the facenox anti-spoof model fed as its MANIFEST.md entry says)`, needsData, () => {
    let root: string;
    let service: TestService;
    let detect: string;
    before(async () => {
      root = await mkdtemp(path.join(os.tmpdir(), 'operator-models-'));
      service = await startService({ MODELS_DIR: await operatorModelsDir(root, example, undefined, example) });
      detect = `${service.url}/v1/face/liveness/detect`;
    });
    after(async () => {
      await service.close();
      await rm(root, { recursive: true, force: true });
    });

    it('/version lists the anti-spoof models of the manifest', async () => {
      const version = (await (await fetch(`${service.url}/version`)).json()) as { models: { name: string }[] };
      assert.deepEqual(version.models.map((m) => m.name).slice(2), antiSpoof);
    });

    it('passes the live photo of silent_face and fails its printed photos', async () => {
      const score = async (file: string): Promise<number> => ((await (await postImage(detect, await readData(file), 'image/jpeg')).json()) as { score: number }).score;
      assert.ok((await score('spoof/silent_face/real/image_T1.jpg')) < 0.5);
      for (const file of ['spoof/silent_face/spoof/image_F1.jpg', 'spoof/silent_face/spoof/image_F2.jpg']) assert.ok((await score(file)) >= 0.5, file);
    });

    it('passes the real videos, and declines the selfie looped from one of its frames', async () => {
      const selfie = await readData('video/selfie_6s.mp4');
      const analyse = async (body: Buffer): Promise<{ resolution_status: string; results_media: { results_data: { decided_by: string } }[] }> => {
        const folder = (await (await postMultipart(detect, [{ name: 'v', body }])).json()) as { analyses: { resolution_status: string; results_media: { results_data: { decided_by: string } }[] }[] };
        return folder.analyses[0]!;
      };
      assert.equal((await analyse(selfie)).resolution_status, 'SUCCESS');
      // YuNet finds two people of 22-24 pixels in this TV scene, the larger in turn: too small to tell apart.
      assert.equal((await analyse(await readData('video/faceapi_test_video.mp4'))).resolution_status, 'SUCCESS');
      const [frame] = await videoFramesAsJpeg(service.config.ffmpegPath, selfie, 1);
      const still = await analyse(await stillVideo(service.config.ffmpegPath, frame!, 3, { codec: 'vp8', fps: 25, quality: 20, noise: 10 }));
      assert.equal(still.resolution_status, 'DECLINED');
      assert.equal(still.results_media[0]!.results_data.decided_by, 'still_image');
    });
  });
}

describe('operator models that do not fit their family', needsData, () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'operator-models-bad-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  /** Loads the models as every entry point does: sha256, graphs against the manifest, family contracts. */
  const start = async (dir: string): Promise<void> => {
    const registry = await loadFaceModels(loadConfig({ MODELS_DIR: dir, LOG_LEVEL: 'silent' }), { intraOpThreads: 1, workers: 1 });
    await registry.release();
  };

  it('refuses a YuNet file declared as an UltraFace detector, naming the model and the missing outputs', async () => {
    const bundled = JSON.parse(await readFile(path.join(projectRoot, 'models', 'manifest.json'), 'utf8')) as { models: Record<string, unknown>[] };
    const dir = await operatorModelsDir(root, 'wrong-family', (manifest) => {
      manifest.models.push(bundled.models.find((m) => m.id === 'fr_landmark')!);
      (manifest as unknown as { pipeline: Record<string, unknown> }).pipeline.landmarker = 'fr_landmark';
      const yunet = manifest.models.find((m) => m.id === 'yunet_2023mar')!;
      yunet.family = 'detector.ultraface';
      yunet.outputs = [{ name: 'scores', shape: [1, 16800, 2] }, { name: 'boxes', shape: [1, 16800, 4] }];
      delete (yunet.params as Record<string, unknown>).strides;
    });
    await assert.rejects(start(dir), /model "yunet_2023mar".*graph has no output "scores"/);
  });

  it('refuses an anti-spoof model whose live class is not among its outputs', async () => {
    const dir = await operatorModelsDir(root, 'no-such-class', (manifest) => {
      (manifest.models.find((m) => m.id === 'minifasnet_v2')!.params as Record<string, unknown>).liveClassIndex = 5;
    });
    await assert.rejects(start(dir), /model "minifasnet_v2" does not fit its family antispoof.classifier: the classifier's output has no class 5/);
  });

  it('refuses a YuNet declared with strides its outputs do not have', async () => {
    const dir = await operatorModelsDir(root, 'wrong-strides', (manifest) => {
      (manifest.models.find((m) => m.id === 'yunet_2023mar')!.params as Record<string, unknown>).strides = [8, 16, 64];
    });
    await assert.rejects(start(dir), /model "yunet_2023mar" does not fit its family detector.yunet: a YuNet detector has an output "cls_64"/);
  });
});
