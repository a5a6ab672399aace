/**
 * Lints the Dockerfile against the project (no container engine needed): stages, pinned bases, what is copied from
 * where, the install / model fetch / build order, and what the image runs.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  type Copy,
  copies,
  defaultPort,
  exists,
  filesUnder,
  finalWorkdir,
  healthPaths,
  isDirectory,
  isIgnored,
  landsAt,
  packageJson,
  parseDockerfile,
  parseDockerignore,
  readText,
  type Stage,
  tsconfigOutDir,
} from './helpers.js';

const stages = parseDockerfile(readText('Dockerfile'));
const final = stages.at(-1)!;
const buildStages = stages.slice(0, -1);
const ignoreRules = parseDockerignore(readText('.dockerignore'));
const outDir = tsconfigOutDir();

const runs = (stage: Stage): string[] => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
const last = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).at(-1);

/** The variables ENV sets in a stage (`ENV K=V K2=V2`, or the older `ENV K V`); quotes are not handled. */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    if (!instruction.args.includes('=')) {
      const [key, ...value] = instruction.args.split(/\s+/);
      env[key!] = value.join(' ');
      continue;
    }
    for (const pair of instruction.args.split(/\s+/)) {
      const at = pair.indexOf('=');
      env[pair.slice(0, at)] = pair.slice(at + 1);
    }
  }
  return env;
}

/** The index of the first instruction of a stage matching a test, or -1. */
function indexOf(stage: Stage, test: (args: string, keyword: string) => boolean): number {
  return stage.instructions.findIndex((i) => test(i.args, i.keyword));
}

/** A stage by the name FROM gave it, or by its index, as COPY --from takes either. */
function stageNamed(reference: string): Stage | undefined {
  return stages.find((s) => s.name === reference || String(s.index) === reference);
}

/** Where each source of a COPY lands. A source copied from another stage counts as a folder when it ends in /. */
const landings = (copy: Copy): string[] =>
  copy.sources.map((source) => landsAt(copy, source, copy.from ? source.endsWith('/') : isDirectory(source)));

/**
 * Absolute paths a stage has put in place before an instruction: what its COPYs brought, and the compiler's outDir
 * after npm run build.
 */
function producedBy(stage: Stage, before = stage.instructions.length): string[] {
  const produced = copies(stage)
    .filter((c) => stage.instructions.indexOf(c.instruction) < before)
    .flatMap(landings);
  const buildAt = indexOf(stage, (args, keyword) => keyword === 'RUN' && /\bnpm run build\b/.test(args));
  if (buildAt >= 0 && buildAt < before) produced.push(path.posix.join(finalWorkdir(stage), outDir));
  return produced;
}

const covers = (produced: string[], wanted: string): boolean =>
  produced.some((p) => wanted === p || wanted.startsWith(`${p.replace(/\/$/, '')}/`));

/**
 * Files the service reads relative to the project root, found in src/: `readProjectJson('a', 'b')` and
 * `path.join(projectRoot, 'a', 'b')` with literal arguments.
 */
function runtimeFilesReadBySrc(): string[] {
  const found = new Set<string>();
  const call = /(?:readProjectJson|path\.(?:join|resolve)\(\s*projectRoot\s*,)\s*\(?([^)]*)\)/g;
  for (const file of filesUnder('src').filter((f) => f.endsWith('.ts'))) {
    for (const match of readText(file).matchAll(call)) {
      const literals = [...match[1]!.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2]!);
      const args = match[1]!.split(',').map((a) => a.trim()).filter((a) => a !== '');
      if (literals.length > 0 && literals.length === args.length) found.add(path.posix.join(...literals));
    }
  }
  return [...found].sort();
}

