import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { needsData, readData } from '../helpers/data.js';
import { postMultipart } from '../helpers/multipart.js';
import { expectError, postImage, type TestService, startService } from '../helpers/service.js';

const selfie = await readData('video/selfie_6s.mp4');
const face = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');
const videoRequest = (url: string): Promise<Response> => postMultipart(`${url}/v1/face/liveness/detect`, [{ name: 'v', filename: 'v.mp4', body: selfie }]);

describe('backpressure', needsData, () => {
  let service: TestService;
  before(async () => {
    service = await startService({ MAX_CONCURRENT_REQUESTS: '1', MAX_QUEUED_REQUESTS: '1', QUEUE_TIMEOUT_MS: '20000' });
  });
  after(() => service.close());

  it('answers 503 with Retry-After past one slot and one queued request, while health and metrics keep answering', async () => {
    const started = [videoRequest(service.url), videoRequest(service.url), videoRequest(service.url), videoRequest(service.url)];
    await new Promise((resolve) => setTimeout(resolve, 100));
    const healthStarted = performance.now();
    const health = await fetch(`${service.url}/v1/face/pattern/health`);
    const healthMs = performance.now() - healthStarted;
    assert.equal(health.status, 200);
    assert.ok(healthMs < 250, `health took ${healthMs.toFixed(0)} ms under load`);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(metrics, /^face_api_inflight_requests 1$/m);
    assert.match(metrics, /^face_api_queued_requests 1$/m);

    const responses = await Promise.all(started);
    const statuses = responses.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 503, 503]);
    for (const response of responses.filter((r) => r.status === 503)) {
      assert.equal(response.headers.get('retry-after'), '1');
      await expectError(response, 503, 'LDE-001003');
    }
    const after = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(after, /^face_api_rejected_requests_total\{reason="queue_full"\} 2$/m);
    assert.match(after, /^face_api_inflight_requests 0$/m);
  });
});

