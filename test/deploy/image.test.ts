/**
 * Builds the unchanged Dockerfile with podman on a stand-in for its base image (test/deploy/container.ts) and runs
 * the image as k8s/deployment.yaml runs the pod: read-only root, an in-memory /tmp, the pod's user, no capabilities,
 * no privilege escalation, the memory and CPU limits, the ConfigMap's settings and a template key given as a Secret
 * would give it. Then it serves real requests and drains on SIGTERM.
 *
 * Needs root and Debian's podman, runc, slirp4netns and mmdebstrap (.ci/run installs them); skipped, saying why,
 * where they cannot run. Takes about 4 minutes on 2 cores, most of it the cold build.
 */
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rootCertificates } from 'node:tls';
import { parse } from 'yaml';
import { dataMissing, readData } from '../helpers/data.js';
import { multipart } from '../helpers/multipart.js';
import { postImage, startService } from '../helpers/service.js';
import { freePort, until } from '../helpers/system.js';
import { buildStandInBase, Podman, whyNoContainerEngine } from './container.js';
import { packageJson, parseDockerfile, readText, root } from './helpers.js';

// What this test reads of the manifests (test/deploy/k8s.test.ts checks them against the Kubernetes schemas).
interface Probe {
  httpGet: { path: string };
  initialDelaySeconds?: number;
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
}
interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
  seccompProfile?: { type: string };
}
interface PodSpec {
  terminationGracePeriodSeconds: number;
  securityContext: SecurityContext;
  volumes: { name: string; emptyDir?: { medium?: string; sizeLimit?: string } }[];
  containers: {
    ports: { name: string; containerPort: number }[];
    resources: { limits: { cpu: string; memory: string } };
    securityContext: SecurityContext;
    volumeMounts: { name: string; mountPath: string }[];
    startupProbe: Probe;
    readinessProbe: Probe;
  }[];
}

const IMAGE = `localhost/face-biometrics-api:${packageJson.version}-test`;
const fromImage = parseDockerfile(readText('Dockerfile')).at(-1)!.image;

const pod = (parse(readText('k8s/deployment.yaml')) as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
const api = pod.containers[0]!;
const settings = (parse(readText('k8s/configmap.yaml')) as { data: Record<string, string> }).data;

/** A Kubernetes quantity in base units: bytes for memory (1Gi), cores for CPU (2, 500m). */
function quantity(value: string | number): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$/.exec(String(value));
  if (!match) throw new Error(`not a quantity: ${value}`);
  const factor = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12, m: 1e-3 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * factor;
}

/** podman create's options for the Deployment's container: its security context, limits, volumes and settings. */
function podOptions(hostPort: number, extraEnv: Record<string, string>): string[] {
  const podSecurity = pod.securityContext;
  const security = api.securityContext;
  const options: string[] = [];
  if (security.readOnlyRootFilesystem) options.push('--read-only', '--read-only-tmpfs=false');
  options.push('--user', `${security.runAsUser ?? podSecurity.runAsUser}:${security.runAsGroup ?? podSecurity.runAsGroup}`);
  for (const capability of security.capabilities?.drop ?? []) options.push('--cap-drop', capability);
  if (security.allowPrivilegeEscalation === false) options.push('--security-opt', 'no-new-privileges');
  // podman's default seccomp profile is the runtime's default, as seccompProfile RuntimeDefault asks.
  assert.equal(podSecurity.seccompProfile?.type, 'RuntimeDefault');
  options.push('--memory', String(quantity(api.resources.limits.memory)), '--cpus', String(quantity(api.resources.limits.cpu)));
  for (const mount of api.volumeMounts) {
    const emptyDir = pod.volumes.find((v) => v.name === mount.name)?.emptyDir;
    assert.ok(emptyDir?.medium === 'Memory' && emptyDir.sizeLimit, `volume ${mount.name}: only in-memory emptyDirs are mapped`);
    options.push('--tmpfs', `${mount.mountPath}:rw,size=${quantity(emptyDir.sizeLimit)}`);
  }
  for (const [key, value] of Object.entries({ ...settings, ...extraEnv })) options.push('--env', `${key}=${value}`);
  const port = api.ports.find((p) => p.name === 'http')!.containerPort;
  // slirp4netns: the container has its own network namespace and is reached through a loopback port of the host.
  options.push('--network', 'slirp4netns', '--publish', `127.0.0.1:${hostPort}:${port}`);
  options.push('--stop-timeout', String(pod.terminationGracePeriodSeconds));
  return options;
}

/** The certificates of a PEM bundle that Node does not ship itself: only those can show that the bundle leaked. */
async function certificatesNodeLacks(bundle: string): Promise<string[]> {
  const pems = (await readFile(bundle, 'utf8')).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;
  const shipped = new Set(rootCertificates.map(fingerprint));
  return pems.filter((pem) => !shipped.has(fingerprint(pem)));
}

