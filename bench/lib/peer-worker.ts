/**
 * One peer process: Human (TensorFlow.js, WASM backend) extracting one face per image, as many times as fit in the
 * time its parent asks for. Run by peer-pool.ts through child_process.fork.
 */
import { decodeLimits } from '../../src/compose.js';
import { loadConfig } from '../../src/config.js';
import { openImage } from '../../src/media/image.js';
import { extractImages } from './images.js';
import { createPeerExtractor } from './peer-human.js';
import { type PeerMessage, type PeerRunRequest, peerImages } from './peer-protocol.js';

const WARMUP_RUNS = 5;
const send = (message: PeerMessage): void => void process.send!(message);

const images = await extractImages();
const peer = await createPeerExtractor();

/** What the peer does per request: decode the whole JPEG (with sharp, as our service reads images) and detect + describe. */
async function extractOnce(bytes: Buffer): Promise<boolean> {
  const { raster } = await (await openImage(bytes, decodeLimits(loadConfig(process.env)))).view(1);
  const face = await peer.describe(raster);
  return face.faces === 1 && face.embeddingLength > 0;
}

for (const name of peerImages) for (let i = 0; i < WARMUP_RUNS; i++) await extractOnce(images[name].bytes);
send({ kind: 'ready', backend: peer.backend, versions: peer.versions });

process.on('message', (request: PeerRunRequest) => {
  void (async () => {
    const bytes = images[request.image].bytes;
    const latenciesMs: number[] = [];
    let failures = 0;
    const started = performance.now();
    const until = started + request.seconds * 1000;
    while (performance.now() < until) {
      const t0 = performance.now();
      if (!(await extractOnce(bytes))) failures++;
      latenciesMs.push(performance.now() - t0);
    }
    send({ kind: 'done', latenciesMs, failures, seconds: (performance.now() - started) / 1000 });
  })();
});
