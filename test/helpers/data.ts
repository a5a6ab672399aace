import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../../src/config.js';

/**
 * The shared test data (never copied into the project): $FACE_DATA_DIR, else ../shared/data beside the checkout,
 * else the workplace copy. Tests fail loudly when none exists rather than passing without their data.
 */
function findDataDir(): string {
  const candidates = [process.env.FACE_DATA_DIR, path.resolve(projectRoot, '..', 'shared', 'data'), '/work/shared/data'];
  const found = candidates.find((dir): dir is string => !!dir && existsSync(path.join(dir, 'README.md')));
  if (!found) throw new Error(`test data not found; set FACE_DATA_DIR (tried ${candidates.filter(Boolean).join(', ')})`);
  return found;
}

export const dataDir = findDataDir();

export const dataPath = (...parts: string[]): string => path.join(dataDir, ...parts);

export const readData = (...parts: string[]): Promise<Buffer> => readFile(dataPath(...parts));

/** Rows of a CSV with a header line and no quoted commas in the columns we read. */
export async function readCsv(...parts: string[]): Promise<Record<string, string>[]> {
  const [header, ...lines] = (await readFile(dataPath(...parts), 'utf8')).trim().split(/\r?\n/);
  const names = header!.split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    return Object.fromEntries(names.map((name, i) => [name, cells[i] ?? '']));
  });
}