/** Which of the needles occur anywhere in a file, read as a stream. */
async function occurrences(file: string, needles: string[]): Promise<string[]> {
  const found = new Set<string>();
  const overlap = Math.max(...needles.map((n) => n.length));
  let carry = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 8 * 2 ** 20 }) as AsyncIterable<Buffer>) {
    const window = Buffer.concat([carry, chunk]);
    for (const needle of needles) if (window.includes(needle)) found.add(needle);
    carry = window.subarray(Math.max(0, window.length - overlap));
  }
  return [...found];
}

const seconds = (since: number): number => (performance.now() - since) / 1000;

// Skipped where the engine cannot run, except on CI (root, apt), where .ci/run installs it: there it must run.
const reason = whyNoContainerEngine();
if (reason) process.stdout.write(`# ${process.env.CI ? 'cannot run' : 'skipping'} the container image test: ${reason}\n`);

describe('the container image, built from the unchanged Dockerfile and run as the Deployment runs it', { skip: dataMissing ?? (reason && !process.env.CI ? reason : false), timeout: 25 * 60_000 }, () => {
  const caBundle = process.env.NODE_EXTRA_CA_CERTS;
  const engineCache = '/var/lib/containers';
  const engineCacheExisted = existsSync(engineCache);
  const templateKeys = randomBytes(32).toString('base64url');
  const name = `face-api-test-${randomBytes(4).toString('hex')}`;
  const report: string[] = [];
  let podman: Podman;
  let base: string;
  let coldBuildImage: string;
  let cachedBuildImage: string;

  const build = async (): Promise<string> => {
    const secret = caBundle ? ['--secret', `id=npm_ca,src=${caBundle}`] : [];
    // --format docker keeps the HEALTHCHECK, as docker build does (the OCI format has none); the RUN steps reach
    // the npm registry and Debian's archive through the host's network; the base is never pulled.
    // Two jobs: the runtime stage's apt and npm steps run beside the build stage's.
    await podman.ok(['build', '--pull=never', '--format', 'docker', '--network', 'host', '--jobs', '2', ...secret, '--tag', IMAGE, root]);
    return (await podman.ok(['image', 'inspect', '--format', '{{.Id}}', IMAGE])).trim();
  };

  before(async () => {
    if (reason) throw new Error(reason);
    podman = await Podman.create(await mkdtemp(path.join(os.tmpdir(), 'image-test-')));
    let started = performance.now();
    await buildStandInBase(podman, fromImage);
    report.push(`stand-in base ${fromImage}: ${seconds(started).toFixed(0)} s`);
    started = performance.now();
    coldBuildImage = await build();
    report.push(`cold build ${seconds(started).toFixed(0)} s`);
    started = performance.now();
    cachedBuildImage = await build();
    report.push(`cached build ${seconds(started).toFixed(1)} s`);
    const size = Number(await podman.ok(['image', 'inspect', '--format', '{{.Size}}', IMAGE]));
    const baseSize = Number(await podman.ok(['image', 'inspect', '--format', '{{.Size}}', fromImage]));
    report.push(`image ${(size / 1e6).toFixed(0)} MB (base ${(baseSize / 1e6).toFixed(0)} MB)`);
  });

  after(async () => {
    process.stdout.write(`# container image: ${report.join('; ')}\n`);
    await podman?.destroy();
    // containers/image keeps a blob-info cache for root here, outside the storage it was given.
    if (!engineCacheExisted) await rm(engineCache, { recursive: true, force: true });
  });

  it('builds; a second build of the same tree comes wholly from the layer cache', () => {
    assert.equal(cachedBuildImage, coldBuildImage);
  });

  it('keeps no trace of the build secret (the CA bundle for the registry) in its config or layers', { skip: caBundle ? false : 'NODE_EXTRA_CA_CERTS is not set: no build secret' }, async () => {
    const config = await podman.ok(['image', 'inspect', IMAGE]);
    assert.ok(!config.includes(caBundle!), 'the bundle path appears in the image config or history');
    const [{ Config }] = JSON.parse(config) as [{ Config: { Env: string[] } }];
    assert.ok(!Config.Env.some((variable) => variable.startsWith('NODE_EXTRA_CA_CERTS=')), Config.Env.join(' '));
    const archive = path.join(podman.dir, 'image.tar');
    await podman.ok(['save', '--format', 'docker-archive', '--output', archive, IMAGE]);
    // One full base64 line from the middle of each certificate Node lacks: a PEM copy of the bundle anywhere in the
    // uncompressed layers (even one deleted by a later layer) contains it.
    const needles = (await certificatesNodeLacks(caBundle!)).map((pem) => {
      const lines = pem.split('\n').filter((line) => /^[A-Za-z0-9+/]{64}$/.test(line));
      return lines[Math.floor(lines.length / 2)]!;
    });
    report.push(`${needles.length} certificate(s) of the build secret looked for in the layers`);
    if (needles.length > 0) assert.deepEqual(await occurrences(archive, needles), []);
    await rm(archive);
  });

  describe('a container of it, as the pod runs', () => {
    let hostPort: number;
    let engineChanges: string;

    before(async () => {
      hostPort = await freePort();
      base = `http://127.0.0.1:${hostPort}`;
      await podman.ok(['create', '--name', name, ...podOptions(hostPort, { TEMPLATE_KEYS: templateKeys }), IMAGE]);
      // What the engine itself writes into a new container (mount points for /etc/hosts and the like), before the
      // service runs: later the container must have changed nothing more.
      await podman.ok(['init', name]);
      engineChanges = await podman.ok(['diff', name]);
    });

    it('reports health status 0 within the startup probe’s budget', async () => {
      const probe = api.startupProbe;
      const budgetMs = ((probe.initialDelaySeconds ?? 0) + probe.periodSeconds * probe.failureThreshold) * 1000;
      const started = performance.now();
      await podman.ok(['start', name]);
      await until('health status 0', budgetMs, async () => {
        const response = await fetch(`${base}${probe.httpGet.path}`, { signal: AbortSignal.timeout(probe.timeoutSeconds * 1000) });
        return ((await response.json()) as { status: number }).status === 0 ? true : undefined;
      }, 100);
      report.push(`health 0 ${seconds(started).toFixed(1)} s after podman start`);
      await podman.ok(['healthcheck', 'run', name]); // the image's HEALTHCHECK passes (exit 0)
    });

    it('answers /version with the service’s version and its models', async () => {
      const version = (await (await fetch(`${base}/version`)).json()) as { core: string; models: { name: string }[] };
      assert.equal(version.core, packageJson.version);
      const manifest = JSON.parse(readText('models/manifest.json')) as { models: { id: string }[] };
      assert.deepEqual(version.models.map((m) => m.name).sort(), manifest.models.map((m) => m.id).sort());
    });

    it('extracts from a real photo the template the in-process service extracts, byte for byte', async () => {
      const photo = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');
      const fromContainer = await postImage(`${base}/v1/face/pattern/extract`, photo, 'image/jpeg');
      assert.equal(fromContainer.status, 200);
      const inProcess = await startService({ TEMPLATE_KEYS: templateKeys });
      try {
        const expected = Buffer.from(await (await postImage(`${inProcess.url}/v1/face/pattern/extract`, photo, 'image/jpeg')).arrayBuffer());
        assert.ok(Buffer.from(await fromContainer.arrayBuffer()).equals(expected));
      } finally {
        await inProcess.close();
      }
    });

    it('judges a video live with the image’s own ffmpeg (Debian’s)', async () => {
      const env = JSON.parse(await podman.ok(['image', 'inspect', '--format', '{{json .Config.Env}}', IMAGE])) as string[];
      assert.ok(env.includes('FFMPEG_PATH=/usr/bin/ffmpeg'), env.join(' '));
      const { body, contentType } = multipart([{ name: 'selfie', filename: 'selfie.mp4', body: await readData('video/selfie_6s.mp4') }]);
      const response = await fetch(`${base}/v1/face/liveness/detect`, { method: 'POST', body, headers: { 'content-type': contentType } });
      assert.equal(response.status, 200);
      const folder = (await response.json()) as { system_resolution: string; media: { media_type: string; info: { video?: { duration: number } } }[] };
      assert.equal(folder.system_resolution, 'SUCCESS');
      assert.equal(folder.media[0]!.media_type, 'VIDEO_FOLDER');
      assert.ok(Math.abs(folder.media[0]!.info.video!.duration - 6) < 0.5);
      report.push(`memory after the requests ${(await podman.ok(['stats', '--no-stream', '--format', '{{.MemUsage}}', name])).trim()}`);
    });

    it('wrote nothing: the root filesystem is as the engine left it, and the tmpfs is empty', async () => {
      assert.equal(await podman.ok(['diff', name]), engineChanges);
      assert.equal((await podman.ok(['exec', name, 'ls', '-A', '/tmp'])).trim(), '');
    });

    it('drains on SIGTERM: health 3 at once, the request in flight answered, exit 0 within the grace period', async () => {
      const { body, contentType } = multipart([{ name: 'selfie', filename: 'selfie.mp4', body: await readData('video/selfie_6s.mp4') }]);
      const inFlight = fetch(`${base}/v1/face/liveness/detect`, { method: 'POST', body, headers: { 'content-type': contentType } });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const signalled = performance.now();
      // To PID 1 (tini), which forwards it to node, as the kubelet's runtime sends it.
      await podman.ok(['kill', '--signal', 'TERM', name]);
      const health = await until('health 3', 2_000, async () => {
        const response = await fetch(`${base}${api.readinessProbe.httpGet.path}`);
        return response.status === 503 ? response : undefined;
      }, 50);
      assert.deepEqual(await health.json(), { status: 3, message: 'shutting down' });
      const answer = await inFlight;
      assert.equal(answer.status, 200);
      assert.equal(((await answer.json()) as { system_resolution: string }).system_resolution, 'SUCCESS');
      assert.equal((await podman.ok(['wait', name])).trim(), '0', 'exit code');
      const exitedAfter = seconds(signalled);
      report.push(`exit ${exitedAfter.toFixed(1)} s after SIGTERM`);
      assert.ok(exitedAfter < pod.terminationGracePeriodSeconds, `${exitedAfter} s`);
      assert.equal((await podman.ok(['inspect', '--format', '{{.State.OOMKilled}}', name])).trim(), 'false');
    });
  });
});
