import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createRefusalLog } from '../../src/observability/refusals.js';

describe('the refusal log', () => {
  it('counts every refusal in the metrics and logs one line per interval with the count of each reason', async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)));
    const metrics = createMetrics({ version: '0', runtime: 'test', node: process.version });
    const refusals = createRefusalLog(createLogger('info', stream), metrics, 50);
    for (let i = 0; i < 1000; i++) refusals.count('queue_full');
    refusals.count('too_large');
    refusals.count('slow_body');
    assert.equal(lines.length, 0, 'nothing is logged before the interval ends');
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0]!.refused, { queue_full: 1000, too_large: 1, slow_body: 1 });
    assert.equal(lines[0]!.msg, 'requests refused');
    assert.equal(lines[0]!.level, 'warn');
    const text = await metrics.registry.metrics();
    assert.match(text, /^face_api_rejected_requests_total\{reason="queue_full"\} 1000$/m);
    assert.match(text, /^face_api_rejected_requests_total\{reason="slow_body"\} 1$/m);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal(lines.length, 1, 'a quiet interval logs nothing');
  });
});
