import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadFaceModels } from '../../src/compose.js';
import { loadConfig } from '../../src/config.js';
import { families } from '../../src/models/families.js';
import { ModelLoadError } from '../../src/models/registry.js';
import { fakeRuntime, writeFakeModels } from '../helpers/fake-models.js';

type Manifest = { pipeline: Record<string, unknown>; models: Record<string, unknown>[] };

describe('loading models through the family table (fast tier)', () => {
  let root: string;
  let count = 0;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'fake-models-load-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  /** Loads a fake models directory, edited, the way every entry point loads models. */
  async function load(edit?: (manifest: Manifest) => void) {
    const dir = path.join(root, String(count++));
    await writeFakeModels(dir, edit as (manifest: Record<string, unknown>) => void);
    return loadFaceModels(loadConfig({ MODELS_DIR: dir, LOG_LEVEL: 'silent' }), {}, fakeRuntime);
  }
  const model = (manifest: Manifest, id: string): Record<string, unknown> => manifest.models.find((m) => m.id === id)!;

  it('gives each role the model the manifest assigns it, built by its family', async () => {
    const registry = await load();
    assert.deepEqual(
      [registry.roles.detector.family, registry.roles.landmarker?.family, registry.roles.embedder.family, registry.roles.antiSpoof.map((m) => m.family)],
      ['detector.ultraface', 'landmarker.68', 'embedder.arcface', ['antispoof.classifier']],
    );
    assert.deepEqual([...registry.models.values()].map(({ entry }) => families[entry.family].role), ['detector', 'landmarker', 'embedder', 'antiSpoof']);
    await registry.release();
  });

  it('refuses a graph that does not fit its family, naming the model and the family', async () => {
    await assert.rejects(
      load((manifest) => {
        model(manifest, 'fake_antispoof').params = { cropScale: 2.7, liveClassIndex: 2 };
      }),
      (error: unknown) => error instanceof ModelLoadError && /model "fake_antispoof" does not fit its family antispoof\.classifier: .*no class 2/.test(error.message),
    );
  });

  it('refuses an input whose channels its colour order does not have', async () => {
    await assert.rejects(
      load((manifest) => {
        (model(manifest, 'fake_embedder').input as { channelOrder: string }).channelOrder = 'GRAY';
      }),
      /model "fake_embedder" does not fit its family embedder\.arcface: input has 3 channels, GRAY needs 1/,
    );
  });

  it('refuses a file that is not the listed one, and a family the table does not have', async () => {
    const dir = path.join(root, 'corrupt');
    await writeFakeModels(dir);
    await writeFile(path.join(dir, 'fake_embedder.onnx'), `${await readFile(path.join(dir, 'fake_embedder.onnx'), 'utf8')} `);
    await assert.rejects(loadFaceModels(loadConfig({ MODELS_DIR: dir, LOG_LEVEL: 'silent' }), {}, fakeRuntime), /fake_embedder.*corrupt/);
    await assert.rejects(
      load((manifest) => {
        model(manifest, 'fake_embedder').family = 'embedder.facenet';
      }),
      /models\.2\.family/,
    );
  });

  it('refuses a role given to a model of another role', async () => {
    await assert.rejects(
      load((manifest) => {
        manifest.pipeline.embedder = 'fake_landmarker';
      }),
      /pipeline\.embedder "fake_landmarker" is a landmarker\.68, not a model of role embedder/,
    );
  });
});
