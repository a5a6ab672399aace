import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../../src/config.js';

/**
 * The shared test data (never copied into the project): $FACE_DATA_DIR when set, else ../shared/data beside the
 * checkout, else the workplace copy. A clone without it still runs every suite that needs no data; the suites that
 * read it take `needsData` and are skipped, saying where the data was looked for.
 */
const candidates = process.env.FACE_DATA_DIR ? [process.env.FACE_DATA_DIR] : [path.resolve(projectRoot, '..', 'shared', 'data'), '/work/shared/data'];
const found = candidates.find((dir) => existsSync(path.join(dir, 'README.md')));

export const dataDir = found ?? candidates[0]!;

/** Why suites that read the shared data cannot run; undefined when it is there. */
export const dataMissing = found ? undefined : `the shared test data is not at ${candidates.join(' nor ')} (set FACE_DATA_DIR)`;

/** The node:test option of a suite that reads the shared data: skipped, with the reason, when there is none. */
export const needsData = { skip: dataMissing ?? false };

export const dataPath = (...parts: string[]): string => path.join(dataDir, ...parts);

/**
 * A file of the shared data. Without the data, an empty buffer, so that a test file's top-level reads still load and
 * its `needsData` suites are skipped (a suite that forgot the option fails on the empty bytes, it does not pass).
 */
export const readData = (...parts: string[]): Promise<Buffer> => (found ? readFile(dataPath(...parts)) : Promise.resolve(Buffer.alloc(0)));

/** Rows of a CSV with a header line and no quoted commas in the columns we read (none without the data). */
export async function readCsv(...parts: string[]): Promise<Record<string, string>[]> {
  if (!found) return [];
  const [header, ...lines] = (await readFile(dataPath(...parts), 'utf8')).trim().split(/\r?\n/);
  const names = header!.split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    return Object.fromEntries(names.map((name, i) => [name, cells[i] ?? '']));
  });
}
