/**
 * Checks k8s/*.yaml offline: each object against the Kubernetes (1.27) and Prometheus Operator schemas bundled in
 * kubernetes-models, with unknown fields refused as `kubectl apply` refuses them; then against the service itself:
 * routes, port, settings, drain time, and how the objects refer to each other.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import { loadConfig, settingDocs } from '../../src/config.js';
import { defaultPort, healthPaths, isGetRoute, parseDockerfile, readText, root } from './helpers.js';

type Json = Record<string, unknown>;

interface Manifest {
  file: string;
  object: Json;
}

/** The schema of each kind, by apiVersion/kind: their prototypes' validate() runs the bundled JSON-schema validator. */
const validators: Record<string, { validate(): void }> = {
  'v1/ConfigMap': ConfigMap.prototype,
  'v1/Service': Service.prototype,
  'apps/v1/Deployment': Deployment.prototype,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler.prototype,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget.prototype,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor.prototype,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule.prototype,
};

function loadManifests(): Manifest[] {
  const dir = path.join(root, 'k8s');
  const manifests: Manifest[] = [];
  for (const name of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const file = `k8s/${name}`;
    for (const document of parseAllDocuments(readText(file))) {
      assert.deepEqual(document.errors, [], `${file}: YAML errors`);
      assert.deepEqual(document.warnings, [], `${file}: YAML warnings`);
      const object: unknown = document.toJS();
      if (object === null) continue; // an empty document, e.g. after a trailing ---
      assert.ok(typeof object === 'object' && !Array.isArray(object), `${file}: a document is not an object`);
      manifests.push({ file, object: object as Json });
    }
  }
  return manifests;
}

/**
 * Runs a schema validator (it throws on a schema error) on a view of `data` that records which properties the
 * validator reads, then reports the properties it never read: the validator reads every property its schema knows,
 * so those are unknown to the schema (a misspelt `readinesProbe` would otherwise pass, as the schemas allow extra
 * fields). Objects the validator enumerates (maps such as labels or ConfigMap data) or never looks into (free-form
 * fields) are not reported.
 */
