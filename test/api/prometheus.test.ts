/**
 * The service's metrics in a real Prometheus: promtool's lint of /metrics, then a Prometheus server scraping two
 * instances of the real app — one healthy, one whose anti-spoof model fails in the runtime and which has a single
 * inference slot and no queue — with the alerting rules of monitoring/alerts.yml loaded. After real traffic of every
 * kind, every query of the Grafana dashboard (monitoring/grafana-dashboard.json) must return data, and the alert for
 * failing model runs must fire for the failing instance.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../../src/config.js';
import { dashboard, dashboardPanels, resolveQuery } from '../helpers/dashboard.js';
import { dataMissing, readData } from '../helpers/data.js';
import { postMultipart } from '../helpers/multipart.js';
import { postImage, type TestService, startService } from '../helpers/service.js';
import { freePort, hasCommand, until } from '../helpers/system.js';

// The job the ServiceMonitor gives the pods (the Service's name), which the alerting rules select.
const JOB = 'face-biometrics-api';
const SCRAPE_INTERVAL = '1s';

interface QueryResult {
  metric: Record<string, string>;
  value: [number, string];
}

// .ci/run installs Debian's prometheus package (promtool and the server); only where apt is impossible are these
// tests skipped, with the reason printed.
const missing = ['promtool', 'prometheus'].filter((command) => !hasCommand(command));
if (missing.length > 0) process.stdout.write(`# skipping Prometheus tests: ${missing.join(' and ')} not installed (apt-get install prometheus)\n`);

describe('Prometheus', { skip: missing.length > 0 ? `${missing.join(', ')} not installed` : (dataMissing ?? false) }, () => {
  let service: TestService;
  let failing: TestService;
  let prometheus: ChildProcess;
  let dir: string;
  let api: string;

  const query = async (promql: string): Promise<QueryResult[]> => {
    const body = (await (await fetch(`${api}/query?query=${encodeURIComponent(promql)}`)).json()) as { status: string; error?: string; data: { result: QueryResult[] } };
    if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
    return body.data.result;
  };

  /** Requests of every kind the dashboard shows: answers, errors, decisions, liveness results, refusals, failures. */
  async function sendTraffic(): Promise<void> {
    const photo = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');
    assert.equal((await postImage(`${service.url}/v1/face/pattern/extract`, photo, 'image/jpeg')).status, 200);
    assert.equal((await postImage(`${service.url}/v1/face/pattern/extract`, await readData('no_face/skimage/coffee.png'), 'image/png')).status, 400);
    const pair = await postMultipart(`${service.url}/v1/face/pattern/extract_and_compare`, [
      { name: 'sample_1', contentType: 'image/jpeg', body: photo },
      { name: 'sample_2', contentType: 'image/jpeg', body: await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0002.jpg') },
    ]);
    assert.equal(pair.status, 200);
    assert.equal((await postImage(`${service.url}/v1/face/liveness/detect`, await readData('spoof/silent_face/real/image_T1.jpg'), 'image/jpeg')).status, 200);
    const video = await postMultipart(`${service.url}/v1/face/liveness/detect`, [{ name: 'v', filename: 'v.mp4', body: await readData('video/selfie_6s.mp4') }]);
    assert.equal(video.status, 200);

    // The failing instance: its anti-spoof model fails three times in a row, so health reports 3.
    const selfie = await readData('spoof/silent_face/real/image_T1.jpg');
    for (let i = 0; i < 3; i += 1) assert.equal((await postImage(`${failing.url}/v1/face/liveness/detect`, selfie, 'image/jpeg')).status, 400);
    assert.equal((await fetch(`${failing.url}/v1/face/pattern/health`)).status, 503);
    // One slot and no queue: of requests sent together, all but one are refused.
    await until('a 503 refusal', 10_000, async () => {
      const statuses = await Promise.all(Array.from({ length: 4 }, async () => (await postImage(`${failing.url}/v1/face/pattern/extract`, photo, 'image/jpeg')).status));
      return statuses.includes(503) ? true : undefined;
    });
  }

  before(async () => {
    service = await startService();
    failing = await startService({ MAX_CONCURRENT_REQUESTS: '1', MAX_QUEUED_REQUESTS: '0' }, { modelId: 'fr_liveness', fault: 'runtime-error' });
    dir = await mkdtemp(path.join(os.tmpdir(), 'prometheus-test-'));
    const port = await freePort();
    const targets = [service, failing].map((s) => `'${new URL(s.url).host}'`).join(', ');
    await writeFile(
      path.join(dir, 'prometheus.yml'),
      [
        'global:',
        `  scrape_interval: ${SCRAPE_INTERVAL}`,
        `  evaluation_interval: ${SCRAPE_INTERVAL}`,
        'rule_files:',
        `  - ${path.join(projectRoot, 'monitoring', 'alerts.yml')}`,
        'scrape_configs:',
        `  - job_name: ${JOB}`,
        '    metrics_path: /metrics',
        '    static_configs:',
        `      - targets: [${targets}]`,
        '',
      ].join('\n'),
    );
    prometheus = spawn('prometheus', [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ], { stdio: 'ignore' });
    api = `http://127.0.0.1:${port}/api/v1`;
    await until('both targets to be up', 30_000, async () => {
      const up = await query(`up{job="${JOB}"} == 1`);
      return up.length === 2 ? true : undefined;
    });
    await sendTraffic();
  });

  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await new Promise((resolve) => prometheus.once('exit', resolve));
    }
    if (dir) await rm(dir, { recursive: true, force: true });
    await service?.close();
    await failing?.close();
  });

  it('promtool check metrics finds nothing to complain about in /metrics', async () => {
    const exposition = await (await fetch(`${service.url}/metrics`)).text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.equal((check.stdout + check.stderr).trim(), '');
  });

  it('a real Prometheus server scrapes the service: the targets are up and the request counter is stored', async () => {
    const target = new URL(service.url).host;
    const series = await until('the request counter', 30_000, async () => {
      const found = await query(`http_requests_total{instance="${target}", route="/v1/face/pattern/extract", status_code="200"}`);
      return found.length > 0 ? found : undefined;
    });
    assert.equal(series[0]!.value[1], '1');
  });

  it('every query of the Grafana dashboard returns data', async () => {
    const queries = dashboardPanels().flatMap((panel) => panel.targets.map((t) => ({ panel: panel.title, promql: resolveQuery(t.expr, JOB, '1m') })));
    const empty = async (): Promise<string[]> => {
      const results = await Promise.all(queries.map(async (q) => ((await query(q.promql)).length === 0 ? [`${q.panel}: ${q.promql}`] : [])));
      return results.flat();
    };
    // Rates need two scrapes after the traffic; a query still empty after that names a metric that is not there.
    let stillEmpty: string[] = [];
    await until('every dashboard query to return data', 20_000, async () => {
      stillEmpty = await empty();
      return stillEmpty.length === 0 ? true : undefined;
    }).catch(() => undefined);
    assert.deepEqual(stillEmpty, []);
  });

  it('the dashboard’s job and pod variables find the job and both instances', async () => {
    const labelValues = async (label: string, match: string): Promise<string[]> => {
      const body = (await (await fetch(`${api}/label/${label}/values?match[]=${encodeURIComponent(match)}`)).json()) as { data: string[] };
      return body.data.sort();
    };
    const [, job, instance] = dashboard.templating.list.map((v) => (typeof v.query === 'string' ? v.query : v.query.query));
    const args = (definition: string): [string, string] => {
      const match = /^label_values\((.+), (\w+)\)$/.exec(definition)!;
      return [match[2]!, resolveQuery(match[1]!, JOB, '1m')];
    };
    assert.deepEqual(await labelValues(...args(job!)), [JOB]);
    assert.deepEqual(await labelValues(...args(instance!)), [service, failing].map((s) => new URL(s.url).host).sort());
  });

  it('loads the alerting rules, evaluates each without error, and fires FaceApiModelRunFailures for the failing model', async () => {
    const firing = await until('the model-failure alert', 20_000, async () => {
      const alerts = (await (await fetch(`${api}/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
      const found = alerts.data.alerts.find((a) => a.labels.alertname === 'FaceApiModelRunFailures' && a.state === 'firing');
      return found;
    });
    assert.equal(firing.labels.model, 'fr_liveness');
    assert.equal(firing.labels.instance, new URL(failing.url).host);
    const rules = (await (await fetch(`${api}/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    const inFile = (await readFile(path.join(projectRoot, 'monitoring', 'alerts.yml'), 'utf8')).match(/^\s*- alert: /gm)!.length;
    assert.equal(loaded.length, inFile);
    for (const rule of loaded) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError}`);
  });
});
