import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectError, type TestService, startService } from '../helpers/service.js';

describe('service routes', () => {
  let service: TestService;
  before(async () => {
    service = await startService();
  });
  after(() => service.close());

  it('GET /version names the core, the runtime and every model with its version', async () => {
    const response = await fetch(`${service.url}/version`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await response.json()) as { core: string; tfss: string; models: { name: string; version: string }[] };
    assert.match(body.core, /^\d+\.\d+\.\d+$/);
    assert.equal(body.tfss, '1.30.0');
    assert.deepEqual(
      body.models.map((m) => m.name),
      ['fr_detect', 'fr_landmark', 'fr_feature', 'fr_liveness'],
    );
    assert.ok(body.models.every((m) => m.version === 'faceplugin-face-recognition-js@0.0.1'));
  });

  for (const area of ['pattern', 'liveness']) {
    it(`GET /v1/face/${area}/health answers status 0 with an empty message`, async () => {
      const response = await fetch(`${service.url}/v1/face/${area}/health`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: 0, message: '' });
    });
  }

  it('GET /metrics exposes default metrics and request durations by route and status', async () => {
    await fetch(`${service.url}/version`);
    const text = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(text, /^process_cpu_seconds_total \d/m);
    assert.match(text, /^http_request_duration_seconds_count\{route="\/version",method="GET",status_code="200"\} [1-9]/m);
  });

  it('returns the client request id, or a new one', async () => {
    const mine = await fetch(`${service.url}/version`, { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(mine.headers.get('x-request-id'), 'abc-123');
    const generated = await fetch(`${service.url}/version`, { headers: { 'x-request-id': 'bad id with spaces' } });
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('answers 404 SVC-004004 for unknown routes, in every area', async () => {
    for (const path of ['/', '/nope', '/v1/face/pattern/nope', '/v1/face/liveness/nope', '/v2/face/pattern/extract']) {
      await expectError(await fetch(`${service.url}${path}`), 404, 'SVC-004004');
    }
  });

  it('answers wrong methods with the area code and an Allow header', async () => {
    const cases = [
      ['/version', 'POST', 'SVC-002002', 'GET'],
      ['/v1/face/pattern/health', 'POST', 'BPE-002002', 'GET'],
      ['/v1/face/liveness/health', 'DELETE', 'LDE-002002', 'GET'],
    ] as const;
    for (const [path, method, code, allow] of cases) {
      const response = await fetch(`${service.url}${path}`, { method });
      await expectError(response, 400, code);
      assert.equal(response.headers.get('allow'), allow === 'GET' ? 'GET, HEAD' : allow);
    }
  });

  it('never sends a stack trace or framework banner', async () => {
    const response = await fetch(`${service.url}/v1/face/pattern/extract`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: 'x' });
    assert.equal(response.headers.get('x-powered-by'), null);
    assert.doesNotMatch(await response.text(), /at .*\.(ts|js):\d+/);
  });
});
