import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/config.js';

/** What the tests read of a Grafana dashboard (monitoring/grafana-dashboard.json). */
export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets: { refId: string; expr: string; legendFormat?: string }[];
}

export interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { name: string; type: string; query: string | { query: string }; allValue?: string }[] };
  panels: Panel[];
}

export const dashboard = JSON.parse(readFileSync(path.join(projectRoot, 'monitoring', 'grafana-dashboard.json'), 'utf8')) as Dashboard;

/** The panels that show data (rows only group them). */
export const dashboardPanels = (): Panel[] => dashboard.panels.filter((p) => p.type !== 'row');

/**
 * A panel's query as Grafana sends it to Prometheus: the job variable set to `job`, the pod variable to its "All"
 * value, and $__rate_interval to `rateInterval`.
 */
export function resolveQuery(expr: string, job: string, rateInterval: string): string {
  const all = dashboard.templating.list.find((v) => v.name === 'instance')!.allValue!;
  return expr
    .replaceAll(/\$\{?job\}?/g, job)
    .replaceAll(/\$\{?instance\}?/g, all)
    .replaceAll(/\$\{?__rate_interval\}?/g, rateInterval);
}
