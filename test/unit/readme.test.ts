import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot, settingDocs } from '../../src/config.js';
import { errorCatalogue } from '../../src/errors.js';

const readme = await readFile(path.join(projectRoot, 'README.md'), 'utf8');

/** The rows of the markdown table that follows `heading`. */
function tableAfter(heading: string): string[][] {
  const start = readme.indexOf(heading);
  assert.ok(start >= 0, `README has no "${heading}" section`);
  const lines = readme.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

describe('README', () => {
  it('lists every setting with its default and meaning, as src/config.ts defines them', () => {
    const documented = tableAfter('## Configuration').map(([env, defaultValue, meaning]) => ({
      env: env!.replace(/`/g, ''),
      defaultValue: defaultValue!.replace(/`/g, ''),
      meaning,
    }));
    assert.deepEqual(documented, settingDocs);
  });

  it('lists every error code of the catalogue with its HTTP status', () => {
    const documented = tableAfter('## Errors').flatMap(([codes, status]) => (codes!.match(/[A-Z]{3}-\d{6}/g) ?? []).map((code) => `${code} ${status}`));
    const catalogued = Object.values(errorCatalogue).flatMap((area) => Object.values(area).map((entry) => `${entry.code} ${entry.status}`));
    assert.deepEqual([...new Set(documented)].sort(), [...new Set(catalogued)].sort());
  });

  it('gives the two commands that install, start and test', () => {
    assert.match(readme, /npm ci && npm start/);
    assert.match(readme, /npm test/);
  });
});
