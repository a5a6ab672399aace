/**
 * The alerting rules and the Grafana dashboard operators load (monitoring/): promtool checks the rules and runs their
 * unit tests, each alert is shown to need its tests, the PrometheusRule carries the same rules, and the dashboard is
 * well formed. test/api/prometheus.test.ts runs the rules and every dashboard query against a real Prometheus
 * scraping the real service.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { dashboard, dashboardPanels } from '../helpers/dashboard.js';
import { hasCommand } from '../helpers/system.js';
import { readText, root } from './helpers.js';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

const rules = parse(readText('monitoring/alerts.yml')) as RuleFile;
const alerts = rules.groups.flatMap((g) => g.rules);

const promtool = (...args: string[]) => spawnSync('promtool', args, { cwd: root, encoding: 'utf8' });

if (!hasCommand('promtool')) process.stdout.write('# skipping promtool checks: promtool not installed (apt-get install prometheus)\n');

describe('alerting rules', () => {
  it('raise every alert the operators need, each with a severity, a summary and a description', () => {
    assert.deepEqual(alerts.map((a) => a.alert).sort(), [
      'FaceApiLatencyHigh',
      'FaceApiMemoryNearLimit',
      'FaceApiModelRunFailures',
      'FaceApiServerErrors',
      'FaceApiSustainedRefusals',
      'FaceApiTargetDown',
      'FaceApiUnhealthy',
    ]);
    for (const alert of alerts) {
      assert.match(alert.labels.severity ?? '', /^(critical|warning)$/, alert.alert);
      assert.ok(alert.annotations.summary && alert.annotations.description, alert.alert);
    }
  });

  it('are the same in the PrometheusRule for the Prometheus Operator', () => {
    const manifest = parse(readText('k8s/prometheusrule.yaml')) as { kind: string; spec: RuleFile };
    assert.equal(manifest.kind, 'PrometheusRule');
    assert.deepEqual(manifest.spec, rules, 'k8s/prometheusrule.yaml spec differs from monitoring/alerts.yml');
  });

  it('alert on memory at 85 % of the Deployment’s memory limit', () => {
    const deployment = parse(readText('k8s/deployment.yaml')) as { spec: { template: { spec: { containers: { resources: { limits: { memory: string } } }[] } } } };
    const limit = deployment.spec.template.spec.containers[0]!.resources.limits.memory;
    assert.equal(limit, '1Gi', 'the rule and its annotation say 1 GiB');
    const memory = alerts.find((a) => a.alert === 'FaceApiMemoryNearLimit')!;
    assert.match(memory.expr, new RegExp(`> 0\\.85 \\* ${2 ** 30}$`));
  });

  describe('with promtool', { skip: hasCommand('promtool') ? false : 'promtool not installed' }, () => {
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'alerts-test-'));
    after(() => rmSync(scratch, { recursive: true, force: true }));

    it('pass promtool check rules', () => {
      const check = promtool('check', 'rules', 'monitoring/alerts.yml');
      assert.equal(check.status, 0, check.stdout + check.stderr);
      assert.match(check.stdout, new RegExp(`SUCCESS: ${alerts.length} rules found`));
    });

    it('pass their unit tests (monitoring/alerts.test.yml)', () => {
      const test = promtool('test', 'rules', 'monitoring/alerts.test.yml');
      assert.equal(test.status, 0, test.stdout + test.stderr);
    });

    // The unit tests fail when any one alert never fires, and when it fires all the time: so each alert has a test
    // where it must fire and one where it must stay quiet.
    for (const alert of alerts) {
      for (const [broken, expr] of [['never fires', 'vector(1) < 0'], ['always fires', 'vector(1) > 0']] as const) {
        it(`have unit tests that fail when ${alert.alert} ${broken}`, () => {
          const mutated: RuleFile = { groups: rules.groups.map((g) => ({ ...g, rules: g.rules.map((r) => (r.alert === alert.alert ? { ...r, expr } : r)) })) };
          writeFileSync(path.join(scratch, 'alerts.yml'), stringify(mutated));
          writeFileSync(path.join(scratch, 'alerts.test.yml'), readText('monitoring/alerts.test.yml'));
          const test = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: scratch, encoding: 'utf8' });
          assert.notEqual(test.status, 0, `${alert.alert} ${broken}, yet the unit tests pass`);
          assert.match(test.stdout + test.stderr, new RegExp(`alertname: ${alert.alert}\\b`));
        });
      }
    }
  });
});

describe('Grafana dashboard', () => {
  it('is a dashboard with a Prometheus datasource variable and job and pod variables', () => {
    assert.equal(dashboard.uid, 'face-biometrics-api');
    assert.deepEqual(dashboard.templating.list.map((v) => v.name), ['datasource', 'job', 'instance']);
    assert.equal(dashboard.templating.list[0]!.query, 'prometheus');
  });

  it('gives every panel a unique id, a place on the 24-column grid, the datasource variable and at least one query', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const panel of dashboard.panels) {
      assert.ok(panel.gridPos.x >= 0 && panel.gridPos.x + panel.gridPos.w <= 24, panel.title);
    }
    for (const panel of dashboardPanels()) {
      assert.equal(panel.datasource?.uid, '${datasource}', panel.title);
      assert.ok(panel.targets.length > 0 && panel.targets.every((t) => t.expr.trim() !== ''), panel.title);
      assert.ok(panel.description, `${panel.title} has no description`);
    }
  });

  it('lays the panels out without overlap', () => {
    const cells = new Set<string>();
    for (const { title, gridPos } of dashboard.panels) {
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x += 1) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y += 1) {
          assert.ok(!cells.has(`${x},${y}`), `${title} overlaps another panel at ${x},${y}`);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});