function validateStrictly(validator: { validate(): void }, data: Json): string[] {
  const reads = new Map<object, Set<string>>();
  const enumerated = new Set<object>();
  const proxies = new WeakMap<object, object>();
  const view = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    let proxy = proxies.get(value);
    if (!proxy) {
      proxy = new Proxy(value, {
        get(target, key, receiver) {
          if (typeof key === 'string') {
            const seen = reads.get(target) ?? new Set<string>();
            reads.set(target, seen.add(key));
          }
          return view(Reflect.get(target, key, receiver));
        },
        ownKeys(target) {
          enumerated.add(target);
          return Reflect.ownKeys(target);
        },
      });
      proxies.set(value, proxy);
    }
    return proxy;
  };
  validator.validate.call(view(data));

  const unknown: string[] = [];
  const walk = (value: unknown, at: string): void => {
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${at}/${i}`));
    else if (value !== null && typeof value === 'object') {
      const seen = reads.get(value);
      for (const [key, child] of Object.entries(value)) {
        if (seen && !enumerated.has(value) && !seen.has(key)) unknown.push(`${at}/${key}`);
        walk(child, `${at}/${key}`);
      }
    }
  };
  walk(data, '');
  return unknown;
}

function validate(object: Json): string[] {
  const validator = validators[`${String(object.apiVersion)}/${String(object.kind)}`];
  assert.ok(validator, `no schema for ${String(object.apiVersion)} ${String(object.kind)}`);
  return validateStrictly(validator, object);
}

const manifests = loadManifests();

function only(kind: string): Json {
  const found = manifests.filter((m) => m.object.kind === kind);
  assert.equal(found.length, 1, `one ${kind} in k8s/`);
  return found[0]!.object;
}

// Narrow accessors: the objects are schema-checked, these only spare casts.
const obj = (value: unknown): Json => (value ?? {}) as Json;
const list = (value: unknown): Json[] => (value ?? []) as Json[];
const labels = (value: unknown): Record<string, string> => (value ?? {}) as Record<string, string>;
const subsetOf = (selector: Record<string, string>, target: Record<string, string>): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => target[k] === v);

const deployment = only('Deployment');
const service = only('Service');
const hpa = only('HorizontalPodAutoscaler');
const pdb = only('PodDisruptionBudget');
const configMap = only('ConfigMap');
const serviceMonitor = only('ServiceMonitor');

const podTemplate = obj(obj(deployment.spec).template);
const podLabels = labels(obj(podTemplate.metadata).labels);
const podAnnotations = labels(obj(podTemplate.metadata).annotations);
const podSpec = obj(podTemplate.spec);
const containers = list(podSpec.containers);
const container = containers[0]!;
const settings = labels(configMap.data);
const setting = (env: string): string => settings[env] ?? settingDocs.find((s) => s.env === env)!.defaultValue;
const servicePort = Number(setting('PORT'));
const containerPorts = list(container.ports);

/** A probe or Service port, by number or by the container port's name, as a number. */
function resolvePort(port: unknown): number | undefined {
  if (typeof port === 'number') return port;
  return containerPorts.find((p) => p.name === port)?.containerPort as number | undefined;
}

describe('k8s manifests', () => {
  it('parse, and each object matches its Kubernetes or Prometheus Operator schema with no unknown field', () => {
    assert.ok(manifests.length >= 6);
    for (const { file, object } of manifests) {
      let unknown: string[];
      try {
        unknown = validate(object);
      } catch (error) {
        assert.fail(`${file} (${String(object.kind)}): ${(error as Error).message}`);
      }
      assert.deepEqual(unknown, [], `${file} (${String(object.kind)}): fields unknown to the schema`);
      assert.ok(typeof obj(object.metadata).name === 'string');
    }
  });

  it('the strict validation itself catches a wrong type and a misspelt field', () => {
    const broken = structuredClone(deployment);
    const brokenContainer = list(obj(obj(obj(broken.spec).template).spec).containers)[0]!;
    brokenContainer.readinesProbe = brokenContainer.readinessProbe;
    assert.deepEqual(validate(broken), ['/spec/template/spec/containers/0/readinesProbe']);
    list(brokenContainer.ports)[0]!.containerPort = 'eighty';
    assert.throws(() => validate(broken), /containerPort must be integer/);
    const monitor = structuredClone(serviceMonitor);
    list(obj(monitor.spec).endpoints)[0]!.intervall = '30s';
    assert.deepEqual(validate(monitor), ['/spec/endpoints/0/intervall']);
  });

  it('probe the health method over HTTP on the container port, as the service answers it', () => {
    const health = healthPaths();
    assert.ok(health.includes('/v1/face/pattern/health'), `README health routes: ${health.join(', ')}`);
    for (const name of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const probe = obj(container[name]);
      // Only an HTTP probe sees status 3 (HTTP 503): the process accepts TCP connections before the models load.
      assert.ok(probe.httpGet, `${name}: httpGet`);
      const get = obj(probe.httpGet);
      assert.ok(health.includes(get.path as string), `${name}: ${String(get.path)} is not a health route of the README`);
      assert.equal(resolvePort(get.port), servicePort, `${name}: port`);
    }
    // Readiness and startup on the pattern API's health (the liveness API's health answers the same).
    assert.equal(obj(obj(container.readinessProbe).httpGet).path, '/v1/face/pattern/health');
    assert.equal(obj(obj(container.startupProbe).httpGet).path, '/v1/face/pattern/health');
  });

  it('do not restart a draining pod: liveness fails only after longer than the drain', () => {
    const liveness = obj(container.livenessProbe);
    const window = Number(liveness.periodSeconds ?? 10) * Number(liveness.failureThreshold ?? 3);
    const drain = (Number(setting('SHUTDOWN_DELAY_MS')) + Number(setting('SHUTDOWN_GRACE_MS'))) / 1000;
    assert.ok(window > drain, `liveness gives up after ${window} s, the drain takes ${drain} s`);
  });

  it('expose the configured port, named http, and annotate it for Prometheus', () => {
    assert.equal(servicePort, defaultPort, 'the ConfigMap keeps the default port (the image EXPOSEs it)');
    assert.deepEqual(
      containerPorts.map((p) => [p.name, p.containerPort]),
      [['http', servicePort]],
    );
    assert.equal(podAnnotations['prometheus.io/scrape'], 'true');
    assert.equal(podAnnotations['prometheus.io/port'], String(servicePort));
    assert.equal(podAnnotations['prometheus.io/path'], '/metrics');
    assert.ok(isGetRoute('/metrics'));
  });

  it('configure only settings of src/config.ts, with values the service accepts', () => {
    const known = new Set(settingDocs.map((s) => s.env));
    for (const key of Object.keys(settings)) assert.ok(known.has(key), `${key} is not a setting of src/config.ts`);
    assert.doesNotThrow(() => loadConfig(settings));
    const envFrom = list(container.envFrom).map((e) => obj(e.configMapRef).name);
    assert.deepEqual(envFrom, [obj(configMap.metadata).name]);
    assert.deepEqual(list(container.env).map((e) => obj(e).name), ['TEMPLATE_KEYS'], 'every other setting in the ConfigMap');
  });

  it('sign templates: TEMPLATE_KEYS comes from a Secret the pod cannot start without, never from the ConfigMap', () => {
    assert.equal(settings.TEMPLATE_KEYS, undefined, 'no key in the ConfigMap');
    const [keys] = list(container.env).map(obj);
    const secret = obj(obj(keys!.valueFrom).secretKeyRef);
    assert.equal(secret.key, 'TEMPLATE_KEYS');
    assert.equal(secret.name, 'face-biometrics-api-template-keys');
    assert.notEqual(secret.optional, true, 'an optional Secret would let the pod start unsigned');
  });

  it('size inference to the CPU limit: workers, ONNX threads and concurrency set, workers × threads within the limit', () => {
    // Their defaults count the node's CPUs (os.availableParallelism() on Node 20 ignores the container's limit).
    assert.ok(settings.INFERENCE_WORKERS && settings.ONNX_INTRA_OP_THREADS && settings.MAX_CONCURRENT_REQUESTS, 'all set in the ConfigMap');
    const cpus = Number(labels(obj(container.resources).limits).cpu);
    assert.ok(Number(settings.INFERENCE_WORKERS) * Number(settings.ONNX_INTRA_OP_THREADS) <= cpus);
    assert.ok(Number(settings.MAX_CONCURRENT_REQUESTS) >= Number(settings.INFERENCE_WORKERS), 'enough requests in flight to keep every worker busy');
  });

  it('give a draining pod time to finish: terminationGracePeriodSeconds covers SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS', () => {
    const drain = (Number(setting('SHUTDOWN_DELAY_MS')) + Number(setting('SHUTDOWN_GRACE_MS'))) / 1000;
    const grace = Number(podSpec.terminationGracePeriodSeconds);
    assert.ok(grace >= drain + 2, `terminationGracePeriodSeconds ${grace} < ${drain} s of drain + 2 s margin`);
  });

  it('request what they limit: memory and CPU (Guaranteed QoS)', () => {
    const resources = obj(container.resources);
    const requests = labels(resources.requests);
    const limits = labels(resources.limits);
    assert.ok(limits.memory && limits.cpu);
    assert.equal(requests.memory, limits.memory);
    assert.equal(requests.cpu, limits.cpu);
  });

  it('run non-root, read-only, without privileges, with an in-memory /tmp', () => {
    const podSecurity = obj(podSpec.securityContext);
    const security = obj(container.securityContext);
    assert.equal(podSecurity.runAsNonRoot ?? security.runAsNonRoot, true);
    assert.equal(security.readOnlyRootFilesystem, true);
    assert.equal(security.allowPrivilegeEscalation, false);
    assert.deepEqual(obj(security.capabilities).drop, ['ALL']);
    assert.equal(obj(podSecurity.seccompProfile ?? security.seccompProfile).type, 'RuntimeDefault');
    // The uid the pod asks for is the image's own (Dockerfile USER).
    const user = parseDockerfile(readText('Dockerfile')).at(-1)!.instructions.filter((i) => i.keyword === 'USER').at(-1)!.args;
    assert.equal(String(podSecurity.runAsUser ?? security.runAsUser), user.split(':')[0]);

    const mount = list(container.volumeMounts).find((m) => m.mountPath === '/tmp');
    assert.ok(mount, '/tmp mounted');
    const volume = list(podSpec.volumes).find((v) => v.name === mount.name);
    const emptyDir = obj(volume?.emptyDir);
    assert.equal(emptyDir.medium, 'Memory');
    assert.ok(emptyDir.sizeLimit, 'a size limit (in-memory emptyDir counts against the memory limit)');
  });

  it('spread the pods across nodes', () => {
    const spreads = list(podSpec.topologySpreadConstraints).filter((c) => c.topologyKey === 'kubernetes.io/hostname');
    const antiAffinity = list(obj(obj(podSpec.affinity).podAntiAffinity).preferredDuringSchedulingIgnoredDuringExecution);
    assert.ok(spreads.length > 0 || antiAffinity.length > 0);
    for (const spread of spreads) assert.ok(subsetOf(labels(obj(spread.labelSelector).matchLabels), podLabels));
  });

  it('select the Deployment’s pods from the Deployment, the Service, the PDB; the HPA scales the Deployment', () => {
    assert.ok(subsetOf(labels(obj(obj(deployment.spec).selector).matchLabels), podLabels), 'Deployment selector');
    assert.ok(subsetOf(labels(obj(service.spec).selector), podLabels), 'Service selector');
    assert.ok(subsetOf(labels(obj(obj(pdb.spec).selector).matchLabels), podLabels), 'PDB selector');
    assert.deepEqual(obj(hpa.spec).scaleTargetRef, { apiVersion: deployment.apiVersion, kind: 'Deployment', name: obj(deployment.metadata).name });
    assert.equal(obj(deployment.spec).replicas, undefined, 'replicas left to the HPA');
  });

  it('leave room for a drain: the HPA keeps at least 2 pods and the PDB lets one go', () => {
    const spec = obj(hpa.spec);
    assert.ok(Number(spec.minReplicas) >= 2 && Number(spec.maxReplicas) >= Number(spec.minReplicas));
    const metrics = list(spec.metrics);
    assert.ok(metrics.some((m) => m.type === 'Resource' && obj(m.resource).name === 'cpu'), 'scales on CPU');
    const budget = obj(pdb.spec);
    if (budget.maxUnavailable !== undefined) assert.ok(Number(budget.maxUnavailable) >= 1);
    else assert.ok(Number(budget.minAvailable) < Number(spec.minReplicas));
  });

  it('route the Service to the container port by name', () => {
    const ports = list(obj(service.spec).ports);
    assert.equal(obj(service.spec).type ?? 'ClusterIP', 'ClusterIP');
    assert.deepEqual(ports.map((p) => [p.name, p.port, p.targetPort]), [['http', 80, 'http']]);
    assert.equal(resolvePort(ports[0]!.targetPort), servicePort);
  });

  it('scrape /metrics through the ServiceMonitor, which selects the Service', () => {
    const spec = obj(serviceMonitor.spec);
    assert.ok(subsetOf(labels(obj(spec.selector).matchLabels), labels(obj(service.metadata).labels)), 'selects the Service');
    const endpoints = list(spec.endpoints);
    assert.equal(endpoints.length, 1);
    assert.equal(endpoints[0]!.path, '/metrics');
    assert.ok(list(obj(service.spec).ports).some((p) => p.name === endpoints[0]!.port), 'a named port of the Service');
  });

  it('name an image by tag, never latest', () => {
    assert.match(String(container.image), /^[\w./-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/);
    assert.doesNotMatch(String(container.image), /:latest$/);
  });
});