describe('slow uploads', needsData, () => {
  it('hold body budget, never an inference slot: a good request is served while six bodies trickle, and the six are cut at the minimum rate', async () => {
    const service = await startService({ MAX_CONCURRENT_REQUESTS: '2', BODY_MIN_BYTES_PER_SECOND: '1024' });
    try {
      const { port } = new URL(service.url);
      const slow = Array.from({ length: 6 }, () => {
        const socket = connect(Number(port), '127.0.0.1');
        const received: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => received.push(chunk));
        const started = performance.now();
        socket.write('POST /v1/face/pattern/extract HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 200000\r\n\r\n');
        socket.write(face.subarray(0, 1));
        return new Promise<{ answer: string; ms: number }>((resolve) =>
          socket.on('close', () => resolve({ answer: Buffer.concat(received).toString('latin1'), ms: performance.now() - started })),
        );
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      assert.match(metrics, /^face_api_receiving_requests 6$/m);
      assert.match(metrics, /^face_api_inflight_requests 0$/m);
      const started = performance.now();
      const good = await postImage(`${service.url}/v1/face/pattern/extract`, face, 'image/jpeg');
      const goodMs = performance.now() - started;
      assert.equal(good.status, 200, await good.clone().text());
      // Before, the six held every slot until the body deadline and the good request got 503 after QUEUE_TIMEOUT_MS (10 s).
      assert.ok(goodMs < 3000, `the good request took ${goodMs.toFixed(0)} ms`);
      for (const { answer, ms } of await Promise.all(slow)) {
        assert.match(answer, /^HTTP\/1\.1 408 /);
        assert.match(answer, /"code":"BPE-002008".*under the minimum of 1024/);
        // Cut from the second second on, not at BODY_TIMEOUT_MS (30 s).
        assert.ok(ms > 1500 && ms < 3500, `a trickling upload was cut after ${ms.toFixed(0)} ms`);
      }
      assert.match(await (await fetch(`${service.url}/metrics`)).text(), /^face_api_rejected_requests_total\{reason="slow_body"\} 6$/m);
    } finally {
      await service.close();
    }
  });
});

interface FloodAnswer {
  client: number;
  status: number;
  retryAfter: string | undefined;
  code: string;
  /** From sending the request to its answer. */
  ms: number;
}

/**
 * `clients` clients, each on a kept-alive connection of its own, each sending `each` extracts of `body` one after the
 * other without waiting (they ignore Retry-After), from a worker thread: its own event loop, so that sending them
 * does not delay the service's (they share only the cores).
 */
function flood(url: string, body: Buffer, clients: number, each: number): Promise<FloodAnswer[]> {
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
    const http = require('node:http');
    const { url, body, clients, each } = workerData;
    const post = (agent) => new Promise((resolve, reject) => {
      const started = performance.now();
      const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'image/jpeg', 'content-length': body.length } }, (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode, retryAfter: response.headers['retry-after'], code: JSON.parse(Buffer.concat(chunks)).code, ms: performance.now() - started }));
      });
      request.on('error', reject);
      request.end(body);
    });
    const client = async (index) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const answers = [];
      for (let i = 0; i < each; i++) answers.push({ client: index, ...(await post(agent)) });
      agent.destroy();
      return answers;
    };
    Promise.all(Array.from({ length: clients }, (_, i) => client(i))).then((all) => parentPort.postMessage(all.flat()));`,
    { eval: true, workerData: { url, body, clients, each } },
  );
  return new Promise((resolve, reject) => {
    worker.once('message', (answers: FloodAnswer[]) => void worker.terminate().then(() => resolve(answers)));
    worker.once('error', reject);
  });
}

describe('refusals under a flood', needsData, () => {
  it('are answered before the framework, counted, not logged one by one, and paced for clients that ignore Retry-After, while health keeps answering', async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    // A body that never comes holds all the body budget; with no queue, every other inference request is refused.
    const service = await startService({ MAX_QUEUED_REQUESTS: '0', MAX_INFLIGHT_BODY_BYTES: '100000', BODY_MIN_BYTES_PER_SECOND: '0' }, undefined, stream);
    const stalled = connect(Number(new URL(service.url).port), '127.0.0.1');
    try {
      stalled.write('POST /v1/face/pattern/extract HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n');
      stalled.write(face);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const [clients, each] = [100, 3];
      const flooding = flood(`${service.url}/v1/face/pattern/extract`, face, clients, each);
      const healthMs: number[] = [];
      let done = false;
      void flooding.finally(() => (done = true));
      while (!done) {
        const started = performance.now();
        assert.equal((await fetch(`${service.url}/v1/face/pattern/health`)).status, 200);
        healthMs.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const answers = await flooding;
      assert.deepEqual([...new Set(answers.map((a) => `${a.status} ${a.code} Retry-After ${a.retryAfter}`))], ['503 BPE-001003 Retry-After 1']);
      // The cost that matters under a flood: how long health waits for the event loop.
      assert.ok(healthMs.length >= 10 && Math.max(...healthMs) < 250, `health took up to ${Math.max(...healthMs).toFixed(0)} ms under the flood`);
      // Each client's first refusal comes at once; the ones it asked for without waiting come when Retry-After has passed.
      const first = answers.filter((_, i) => i % each === 0).map((a) => a.ms);
      const eager = answers.filter((_, i) => i % each !== 0).map((a) => a.ms);
      assert.ok(Math.max(...first) < 900, `a first refusal took ${Math.max(...first).toFixed(0)} ms`);
      assert.ok(Math.min(...eager) > 800 && Math.max(...eager) < 2000, `refusals of eager requests took ${Math.min(...eager).toFixed(0)}–${Math.max(...eager).toFixed(0)} ms`);
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`^face_api_rejected_requests_total\\{reason="queue_full"\\} ${clients * each}$`, 'm'));
      assert.match(metrics, new RegExp(`^http_requests_total\\{route="/v1/face/pattern/extract",method="POST",status_code="503"\\} ${clients * each}$`, 'm'));
      const logged = lines.map((line) => JSON.parse(line) as { msg: string; status?: number });
      assert.deepEqual(logged.filter((entry) => entry.msg === 'request' && entry.status === 503), [], 'a refusal was logged on its own');
    } finally {
      stalled.destroy();
      await service.close();
    }
  });
});

describe('body budget', needsData, () => {
  it('queues a request whose body would pass MAX_INFLIGHT_BODY_BYTES, though slots are free, and runs it next', async () => {
    const service = await startService({ MAX_CONCURRENT_REQUESTS: '4', MAX_INFLIGHT_BODY_BYTES: String(selfie.length + 1024) });
    try {
      const started = [videoRequest(service.url), videoRequest(service.url)];
      await new Promise((resolve) => setTimeout(resolve, 100));
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      assert.match(metrics, /^face_api_inflight_requests 1$/m);
      assert.match(metrics, /^face_api_queued_requests 1$/m);
      const bodyBytes = Number(/^face_api_inflight_body_bytes (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(bodyBytes > selfie.length && bodyBytes <= selfie.length + 1024, `${bodyBytes} body bytes in flight`);
      const small = await postImage(`${service.url}/v1/face/pattern/extract`, face, 'image/jpeg');
      assert.equal(small.status, 200, 'a small body fits beside the first video once it is its turn');
      assert.deepEqual((await Promise.all(started)).map((r) => r.status), [200, 200]);
      assert.match(await (await fetch(`${service.url}/metrics`)).text(), /^face_api_inflight_body_bytes 0$/m);
    } finally {
      await service.close();
    }
  });
});

describe('queue timeout', needsData, () => {
  it('refuses a request that waited longer than QUEUE_TIMEOUT_MS', async () => {
    const service = await startService({ MAX_CONCURRENT_REQUESTS: '1', MAX_QUEUED_REQUESTS: '10', QUEUE_TIMEOUT_MS: '50' });
    try {
      const [first, second] = await Promise.all([videoRequest(service.url), postImage(`${service.url}/v1/face/pattern/extract`, face, 'image/jpeg')]);
      assert.equal(first.status, 200);
      await expectError(second, 503, 'BPE-001003');
      assert.match(await (await fetch(`${service.url}/metrics`)).text(), /^face_api_rejected_requests_total\{reason="queue_timeout"\} 1$/m);
    } finally {
      await service.close();
    }
  });
});

describe('slow bodies', needsData, () => {
  it('answers 408 and closes the connection when a body trickles in past BODY_TIMEOUT_MS', async () => {
    const service = await startService({ BODY_TIMEOUT_MS: '300' });
    try {
      const { port } = new URL(service.url);
      const socket = connect(Number(port), '127.0.0.1');
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write('POST /v1/face/pattern/extract HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n');
      socket.write(face.subarray(0, 1000));
      const started = performance.now();
      await closed;
      const elapsed = performance.now() - started;
      const response = Buffer.concat(received).toString('latin1');
      assert.match(response, /^HTTP\/1\.1 408/);
      assert.match(response, /"code":"BPE-002008"/);
      assert.ok(elapsed < 3000, `closed after ${elapsed.toFixed(0)} ms`);
      assert.equal((await fetch(`${service.url}/v1/face/pattern/health`)).status, 200);
    } finally {
      await service.close();
    }
  });
});

describe('metrics', needsData, () => {
  it('count requests, stages, decisions, liveness results, models and build', async () => {
    const service = await startService();
    try {
      const template = Buffer.from(await (await postImage(`${service.url}/v1/face/pattern/extract`, face, 'image/jpeg')).arrayBuffer());
      await postMultipart(`${service.url}/v1/face/pattern/compare`, [
        { name: 'bio_feature', body: template },
        { name: 'bio_template', body: template },
      ]);
      await postImage(`${service.url}/v1/face/liveness/detect`, await readData('spoof/silent_face/spoof/image_F1.jpg'), 'image/jpeg');
      await (await videoRequest(service.url)).arrayBuffer();
      const text = await (await fetch(`${service.url}/metrics`)).text();
      for (const pattern of [
        /^http_requests_total\{route="\/v1\/face\/pattern\/extract",method="POST",status_code="200"\} 1$/m,
        /^http_request_duration_seconds_bucket\{le="\+Inf",route="\/v1\/face\/pattern\/compare",method="POST",status_code="200"\} 1$/m,
        ...['decode', 'video_decode', 'detect', 'detector_pass', 'landmarks', 'embed', 'liveness', 'temporal', 'match'].map(
          (stage) => new RegExp(`^face_api_stage_duration_seconds_count\\{stage="${stage}"\\} [1-9]`, 'm'),
        ),
        /^face_api_match_decisions_total\{decision="approved"\} 1$/m,
        /^face_api_liveness_results_total\{mode="image",result="attack"\} 1$/m,
        /^face_api_liveness_results_total\{mode="folder",result="SUCCESS"\} 1$/m,
        /^face_api_model_loaded\{model="fr_feature",family="embedder.arcface"\} 1$/m,
        /^face_api_build_info\{version="\d+\.\d+\.\d+",runtime="onnxruntime-node 1\.30\.0",node="v\d+/m,
        /^nodejs_eventloop_lag_seconds /m,
      ]) {
        assert.match(text, pattern);
      }
    } finally {
      await service.close();
    }
  });
});

describe('logs', needsData, () => {
  it('write one line per request with its id, route, status and duration, and nothing a client sent', async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const service = await startService({}, undefined, stream);
    try {
      const extract = await postImage(`${service.url}/v1/face/pattern/extract`, face, 'image/jpeg', { 'x-request-id': 'req-1' });
      const template = Buffer.from(await extract.arrayBuffer());
      const compared = (await (
        await postMultipart(`${service.url}/v1/face/pattern/extract_and_compare`, [
          { name: 'sample_1', contentType: 'image/jpeg', body: face },
          { name: 'sample_2', contentType: 'image/jpeg', body: await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0002.jpg') },
        ])
      ).json()) as { score: number };
      assert.match(String(compared.score), /^0\.\d{3,}$/, 'a score distinctive enough to search the log for');
      const payload = { 'folder:meta_data': { person_info: { first_name: 'Johnathan', last_name: 'Doelittle' } }, analyses: [{ type: 'quality' }] };
      await postMultipart(`${service.url}/v1/face/liveness/detect`, [
        { name: 'm', contentType: 'image/jpeg', body: await readData('spoof/silent_face/real/image_T1.jpg') },
        { name: 'payload', body: JSON.stringify(payload) },
      ]);
      await postImage(`${service.url}/v1/face/pattern/extract`, await readData('no_face/skimage/coffee.png'), 'image/png');
      await new Promise((resolve) => setTimeout(resolve, 50));

      const requests = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'request');
      assert.equal(requests.length, 4);
      assert.equal(requests[0]!.requestId, 'req-1');
      const allowed = new Set(['level', 'time', 'service', 'requestId', 'method', 'route', 'status', 'durationMs', 'errorCode', 'msg']);
      for (const entry of requests) {
        assert.deepEqual(Object.keys(entry).filter((key) => !allowed.has(key)), []);
        assert.equal(typeof entry.durationMs, 'number');
      }
      assert.equal(requests[3]!.errorCode, 'BPE-003002');
      const everything = lines.join('\n');
      for (const secret of ['Johnathan', 'Doelittle', 'person_info', template.toString('base64').slice(20, 60), face.toString('base64').slice(100, 140), String(compared.score)]) {
        assert.ok(!everything.includes(secret), `the log holds "${secret}"`);
      }
    } finally {
      await service.close();
    }
  });
});

describe('health', needsData, () => {
  it('reports 3 while a model keeps failing its runs', async () => {
    const service = await startService({}, { modelId: 'fr_feature', fault: 'runtime-error' });
    try {
      for (let i = 0; i < 3; i++) await expectError(await postImage(`${service.url}/v1/face/pattern/extract`, face, 'image/jpeg'), 400, 'BPE-001002');
      const health = await fetch(`${service.url}/v1/face/pattern/health`);
      assert.equal(health.status, 503);
      assert.deepEqual(await health.json(), { status: 3, message: 'model fr_feature failed its last 3 runs' });
      assert.match(await (await fetch(`${service.url}/metrics`)).text(), /^face_api_model_run_failures_total\{model="fr_feature"\} 3$/m);
    } finally {
      await service.close();
    }
  });
});

describe('clients that leave', needsData, () => {
  it('stop the work of their request between video frames, and count as 499', async () => {
    const service = await startService({ MAX_CONCURRENT_REQUESTS: '1', MAX_QUEUED_REQUESTS: '10' });
    try {
      const controllers = [1, 2, 3].map(() => new AbortController());
      const kept = videoRequest(service.url);
      const left = controllers.map((controller) =>
        postMultipart(`${service.url}/v1/face/liveness/detect`, [{ name: 'v', filename: 'v.mp4', body: selfie }], {}, controller.signal).catch(() => 'aborted'),
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
      for (const controller of controllers) controller.abort();
      assert.equal((await kept).status, 200);
      assert.deepEqual(await Promise.all(left), ['aborted', 'aborted', 'aborted']);
      // Let the abandoned requests reach their next frame and stop.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      assert.match(metrics, /^http_requests_total\{route="\/v1\/face\/liveness\/detect",method="POST",status_code="499"\} 3$/m);
      const detections = Number(/^face_api_stage_duration_seconds_count\{stage="detect"\} (\d+)$/m.exec(metrics)?.[1]);
      const framesPerVideo = service.config.videoMaxFrames;
      assert.ok(detections < 2 * framesPerVideo, `${detections} frames scored: the abandoned videos should not be scored in full`);
    } finally {
      await service.close();
    }
  });
});