/** The version in an image reference's tag, e.g. 20.20.2 of node:20.20.2-bookworm-slim. */
function tagVersion(image: string): number[] | undefined {
  const match = /^[\w./-]+:(\d+)\.(\d+)\.(\d+)(?:-[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$/.exec(image);
  return match ? match.slice(1, 4).map(Number) : undefined;
}

describe('Dockerfile', () => {
  it('has a build stage and a runtime stage', () => {
    assert.ok(stages.length >= 2, `${stages.length} stage(s)`);
    const names = stages.flatMap((s) => (s.name ? [s.name] : []));
    assert.equal(new Set(names).size, names.length, 'stage names are unique');
  });

  it('pins every base image to an exact version of Node 20 on Debian (no latest, no bare major)', () => {
    for (const stage of stages) {
      if (stageNamed(stage.image)) continue; // FROM an earlier stage
      assert.doesNotMatch(stage.image, /:latest\b/, `${stage.image}: latest`);
      const version = tagVersion(stage.image);
      assert.ok(version, `${stage.image}: tag is not an exact major.minor.patch version`);
      assert.match(stage.image, /^node:/, 'the official Node image');
      assert.match(stage.image, /bookworm/, 'Debian bookworm: apt-get and /usr/bin/tini are used');
      assert.equal(version[0], Number(process.versions.node.split('.')[0]), 'the Node major the tests run on');
      const minimum = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(packageJson.engines?.node ?? '>=0.0.0')!.slice(1).map(Number);
      const cmp = version.map((v, i) => v - minimum[i]!).find((d) => d !== 0) ?? 0;
      assert.ok(cmp >= 0, `${stage.image} is older than engines.node ${packageJson.engines?.node}`);
    }
    assert.equal(new Set(stages.map((s) => s.image)).size, 1, 'one base image for all stages (same glibc for native modules)');
  });

  it('copies from the build context only files that exist and that .dockerignore lets through', () => {
    const fromContext = stages.flatMap(copies).filter((c) => !c.from);
    assert.ok(fromContext.length > 0);
    for (const copy of fromContext) {
      for (const source of copy.sources) {
        assert.doesNotMatch(source, /[*?[]/, `line ${copy.instruction.line}: name sources exactly (${source})`);
        assert.ok(exists(source), `line ${copy.instruction.line}: ${source} does not exist in the repository`);
        assert.ok(!isIgnored(ignoreRules, source), `line ${copy.instruction.line}: ${source} is excluded by .dockerignore`);
      }
    }
  });

  it('copies from earlier stages only what they produce', () => {
    for (const [index, stage] of stages.entries()) {
      for (const copy of copies(stage).filter((c): c is Copy & { from: string } => c.from !== undefined)) {
        const source = stageNamed(copy.from);
        assert.ok(source && source.index < index, `line ${copy.instruction.line}: no earlier stage ${copy.from}`);
        for (const file of copy.sources) {
          assert.ok(covers(producedBy(source), path.posix.resolve(file)), `line ${copy.instruction.line}: stage ${copy.from} does not produce ${file}`);
        }
      }
    }
  });

  it('has package.json, package-lock.json and .npmrc in place before every npm ci', () => {
    let seen = 0;
    for (const stage of stages) {
      for (const [index, instruction] of stage.instructions.entries()) {
        if (instruction.keyword !== 'RUN' || !/\bnpm ci\b/.test(instruction.args)) continue;
        seen += 1;
        const workdir = finalWorkdir({ ...stage, instructions: stage.instructions.slice(0, index) });
        const produced = producedBy(stage, index);
        for (const file of ['package.json', 'package-lock.json', '.npmrc']) {
          assert.ok(covers(produced, path.posix.join(workdir, file)), `line ${instruction.line}: npm ci runs before ${file} is copied`);
        }
      }
    }
    assert.ok(seen >= 2, 'npm ci in the build stage and in the runtime stage');
    assert.match(readText('.npmrc'), /^onnxruntime-node-install=skip$/m, '.npmrc keeps onnxruntime-node from downloading CUDA binaries');
  });

  it('installs every dependency in the build stage, then fetches the models and compiles there', () => {
    assert.ok(buildStages.length > 0);
    const build = buildStages.find((s) => runs(s).some((r) => /\bnpm run build\b/.test(r)));
    assert.ok(build, 'a build stage runs npm run build');
    const install = indexOf(build, (a, k) => k === 'RUN' && /\bnpm ci\b/.test(a) && !/--omit|--production/.test(a));
    const models = indexOf(build, (a, k) => k === 'RUN' && /\bnpm run models\b/.test(a));
    const compile = indexOf(build, (a, k) => k === 'RUN' && /\bnpm run build\b/.test(a));
    assert.ok(install >= 0, 'npm ci with dev dependencies (tsc, tsx)');
    assert.ok(models > install, 'npm run models after npm ci');
    assert.ok(compile > install, 'npm run build after npm ci');
    assert.match(packageJson.scripts.models ?? '', /tools\/fetch-models\.ts/);
    assert.match(packageJson.scripts.build ?? '', /^tsc -p tsconfig\.build\.json$/);
    // The fetcher fails the build on a checksum mismatch: it throws, and the error ends the process non-zero.
    const fetcher = readText('tools/fetch-models.ts');
    assert.match(fetcher, /does not match the manifest/);
    assert.match(fetcher, /process\.exit(?:Code\s*=\s*1|\(1\))/);
    // The .onnx files come from the registry, never from the build context.
    assert.ok(isIgnored(ignoreRules, 'models/fr_detect.onnx'));
  });

  it('installs only production dependencies in the runtime stage', () => {
    const npm = runs(final).filter((r) => /\bnpm (ci|install|i)\b/.test(r));
    assert.equal(npm.length, 1, 'one npm install in the runtime stage');
    assert.match(npm[0]!, /\bnpm ci --omit=dev\b/);
    assert.ok(!runs(final).some((r) => /\bnpm run\b/.test(r)), 'nothing is built in the runtime stage');
    assert.equal(envOf(final).NODE_ENV, 'production');
  });

  it('turns off ONNX Runtime telemetry wherever onnxruntime-node loads', () => {
    // onnxruntime-node 1.29+ uploads usage events from Linux unless ORT_DISABLE_TELEMETRY=1 is set before it loads.
    for (const stage of stages) assert.equal(envOf(stage).ORT_DISABLE_TELEMETRY, '1', `stage ${stage.name ?? stage.index}`);
  });

  it('puts in the runtime stage every file the service reads at run time', () => {
    const workdir = finalWorkdir(final);
    const produced = producedBy(final);
    const wanted = runtimeFilesReadBySrc();
    assert.ok(wanted.includes('package.json') && wanted.includes('models'), `scanner found ${wanted.join(', ')}`);
    for (const file of wanted) assert.ok(covers(produced, path.posix.join(workdir, file)), `${file} is read at run time but not copied`);
    // The models come from the build stage (fetched there), not from the context, which holds only the manifest.
    const modelsCopy = copies(final).findLast((c) => covers(landings(c), path.posix.join(workdir, 'models')));
    assert.ok(modelsCopy?.from, 'models/ copied from the build stage');
    // src/config.ts finds the project root by walking up from dist/src/ to package.json: both must be in WORKDIR.
    assert.ok(covers(produced, path.posix.join(workdir, outDir, 'src', 'server.js')));
    assert.ok(covers(produced, path.posix.join(workdir, 'package.json')));
  });

  it('runs as a non-root user given by number', () => {
    const user = last(final, 'USER');
    assert.ok(user, 'USER in the runtime stage');
    const match = /^(\d+)(?::(\d+))?$/.exec(user.args);
    assert.ok(match, `USER ${user.args}: numeric, so that Kubernetes' runAsNonRoot can verify it`);
    assert.notEqual(Number(match[1]), 0);
    assert.ok(final.instructions.indexOf(user) < final.instructions.indexOf(last(final, 'CMD')!), 'USER before CMD');
  });

  it('runs an init process as PID 1 (tini from Debian)', () => {
    const entrypoint = last(final, 'ENTRYPOINT');
    assert.deepEqual(entrypoint?.exec, ['/usr/bin/tini', '--']);
    assert.ok(runs(final).some((r) => /apt-get install\b.*\btini\b/.test(r)), 'tini installed with apt-get');
    assert.ok(runs(final).some((r) => /rm -rf \/var\/lib\/apt\/lists/.test(r)), 'apt lists removed in the same layer');
  });

  it('exposes the default port', () => {
    assert.deepEqual(final.instructions.filter((i) => i.keyword === 'EXPOSE').map((i) => i.args), [String(defaultPort)]);
  });

  it('has a HEALTHCHECK that needs no curl and fails unless health is status 0', () => {
    const check = last(final, 'HEALTHCHECK');
    assert.ok(check, 'HEALTHCHECK in the runtime stage');
    const command = /^CMD\s+(\[.*\])$/s.exec(check.args);
    assert.ok(command, 'HEALTHCHECK CMD in exec form');
    const argv = JSON.parse(command[1]!) as string[];
    assert.equal(argv[0], 'node');
    const script = argv.slice(1).join(' ');
    assert.ok(healthPaths().some((p) => script.includes(p)), `the check fetches a documented health path (${healthPaths().join(', ')})`);
    assert.ok(script.includes(String(defaultPort)), 'the default port');
    assert.match(script, /status\s*===\s*0/);
    assert.ok(!runs(final).some((r) => /\b(curl|wget)\b/.test(r)), 'no curl or wget installed');
  });

  it('runs the file npm run build produces, as npm start does', () => {
    const cmd = last(final, 'CMD');
    assert.ok(cmd?.exec, 'CMD in exec form');
    const [program, entry, ...rest] = cmd.exec;
    assert.equal(program, 'node');
    assert.equal(rest.length, 0);
    assert.equal(entry, path.posix.join(outDir, 'src', 'server.js'), 'tsc compiles src/server.ts there');
    assert.ok(exists('src/server.ts'));
    assert.equal(packageJson.scripts.start, `node ${entry}`, 'npm start runs the same file');
  });

  it('runs only npm scripts that exist', () => {
    for (const stage of stages) {
      for (const run of runs(stage)) {
        for (const match of run.matchAll(/\bnpm run ([\w:-]+)/g)) assert.ok(packageJson.scripts[match[1]!], `npm run ${match[1]}`);
      }
    }
  });
});

describe('.dockerignore', () => {
  it('keeps out dependencies, build output, fetched models, git and scratch files', () => {
    for (const file of ['node_modules/express/package.json', 'dist/src/server.js', 'models/fr_feature.onnx', '.git/HEAD', '.scratch/notes.md']) {
      assert.ok(isIgnored(ignoreRules, file), `${file} should be ignored`);
    }
  });

  it('lets through what the build needs', () => {
    for (const file of ['package.json', 'package-lock.json', '.npmrc', 'models/manifest.json', 'src/server.ts', 'tools/fetch-models.ts']) {
      assert.ok(!isIgnored(ignoreRules, file), `${file} should be in the context`);
    }
  });
});

describe('README commands', () => {
  it('names only npm scripts that exist, npm start and npm test among them', () => {
    const readme = readText('README.md');
    assert.match(readme, /npm ci && npm start/);
    assert.match(readme, /\bnpm test\b/);
    const blocks = [...readme.matchAll(/```(?:sh|bash|shell)?\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const named = new Set<string>();
    for (const text of [...blocks, ...[...readme.matchAll(/`([^`\n]*\bnpm [^`\n]*)`/g)].map((m) => m[1]!)]) {
      for (const match of text.matchAll(/\bnpm (start|test|run ([\w:-]+))\b/g)) named.add(match[2] ?? match[1]!);
    }
    assert.ok(named.has('start') && named.has('test'));
    for (const script of named) assert.ok(packageJson.scripts[script], `README names npm script "${script}", package.json has none`);
  });
});
