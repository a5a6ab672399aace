import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readData } from '../helpers/data.js';
import { postImage, type TestService, startService } from '../helpers/service.js';

const has = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// .ci/run installs Debian's prometheus package (promtool and the server); only where apt is impossible are these
// tests skipped, with the reason printed.
const missing = ['promtool', 'prometheus'].filter((command) => !has(command));
if (missing.length > 0) process.stdout.write(`# skipping Prometheus tests: ${missing.join(' and ')} not installed (apt-get install prometheus)\n`);

describe('Prometheus', { skip: missing.length > 0 ? `${missing.join(', ')} not installed` : false }, () => {
  let service: TestService;
  before(async () => {
    service = await startService();
    await postImage(`${service.url}/v1/face/pattern/extract`, await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg'), 'image/jpeg');
    await postImage(`${service.url}/v1/face/liveness/detect`, await readData('spoof/silent_face/real/image_T1.jpg'), 'image/jpeg');
  });
  after(() => service.close());

  it('promtool check metrics finds nothing to complain about in /metrics', async () => {
    const exposition = await (await fetch(`${service.url}/metrics`)).text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.equal((check.stdout + check.stderr).trim(), '');
  });

  it('a real Prometheus server scrapes the service: the target is up and the request counter is stored', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'prometheus-test-'));
    const port = await freePort();
    const target = new URL(service.url).host;
    await writeFile(
      path.join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: face-api\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    const prometheus = spawn('prometheus', [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ], { stdio: 'ignore' });
    const api = `http://127.0.0.1:${port}/api/v1`;
    try {
      const health = await until('the target to be up', 30_000, async () => {
        const body = (await (await fetch(`${api}/targets`)).json()) as { data: { activeTargets: { health: string; scrapeUrl: string }[] } };
        const found = body.data.activeTargets.find((t) => t.scrapeUrl.includes(target));
        return found?.health === 'up' ? found : undefined;
      });
      assert.equal(health.scrapeUrl, `${service.url}/metrics`);
      const series = await until('the request counter', 30_000, async () => {
        const query = encodeURIComponent('http_requests_total{route="/v1/face/pattern/extract"}');
        const body = (await (await fetch(`${api}/query?query=${query}`)).json()) as { data: { result: { value: [number, string] }[] } };
        return body.data.result.length > 0 ? body.data.result : undefined;
      });
      assert.equal(series[0]!.value[1], '1');
    } finally {
      prometheus.kill('SIGTERM');
      await new Promise((resolve) => prometheus.once('exit', resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
