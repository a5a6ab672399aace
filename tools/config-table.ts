/** Writes the README's configuration table from src/config.ts (test/unit/readme.test.ts keeps the two equal). */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../src/config.js';
import { withConfigTable } from './config-docs.js';

const readmePath = path.join(projectRoot, 'README.md');
await writeFile(readmePath, withConfigTable(await readFile(readmePath, 'utf8')));
process.stdout.write(`wrote the configuration table of ${path.relative(process.cwd(), readmePath)}\n`);
