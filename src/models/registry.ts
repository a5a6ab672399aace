import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { contractProblems } from './families.js';
import { type ModelEntry, type ModelManifest, type ModelRoles, readManifest, roleModels } from './manifest.js';
import { createInferencePool, type InferencePool, type InferenceRuntime, type ModelSession, ModelRuntimeLoadError, type SessionOptions } from './session.js';

export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
}

export interface LoadedModel {
  entry: ModelEntry;
  session: ModelSession;
  /** Milliseconds the warm-up run took. */
  warmupMs: number;
}

export interface ModelRegistry {
  manifest: ModelManifest;
  roles: ModelRoles;
  models: ReadonlyMap<string, LoadedModel>;
  session(id: string): ModelSession;
  release(): Promise<void>;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readVerified(modelsDir: string, entry: ModelEntry): Promise<Uint8Array> {
  const file = path.join(modelsDir, entry.file);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file is missing' : (error as Error).message;
    throw new ModelLoadError(`model "${entry.id}" (${file}): ${reason}; run "npm run models" to fetch the bundled models`);
  }
  const actual = sha256(bytes);
  if (actual !== entry.sha256) {
    throw new ModelLoadError(
      `model "${entry.id}" (${file}) is corrupt or not the listed model: sha256 ${actual}, manifest says ${entry.sha256}`,
    );
  }
  return bytes;
}

/**
 * Checks that the graph's input and outputs are the ones the manifest declares, so preprocessing fits the model, and
 * that it has what its family's pre/post-processing needs.
 */
function checkGraph(entry: ModelEntry, session: ModelSession): void {
  const problems: string[] = [];
  const input = session.inputs.find((i) => i.name === entry.input.name);
  if (session.inputs.length !== 1 || !input) {
    problems.push(`expected one input "${entry.input.name}", graph has ${session.inputs.map((i) => `"${i.name}"`).join(', ')}`);
  } else {
    if (input.type !== 'float32') problems.push(`input "${input.name}" is ${input.type}, not float32`);
    const fixed = input.shape.every((d, i) => typeof d !== 'number' || d === entry.input.shape[i]);
    if (input.shape.length !== entry.input.shape.length || !fixed) {
      problems.push(`input shape is [${input.shape.join(',')}], manifest says [${entry.input.shape.join(',')}]`);
    }
  }
  for (const declared of entry.outputs) {
    const output = session.outputs.find((o) => o.name === declared.name);
    if (!output) problems.push(`graph has no output "${declared.name}"`);
    else if (output.shape.length !== declared.shape.length || output.shape.some((d, i) => typeof d === 'number' && d !== declared.shape[i])) {
      problems.push(`output "${declared.name}" shape is [${output.shape.join(',')}], manifest says [${declared.shape.join(',')}]`);
    }
  }
  if (problems.length > 0) throw new ModelLoadError(`model "${entry.id}" does not match its manifest entry: ${problems.join('; ')}`);
  const unfit = contractProblems(entry, session);
  if (unfit.length > 0) throw new ModelLoadError(`model "${entry.id}" does not fit its family ${entry.family}: ${unfit.join('; ')}`);
}

/**
 * Loads, verifies (sha256, graph against its manifest entry, family contract) and warms every model the manifest
 * assigns a role, in every inference worker; any problem stops the start with a message naming the model and its
 * file. The only way to a registry: none is handed out unchecked.
 */
export async function loadModels(modelsDir: string, options: SessionOptions, runtime: InferenceRuntime = createInferencePool): Promise<ModelRegistry> {
  const manifest = await readManifest(modelsDir);
  const roles = roleModels(manifest);
  const assigned = [roles.detector, roles.landmarker, roles.embedder, ...roles.antiSpoof];
  const used = new Set(assigned.filter((m) => m !== undefined).map((m) => m.id));
  const entries = manifest.models.filter((m) => used.has(m.id));
  const toLoad = [];
  for (const entry of entries) toLoad.push({ id: entry.id, bytes: await readVerified(modelsDir, entry) });
  let pool: InferencePool;
  try {
    pool = await runtime(toLoad, options);
  } catch (error) {
    if (!(error instanceof ModelRuntimeLoadError)) throw error;
    const entry = entries.find((e) => e.id === error.modelId);
    throw new ModelLoadError(`model "${error.modelId}" (${entry?.file}) cannot be loaded by the runtime: ${error.message}`);
  }
  const models = new Map<string, LoadedModel>();
  try {
    for (const entry of entries) {
      const session = pool.sessions.get(entry.id)!;
      checkGraph(entry, session);
      models.set(entry.id, { entry, session, warmupMs: session.warmupMs });
    }
  } catch (error) {
    await pool.close();
    throw error;
  }
  return {
    manifest,
    roles,
    models,
    session(id) {
      const model = models.get(id);
      if (!model) throw new Error(`model "${id}" is not loaded`);
      return model.session;
    },
    release: () => pool.close(),
  };
}
