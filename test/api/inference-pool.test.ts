import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../../src/config.js';
import { ModelRuntimeError } from '../../src/errors.js';
import { createInferencePool, type InferencePool } from '../../src/models/session.js';

describe('inference pool', () => {
  let pool: InferencePool;
  before(async () => {
    const bytes = await readFile(path.join(projectRoot, 'models', 'fr_landmark.onnx'));
    pool = await createInferencePool([{ id: 'fr_landmark', bytes }], { intraOpThreads: 1, workers: 2 });
  });
  after(() => pool.close());

  const input = (seed: number): Float32Array => Float32Array.from({ length: 64 * 64 }, (_, i) => ((i * 31 + seed * 17) % 256) / 256);

  it('describes each model from its graph and reports its warm-up', () => {
    const session = pool.sessions.get('fr_landmark')!;
    assert.deepEqual(session.inputs, [{ name: 'input', type: 'float32', shape: [1, 1, 64, 64] }]);
    assert.deepEqual(session.outputs, [{ name: 'output', type: 'float32', shape: [1, 136] }]);
    assert.ok(session.warmupMs >= 0);
  });

  it('gives the same answer from every worker, for runs in flight at once', async () => {
    const session = pool.sessions.get('fr_landmark')!;
    const runs = await Promise.all(Array.from({ length: 8 }, () => session.run({ input: { data: input(1), dims: [1, 1, 64, 64] } })));
    for (const run of runs) assert.deepEqual(run.output!.data, runs[0]!.output!.data);
    const other = await session.run({ input: { data: input(2), dims: [1, 1, 64, 64] } });
    assert.notDeepEqual(other.output!.data, runs[0]!.output!.data);
  });

  it('runs its workers 10 nice levels below the event loop, which keeps its own priority', async () => {
    // Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value.
    const niceOf = async (tid: string): Promise<number> => {
      const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const main = await niceOf(String(process.pid));
    const threads = await Promise.all((await readdir('/proc/self/task')).map(niceOf));
    assert.equal(threads.filter((nice) => nice === Math.min(19, main + 10)).length, 2, `nice values ${threads.join(' ')}`);
  });

  it('leaves the caller its input: tensors are copied to the workers, not moved', async () => {
    const data = input(3);
    await pool.sessions.get('fr_landmark')!.run({ input: { data, dims: [1, 1, 64, 64] } });
    assert.equal(data.length, 64 * 64);
  });

  it('reports a run the runtime refuses as the model-runtime error, naming the model', async () => {
    await assert.rejects(
      pool.sessions.get('fr_landmark')!.run({ wrong: { data: new Float32Array(4), dims: [1, 4] } }),
      (error: unknown) => error instanceof ModelRuntimeError && error.modelId === 'fr_landmark',
    );
  });
});
