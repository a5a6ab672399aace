import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot, settingDocs } from '../../src/config.js';
import { errorCatalogue } from '../../src/errors.js';
import { withConfigTable } from '../../tools/config-docs.js';

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
  it('lists every setting with its default, accepted values and meaning, as generated from src/config.ts', () => {
    assert.equal(readme, withConfigTable(readme), 'the configuration table is out of date: run npm run docs:config');
    assert.deepEqual(
      tableAfter('## Configuration').map(([env]) => env!.replace(/`/g, '')),
      settingDocs.map((s) => s.env),
    );
  });

  it('states no value of a setting outside the configuration table, where it could go stale', () => {
    const outsideTable = readme.slice(0, readme.indexOf('## Configuration')) + readme.slice(readme.indexOf('## Deployment'));
    const restated = settingDocs.flatMap(({ env }) =>
      // NAME=4, `NAME` (4 …), `NAME`, default 4, `NAME` pixels (20 …: a number close after the name, in its clause.
      [...outsideTable.matchAll(new RegExp(String.raw`\b${env}(?:=[^\s\`]*\d|\`?(?!=)[^\`.;:|\n]{0,24}?\d)`, 'g'))].map((m) => m[0]),
    );
    assert.deepEqual(restated, [], 'name the setting and leave its value to the Configuration table or k8s/configmap.yaml');
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
