import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { type EntryOf, type ModelEntry, type ModelRoles, modelEntrySchema, needsLandmarker, type Role, type RoleEntry, roleOf } from './families.js';

export type { ModelInputSpec } from '../face/sampling.js';
export type { ModelEntry, ModelRoles } from './families.js';

const manifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    pipeline: z.object({
      detector: z.string(),
      /** Without a landmarker, alignment uses the five points the detector gives (YuNet, SCRFD). */
      landmarker: z.string().optional(),
      embedder: z.string(),
      antiSpoof: z.array(z.string()).min(1),
    }),
    models: z.array(modelEntrySchema).min(1),
  })
  .superRefine((manifest, ctx) => {
    const ids = new Set<string>();
    for (const model of manifest.models) {
      if (ids.has(model.id)) ctx.addIssue({ code: 'custom', message: `duplicate model id "${model.id}"` });
      ids.add(model.id);
      if (model.input.mean.length !== model.input.std.length) {
        ctx.addIssue({ code: 'custom', message: `model "${model.id}": mean and std differ in length` });
      }
    }
    const byId = new Map(manifest.models.map((m) => [m.id, m]));
    const requireRole = (role: Role, id: string): void => {
      const model = byId.get(id);
      if (!model) ctx.addIssue({ code: 'custom', message: `pipeline.${role} names "${id}", which is not in models` });
      else if (roleOf(model.family) !== role) ctx.addIssue({ code: 'custom', message: `pipeline.${role} "${id}" is a ${model.family}, not a model of role ${role}` });
    };
    requireRole('detector', manifest.pipeline.detector);
    if (manifest.pipeline.landmarker !== undefined) requireRole('landmarker', manifest.pipeline.landmarker);
    else {
      const detector = byId.get(manifest.pipeline.detector);
      if (detector && needsLandmarker(detector.family)) {
        ctx.addIssue({ code: 'custom', message: `pipeline.landmarker is required: a ${detector.family} gives no landmarks to align with` });
      }
    }
    requireRole('embedder', manifest.pipeline.embedder);
    for (const id of manifest.pipeline.antiSpoof) requireRole('antiSpoof', id);
  });

export type ModelManifest = z.infer<typeof manifestSchema>;
export type DetectorEntry = RoleEntry<'detector'>;
export type UltrafaceEntry = EntryOf<'detector.ultraface'>;
export type YunetEntry = EntryOf<'detector.yunet'>;
export type ScrfdEntry = EntryOf<'detector.scrfd'>;
export type LandmarkerEntry = RoleEntry<'landmarker'>;
export type EmbedderEntry = RoleEntry<'embedder'>;
export type AntiSpoofEntry = RoleEntry<'antiSpoof'>;
export type NpmSource = Extract<ModelEntry['source'], object>;

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export function parseManifest(json: unknown, origin: string): ModelManifest {
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  - ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ManifestError(`${origin} is not a valid model manifest:\n${problems.join('\n')}`);
  }
  return result.data;
}

export async function readManifest(modelsDir: string): Promise<ModelManifest> {
  const file = path.join(modelsDir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ManifestError(`cannot read model manifest ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(`model manifest ${file} is not JSON: ${(error as Error).message}`);
  }
  return parseManifest(json, file);
}

/**
 * The model of each role. The manifest's JSON calls this assignment `pipeline` (a published format operators write);
 * in the code "pipeline" is only the face pipeline, and this is the models' roles.
 */
export function roleModels(manifest: ModelManifest): ModelRoles {
  const find = <R extends Role>(id: string, role: R): RoleEntry<R> => {
    const model = manifest.models.find((m) => m.id === id);
    if (!model || roleOf(model.family) !== role) throw new ManifestError(`model "${id}" is not a model of role ${role}`);
    return model as RoleEntry<R>;
  };
  const { detector, landmarker, embedder, antiSpoof } = manifest.pipeline;
  return {
    detector: find(detector, 'detector'),
    landmarker: landmarker === undefined ? undefined : find(landmarker, 'landmarker'),
    embedder: find(embedder, 'embedder'),
    antiSpoof: antiSpoof.map((id) => find(id, 'antiSpoof')),
  };
}
