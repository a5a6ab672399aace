import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../src/config.js';

const sourceRoot = path.join(projectRoot, 'src');

/** Every import and re-export specifier of a module, static or dynamic, type-only ones included. */
const IMPORT = /(?:^|[\s;])(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** The modules of src/, by path relative to it, with what each imports: modules of src/ by path, packages by name. */
function importGraph(): Map<string, string[]> {
  const files = (readdirSync(sourceRoot, { recursive: true }) as string[]).filter((file) => file.endsWith('.ts')).map((file) => file.split(path.sep).join('/'));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(path.join(sourceRoot, file), 'utf8');
    const imports = [...text.matchAll(IMPORT)].map((match) => {
      const specifier = (match[1] ?? match[2])!;
      if (!specifier.startsWith('.')) return specifier;
      return path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)).replace(/\.js$/, '.ts');
    });
    graph.set(file, imports);
  }
  return graph;
}

/** The import cycles among the modules, each as the path around it (depth-first search, one cycle per back edge). */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (module: string): void => {
    state.set(module, 'open');
    stack.push(module);
    for (const target of graph.get(module) ?? []) {
      if (!graph.has(target)) continue;
      if (state.get(target) === 'open') found.push([...stack.slice(stack.indexOf(target)), target]);
      else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(module, 'done');
  };
  for (const module of graph.keys()) if (!state.has(module)) visit(module);
  return found;
}

const graph = importGraph();
const importers = (inside: (file: string) => boolean, imported: (specifier: string) => boolean): string[] =>
  [...graph].filter(([file]) => inside(file)).flatMap(([file, imports]) => imports.filter(imported).map((specifier) => `${file} → ${specifier}`));

describe('the architecture of src/', () => {
  it('reads the import graph (the reader finds the imports it is meant to check)', () => {
    assert.ok(graph.size > 40, `${graph.size} modules`);
    assert.ok(graph.get('app.ts')?.includes('http/errors.ts'));
    assert.ok(graph.get('app.ts')?.includes('express'));
  });

  it('has no import cycles', () => {
    assert.deepEqual(
      cycles(graph).map((cycle) => cycle.join(' → ')),
      [],
    );
  });

  it('keeps the wire format in http/: only the app and the server entry import from it', () => {
    const outside = (file: string): boolean => !file.startsWith('http/') && file !== 'app.ts' && file !== 'server.ts';
    assert.deepEqual(importers(outside, (specifier) => specifier.startsWith('http/')), []);
  });

  it('keeps the use cases free of the web framework', () => {
    const useCase = (file: string): boolean => file.startsWith('biometry/') || file.startsWith('liveness/');
    assert.deepEqual(importers(useCase, (specifier) => specifier === 'express' || specifier.startsWith('express/')), []);
  });
});
