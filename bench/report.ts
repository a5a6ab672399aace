/**
 * Turns bench/results/*.json into the results section of bench/README.md (between its results markers), the
 * throughput chart bench/throughput.png, the breakdown chart bench/floor.png and the soak chart bench/soak.png.
 *
 *   npm run bench:report
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../src/config.js';
import { writeSvgAsPng } from '../tools/eval/plot.js';
import type { FloorReport } from './floor.js';
import { type BarGroup, type BarSeries, groupedBarsSvg, type LineSeries, linesSvg, type StackedBar, stackedBarsSvg, svgDocument } from './lib/bar-chart.js';
import { glueByStage } from './lib/compute-floor.js';
import { floorRows, glueRows, modelRows, pureRows } from './lib/floor-tables.js';
import { NOISE_CORES } from './lib/cpu.js';
import { readResults, type RunInfo, variantNames } from './lib/run-info.js';
import { fixed, markdownTable } from './lib/table.js';
import type { LoadReport, LoadRun } from './load.js';
import type { OverloadReport } from './overload.js';
import type { PeerReport } from './peer.js';
import type { SoakReport } from './soak.js';
import { userPhotoHeaders, userPhotoRows } from './lib/user-photo-table.js';
import type { UserPhotosReport } from './user-photos.js';

const benchDir = path.join(projectRoot, 'bench');
const BEGIN = '<!-- results:begin (npm run bench:report writes this section) -->';
const END = '<!-- results:end -->';

const load = await readResults<LoadReport>('load');
const peer = await readResults<PeerReport>('peer');
const floor = await readResults<FloorReport>('floor');
const overload = await readResults<OverloadReport>('overload');
const soak = await readResults<SoakReport>('soak');
const userPhotos = await readResults<UserPhotosReport>('user-photos');

const SELFIE = 'extract selfie 1280×720';
const PORTRAIT = 'extract portrait selfie 720×1280 (001_A.jpg crop, face 15 %)';
const loadRun = (scenario: string, connections: number): LoadRun | undefined =>
  load?.runs.find((r) => r.scenario === scenario && r.connections === connections);

function runLine(run: RunInfo): string {
  const dirty = run.uncommittedSrc.length > 0 ? ` plus uncommitted changes in ${run.uncommittedSrc.join(', ')}` : '';
  const versions = Object.entries(run.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const settings = Object.entries(run.settings)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
  const niceness = run.niceness === 0 ? '' : `; run at nice ${run.niceness}`;
  return `${run.date.slice(0, 16).replace('T', ' ')} UTC, commit \`${run.commit}\`${dirty}; ${run.machine.cpu}, ${run.machine.cores} cores; ${versions}; ${settings}${niceness}`;
}

interface Target {
  what: string;
  target: string;
  measured: string;
  met: boolean | undefined;
}

function targets(): Target[] {
  const check = (value: number | undefined, ok: (v: number) => boolean, unit: string, digits = 1): Pick<Target, 'measured' | 'met'> =>
    value === undefined || !Number.isFinite(value) ? { measured: 'not measured', met: undefined } : { measured: `${fixed(value, digits)} ${unit}`, met: ok(value) };
  const peerImages = [...new Set(peer?.comparisons.map((c) => c.image) ?? [])];
  const best = (image: string, side: 'ours' | 'peer'): number =>
    Math.max(...(peer?.comparisons.filter((c) => c.image === image).map((c) => c[side].requestsPerSecond) ?? []));
  const worstBestRatio = peerImages.length > 0 ? Math.min(...peerImages.map((image) => best(image, 'ours') / best(image, 'peer'))) : undefined;
  const atCores = peer?.comparisons.filter((c) => c.concurrency === peer.run.machine.cores) ?? [];
  const worstRatioAtCores = atCores.length > 0 ? Math.min(...atCores.map((c) => c.ratio)) : undefined;
  const portraitRatio = peerImages.includes('portrait') ? best('portrait', 'ours') / best('portrait', 'peer') : undefined;
  const phones = userPhotos?.photos.filter((p) => p.photoClass === 'phone') ?? [];
  const slowestPhoneShare = phones.length > 0 ? Math.max(...phones.map((p) => p.extractP50Ms / p.fullDecodeP50Ms)) : undefined;
  const peakRss = load ? Math.max(...load.runs.map((r) => r.peakRssMb), overload?.peakRssMb ?? 0) : undefined;
  return [
    { what: 'extract, 1280×720 selfie, concurrency 8', target: '≥ 70 req/s', ...check(loadRun(SELFIE, 8)?.requestsPerSecond, (v) => v >= 70, 'req/s') },
    { what: 'extract, 1280×720 selfie, concurrency 1, p50', target: '≤ 25 ms', ...check(loadRun(SELFIE, 1)?.latencyMs.p50, (v) => v <= 25, 'ms') },
    { what: 'extract, portrait selfie 720×1280 (face 15 %), concurrency 8', target: '≥ 70 req/s', ...check(loadRun(PORTRAIT, 8)?.requestsPerSecond, (v) => v >= 70, 'req/s') },
    { what: 'extract, portrait selfie 720×1280 (face 15 %), concurrency 1, p50', target: '≤ 25 ms', ...check(loadRun(PORTRAIT, 1)?.latencyMs.p50, (v) => v <= 25, 'ms') },
    { what: 'extract, portrait selfie vs the peer: best req/s of each side', target: '≥ 5×', ...check(portraitRatio, (v) => v >= 5, '×', 2) },
    {
      what: 'extract p50 of each 12–36 MP phone photo over sharp\'s full decode of the same JPEG, same run (worst photo)',
      target: '< 1',
      ...check(slowestPhoneShare, (v) => v < 1, '×', 2),
    },
    { what: 'extract throughput vs the peer: best req/s of each side over concurrency 1, cores, 2 × cores (worst image)', target: '≥ 5×', ...check(worstBestRatio, (v) => v >= 5, '×', 2) },
    { what: 'the same at equal concurrency = cores (worst image)', target: '≥ 5×', ...check(worstRatioAtCores, (v) => v >= 5, '×', 2) },
    { what: 'compare_n, 10,000 templates, end to end, p50 (concurrency 1)', target: '≤ 100 ms', ...check(loadRun('compare_n N=10000', 1)?.latencyMs.p50, (v) => v <= 100, 'ms') },
    { what: 'liveness, one 720p image, p50 (concurrency 1)', target: '≤ 30 ms', ...check(loadRun('liveness image 720p', 1)?.latencyMs.p50, (v) => v <= 30, 'ms') },
    { what: 'liveness, 6 s video, p50 (concurrency 1)', target: '≤ 1.5 s', ...check(loadRun('liveness video 6 s', 1)?.latencyMs.p50, (v) => v <= 1500, 'ms', 0) },
    { what: 'health p99 under a flood of extracts at 3 × capacity (slots + queue)', target: '≤ 100 ms', ...check(overload?.health.latencyMs.p99, (v) => v <= 100, 'ms') },
    {
      what: 'good extracts answered 200 while six uploads trickle',
      target: '100 %',
      ...check(overload ? (100 * overload.slowUploads.good.ok) / overload.slowUploads.good.sent : undefined, (v) => v === 100, '%', 0),
    },
    { what: 'server RSS, peak over every load and overload run', target: '≤ 500 MB', ...check(peakRss, (v) => v <= 500, 'MB', 0) },
    { what: 'server RSS over the soak, peak', target: '≤ 500 MB', ...check(soak?.rss.peakMb, (v) => v <= 500, 'MB', 0) },
    {
      what: 'server RSS over the soak, last minute vs the second (after warm-up), medians',
      target: 'flat (≤ +5 %)',
      ...check(soak ? 100 * (soak.rss.lastMinuteMedianMb / soak.rss.secondMinuteMedianMb - 1) : undefined, (v) => v <= 5, '%'),
    },
    {
      what: 'the same with its ffmpeg children (what a container memory limit counts)',
      target: '≤ 500 MB',
      ...check(load ? Math.max(...load.runs.map((r) => r.peakTreeRssMb)) : undefined, (v) => v <= 500, 'MB', 0),
    },
  ];
}

function loadSection(report: LoadReport): string {
  const rows = report.runs.map((r) => [
    r.scenario,
    String(r.connections),
    fixed(r.requestsPerSecond),
    fixed(r.latencyMs.p50),
    fixed(r.latencyMs.p95),
    fixed(r.latencyMs.p99),
    r.non2xx + r.errors > 0 ? `**${r.non2xx + r.errors}**` : '0',
    fixed(r.rssBeforeMb, 0),
    r.peakTreeRssMb > r.peakRssMb + 1 ? `${fixed(r.peakRssMb, 0)} (${fixed(r.peakTreeRssMb, 0)} with ffmpeg)` : fixed(r.peakRssMb, 0),
    fixed(r.serverCpuMsPerRequest),
    `${fixed(r.mainThreadCpuMsPerRequest)} (${fixed(100 * r.mainThreadBusy, 0)} %)`,
    Object.entries(r.stages)
      .map(([stage, share]) => `${stage} ${fixed(share.msPerRequest)}`)
      .join(', '),
    r.cpu.foreignCores > NOISE_CORES ? `**${fixed(r.cpu.foreignCores, 2)}**` : fixed(r.cpu.foreignCores, 2),
  ]);
  return [
    '### Load (`npm run bench:load`)',
    '',
    runLine(report.run),
    '',
    `${report.durationSeconds} s per run after ${report.warmupSeconds} s of warm-up; RSS of the idle service after start ${fixed(report.restRssMb, 0)} MB. ` +
      '"server stages" is the service\'s own face_api_stage_duration_seconds per answered request; "other CPU" is what processes outside the benchmark used (cores), bold when it may have disturbed the run.',
    '',
    markdownTable(['scenario', 'conc.', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'non-2xx + errors', 'RSS before MB', 'peak RSS MB', 'server CPU ms per request', 'main thread CPU ms per request (share of a core busy)', 'server stages, ms per request', 'other CPU'], rows),
  ].join('\n');
}

function userPhotosSection(report: UserPhotosReport): string {
  return [
    '### Photos as users send them (`npm run bench:user-photos`)',
    '',
    runLine(report.run),
    '',
    `Each photo alone, ${report.requestsPerPhoto} requests one at a time over HTTP; "sharp full decode" is sharp decoding the whole JPEG (EXIF rotation applied) in the benchmark's process, interleaved with the requests; "detector passes" and the stages come from the service's own metrics (decode counts every view decoded, inside the step that asked for it).`,
    '',
    markdownTable(userPhotoHeaders, userPhotoRows(report.photos)),
  ].join('\n');
}

function peerSection(report: PeerReport): string {
  return [
    '### Peer (`npm run bench:peer`)',
    '',
    runLine(report.run),
    '',
    `Peer: ${report.peer.name} ${report.peer.versions.human ?? ''}, TensorFlow.js ${report.peer.versions.tfjs ?? ''} ${report.peer.backend} backend (${report.peer.config}); ` +
      `${report.rounds} rounds of ${report.blockSeconds} s blocks per cell, ours and the peer alternating. Ours over HTTP (autocannon), the peer in-process, one process per concurrent request; both include the JPEG decode.`,
    '',
    markdownTable(
      ['image', 'concurrency', 'ours req/s', 'ours p50 ms', 'peer req/s', 'peer p50 ms', 'ours / peer', 'peer RSS MB (per process)', 'failures (ours, peer)', 'other CPU (worst block)'],
      report.comparisons.map((c) => [
        c.image,
        String(c.concurrency),
        fixed(c.ours.requestsPerSecond),
        fixed(c.ours.p50Ms),
        fixed(c.peer.requestsPerSecond),
        fixed(c.peer.p50Ms),
        `${fixed(c.ratio, 2)}×`,
        fixed(c.peer.peakRssMb, 0),
        `${c.ours.non2xx}, ${c.peer.failures}`,
        c.worstForeignCores > NOISE_CORES ? `**${fixed(c.worstForeignCores, 2)}**` : fixed(c.worstForeignCores, 2),
      ]),
    ),
  ].join('\n');
}

function floorSection(report: FloorReport): string {
  const models = markdownTable(
    ['model', 'wall ms, service threads', 'CPU ms, service threads', 'wall ms, 1 thread', 'CPU ms, 1 thread'],
    modelRows(report),
  );
  const floors = markdownTable(
    ['request', 'floor parts, wall ms', 'latency floor ms', 'in-process ms', 'HTTP p50 ms (c=1)', 'CPU floor ms', 'server CPU ms per request (best run)', `floor req/s (${report.cores} cores)`, 'measured req/s', 'share of floor'],
    floorRows(report, '–'),
  );
  const glue = markdownTable(
    ['request', 'stage', 'runs', 'stage ms', 'in model runs ms', 'around them ms'],
    glueRows(report),
  );
  const pure = markdownTable(['operation', 'wall ms', 'CPU ms'], pureRows(report));
  return [
    '### Compute floor (`npm run bench:floor`)',
    '',
    runLine(report.run),
    '',
    `Other processes used ${fixed(report.cpu.foreignCores, 2)} cores on average while it ran.`,
    '',
    'Each model alone, on the last real input the pipeline gave it:',
    '',
    models,
    '',
    'Per request type: the floor (decode + every model run at the count the pipeline makes, each alone), the same request in-process through the service\'s composition, over HTTP, and the best throughput load.ts measured as a share of the floor throughput (cores ÷ CPU floor):',
    '',
    floors,
    '',
    'In-process stages: time inside the model runs and around them (sampling the input tensor, decoding outputs, NMS, alignment):',
    '',
    glue,
    '',
    'Pure functions alone:',
    '',
    pure,
  ].join('\n');
}

function overloadSection(report: OverloadReport): string {
  const latency = (status: string): string => {
    const l = report.load.latencyByStatusMs[status];
    return l ? `${fixed(l.p50)} / ${fixed(l.p99)} ms` : 'none';
  };
  const all = Object.values(report.load.statusCounts).reduce((a, b) => a + b, 0);
  return [
    '### Overload (`npm run bench:overload`)',
    '',
    runLine(report.run),
    '',
    markdownTable(
      ['measure', 'value'],
      [
        ['load', `${report.connections} connections (${fixed(report.connections / report.capacity)} × capacity: slots + queue) for ${report.seconds} s, 1280×720 extract`],
        ['answers', `${all} (${fixed(report.load.requestsPerSecond)}/s): ${Object.entries(report.load.statusCounts).map(([s, n]) => `${n} × ${s}`).join(', ')}; ${report.load.errors} connection errors or timeouts`],
        ['answered 503', `${fixed(100 * report.share503)} % (queue full ${report.rejectedByReason.queue_full ?? 0}, queue timeout ${report.rejectedByReason.queue_timeout ?? 0})`],
        ['admitted (200) per second', fixed(report.load.okPerSecond)],
        ['admitted (200) latency p50 / p99', latency('200')],
        ['refused (503) latency p50 / p99', latency('503')],
        ['health probe latency p50 / p99 / max', `${fixed(report.health.latencyMs.p50)} / ${fixed(report.health.latencyMs.p99)} / ${fixed(report.health.latencyMs.max)} ms (${report.health.probes} probes, ${report.health.non200} not 200)`],
        ['slowest health probes', report.health.slowest.map((h) => `${h.ms} ms at ${fixed(h.at / 1000)} s`).join(', ')],
        ['event-loop lag, worst one-second p99 / max', `${fixed(report.eventLoop.worstP99Ms)} / ${fixed(report.eventLoop.worstMaxMs)} ms`],
        ['queue depth seen (max of 1-s samples)', String(report.maxQueued)],
        ['polite client, 1 extract/s', `${report.sentinels.ok} of ${report.sentinels.sent} admitted (p50 ${fixed(report.sentinels.okLatencyMs.p50)} ms); ${report.sentinels.refused} refused, ${report.sentinels.refusedWithRetryAfter} of them with Retry-After`],
        ['RSS at rest / peak', `${fixed(report.restRssMb, 0)} / ${fixed(report.peakRssMb, 0)} MB`],
        ['service main thread (event loop) busy', `${fixed(100 * report.mainThreadBusy, 0)} % of a core`],
        [
          `good extracts while ${report.slowUploads.uploads} uploads trickle at ${report.slowUploads.uploadBytesPerSecond} B/s`,
          `${report.slowUploads.good.ok} of ${report.slowUploads.good.sent} answered 200 (p50 ${fixed(report.slowUploads.good.latencyMs.p50)} ms, max ${fixed(report.slowUploads.good.latencyMs.max)} ms); ${report.slowUploads.receiving} bodies being received, ${report.slowUploads.inflight} slots in use`,
        ],
        ['CPU: service / load generator and prober / other processes', `${fixed(report.cpu.service, 2)} / ${fixed(report.cpu.generator, 2)} / ${fixed(report.cpu.other, 2)} cores`],
      ],
    ),
  ].join('\n');
}

function soakSection(report: SoakReport): string {
  const rows = report.kinds.map((k) => [
    k.name,
    k.valid ? 'valid' : 'malformed',
    String(k.sent),
    Object.entries(k.answers).map(([code, n]) => `${n} × ${code}`).join(', '),
    String(k.unexpected),
    fixed(k.latencyMs.p50),
    fixed(k.latencyMs.p99),
  ]);
  const codes = Object.entries(report.byCode).sort(([, a], [, b]) => b - a).map(([code, n]) => `${n} × ${code}`).join(', ');
  return [
    `### Soak (\`npm run bench:soak\`)`,
    '',
    runLine(report.run),
    '',
    `${report.requests} requests in ${report.minutes} min from ${report.connections} closed-loop clients, ${fixed(100 * report.validShare, 0)} % valid; ` +
      `${report.unexpected} answers other than documented, ${report.transportErrors} requests without an answer; health after the soak: ${String(report.healthAfter)}. ` +
      `Answers by status and code: ${codes}.`,
    '',
    `RSS: ${fixed(report.rss.restMb, 0)} MB at rest, median ${fixed(report.rss.firstMinuteMedianMb, 0)} MB in the first minute (warm-up), ${fixed(report.rss.secondMinuteMedianMb, 0)} MB in the second and ${fixed(report.rss.lastMinuteMedianMb, 0)} MB in the last, ` +
      `peak ${fixed(report.rss.peakMb, 0)} MB (${fixed(report.rss.peakTreeMb, 0)} MB with ffmpeg children); least-squares slope over the second half ${fixed(report.rss.secondHalfSlopeMbPerMinute, 2)} MB/min. ` +
      `Main thread's V8 heap in use ${fixed(report.heap.firstMinuteMedianMb, 0)} → ${fixed(report.heap.lastMinuteMedianMb, 0)} MB, memory outside it (Buffers) ${fixed(report.heap.externalFirstMinuteMedianMb, 0)} → ${fixed(report.heap.externalLastMinuteMedianMb, 0)} MB (first vs last minute medians).`,
    '',
    '![RSS and answers per second over the soak](soak.png)',
    '',
    markdownTable(['request', 'kind', 'sent', 'answers', 'not as documented', 'p50 ms', 'p99 ms'], rows),
  ].join('\n');
}

async function soakChart(report: SoakReport): Promise<void> {
  const width = 1280;
  const minutes = (seconds: number): number => seconds / 60;
  const rss: LineSeries[] = [
    { name: 'service RSS', colour: '#08519c', points: report.samples.map((s) => ({ x: minutes(s.seconds), y: s.rssMb })) },
    { name: 'with ffmpeg children', colour: '#9ecae1', points: report.samples.map((s) => ({ x: minutes(s.seconds), y: s.treeRssMb })) },
    { name: 'main-thread V8 heap', colour: '#31a354', points: report.samples.filter((s) => Number.isFinite(s.heapUsedMb)).map((s) => ({ x: minutes(s.seconds), y: s.heapUsedMb })) },
    { name: 'main-thread external', colour: '#fd8d3c', points: report.samples.filter((s) => Number.isFinite(s.externalMb)).map((s) => ({ x: minutes(s.seconds), y: s.externalMb })) },
  ];
  const window = 10;
  const rate = report.samples
    .map((s, i, all) => ({ x: minutes(s.seconds), y: all.slice(Math.max(0, i - window + 1), i + 1).reduce((a, p) => a + p.answers, 0) / Math.min(window, i + 1) }));
  const svg = svgDocument(width, 760, [
    linesSvg({ title: `Memory over a ${report.minutes}-minute mixed soak (commit ${report.run.commit})`, axisLabel: 'MB', xLabel: 'minutes', width, height: 440 }, rss, 0, 0),
    linesSvg({ title: 'Answers per second (10-second moving mean)', axisLabel: 'answers per second', xLabel: 'minutes', width, height: 320 }, [{ name: 'answers/s', colour: '#756bb1', points: rate }], 0, 440),
  ]);
  await writeSvgAsPng(svg, path.join(benchDir, 'soak.png'));
}

/** A load run with other settings, next to the default run's numbers for the same cells. */
function variantSection(name: string, variant: LoadReport): string {
  const settings = Object.entries(variant.run.settings).map(([k, v]) => `${k}=${v}`).join(', ');
  return [
    `### Load variant \`${name}\` (${settings})`,
    '',
    runLine(variant.run),
    '',
    markdownTable(
      ['scenario', 'conc.', 'req/s', 'p50 ms', 'p99 ms', 'server CPU ms per request', 'main thread ms per request (busy)', 'default settings: req/s', 'p50 ms', 'other CPU'],
      variant.runs.map((r) => {
        const base = loadRun(r.scenario, r.connections);
        return [
          r.scenario,
          String(r.connections),
          fixed(r.requestsPerSecond),
          fixed(r.latencyMs.p50),
          fixed(r.latencyMs.p99),
          fixed(r.serverCpuMsPerRequest),
          `${fixed(r.mainThreadCpuMsPerRequest)} (${fixed(100 * r.mainThreadBusy, 0)} %)`,
          base ? fixed(base.requestsPerSecond) : '–',
          base ? fixed(base.latencyMs.p50) : '–',
          fixed(r.cpu.foreignCores, 2),
        ];
      }),
    ),
  ].join('\n');
}

const CONCURRENCY_COLOURS = ['#9ecae1', '#4292c6', '#08519c', '#08306b'];

async function throughputChart(): Promise<boolean> {
  if (!load && !peer) return false;
  const panels: string[] = [];
  let height = 0;
  const width = 1280;
  if (load) {
    const concurrencies = [...new Set(load.runs.map((r) => r.connections))].sort((a, b) => a - b);
    const series: BarSeries[] = concurrencies.map((c, i) => ({ name: `concurrency ${c}`, colour: CONCURRENCY_COLOURS[i % CONCURRENCY_COLOURS.length]! }));
    const groups: BarGroup[] = load.scenarios.map((s) => ({
      label: s.name.replace(/^(\S+) /, '$1\n'),
      values: concurrencies.map((c) => loadRun(s.name, c)?.requestsPerSecond),
      ...(s.name === SELFIE ? { target: { value: 70, label: 'target ≥ 70 at c=8' } } : {}),
    }));
    panels.push(groupedBarsSvg({ title: `Service throughput per scenario (commit ${load.run.commit}, ${load.run.machine.cores} cores)`, axisLabel: 'requests per second', width, height: 480 }, series, groups, 0, height));
    height += 480;
  }
  if (peer) {
    const series: BarSeries[] = [
      { name: 'ours (HTTP)', colour: '#08519c' },
      { name: `${peer.peer.name} (TensorFlow.js WASM, in-process)`, colour: '#e6550d' },
    ];
    const groups: BarGroup[] = peer.comparisons.map((c) => ({ label: `extract ${c.image}\nconcurrency ${c.concurrency}\nratio ${fixed(c.ratio, 1)}×`, values: [c.ours.requestsPerSecond, c.peer.requestsPerSecond] }));
    panels.push(groupedBarsSvg({ title: 'Extract throughput: ours vs the peer, same machine, interleaved', axisLabel: 'requests per second', width, height: 440 }, series, groups, 0, height));
    height += 440;
  }
  await writeSvgAsPng(svgDocument(width, height, panels), path.join(benchDir, 'throughput.png'));
  return true;
}

async function floorChart(report: FloorReport): Promise<boolean> {
  const series: BarSeries[] = [
    { name: 'decode', colour: '#6baed6' },
    { name: 'model runs', colour: '#08519c' },
    { name: 'around model runs (JS)', colour: '#fd8d3c' },
    { name: 'rest of in-process', colour: '#bdbdbd' },
    { name: 'HTTP, parsing, admission', colour: '#74c476' },
  ];
  const bars: StackedBar[] = report.profiles
    .filter((p) => !p.stages.video_decode)
    .map((p) => {
      const f = report.floors.find((x) => x.name === p.name);
      const decode = p.stages.decode?.msPerRequest ?? 0;
      const glue = glueByStage(p);
      const modelMs = glue.reduce((a, g) => a + g.modelMs, 0);
      const glueMs = glue.reduce((a, g) => a + Math.max(0, g.glueMs), 0);
      const rest = Math.max(0, p.inProcessMs - decode - modelMs - glueMs);
      const http = f?.httpP50AtConcurrency1Ms === undefined ? 0 : Math.max(0, f.httpP50AtConcurrency1Ms - p.inProcessMs);
      return { label: p.name, segments: [decode, modelMs, glueMs, rest, http], ...(f ? { note: `floor ${fixed(f.latencyFloorMs)} ms` } : {}) };
    });
  const svg = svgDocument(1280, 400, [
    stackedBarsSvg({ title: `Where the milliseconds of one request go (concurrency 1, commit ${report.run.commit})`, axisLabel: 'milliseconds per request', width: 1280, height: 400 }, series, bars, 0, 0),
  ]);
  await writeSvgAsPng(svg, path.join(benchDir, 'floor.png'));
  return true;
}

const sections: string[] = [];
const met = (t: Target): string => (t.met === undefined ? '–' : t.met ? 'met' : '**not met**');
sections.push('### Targets', '', markdownTable(['target', 'required', 'measured', ''], targets().map((t) => [t.what, t.target, t.measured, met(t)])));
if (await throughputChart()) sections.push('', '![requests per second per scenario and concurrency; ours vs the peer](throughput.png)');
if (floor && (await floorChart(floor))) sections.push('', '![where the milliseconds of one request go](floor.png)');
if (load) sections.push('', loadSection(load));
if (userPhotos) sections.push('', userPhotosSection(userPhotos));
if (peer) sections.push('', peerSection(peer));
if (floor) sections.push('', floorSection(floor));
for (const name of (await variantNames('load')).sort()) {
  const variant = await readResults<LoadReport>(name);
  if (variant) sections.push('', variantSection(name, variant));
}
if (overload) sections.push('', overloadSection(overload));
if (soak) {
  await soakChart(soak);
  sections.push('', soakSection(soak));
}

const readmeFile = path.join(benchDir, 'README.md');
const readme = await readFile(readmeFile, 'utf8');
const begin = readme.indexOf(BEGIN);
const end = readme.indexOf(END);
if (begin < 0 || end < begin) throw new Error(`${readmeFile} has no results markers`);
await writeFile(readmeFile, `${readme.slice(0, begin + BEGIN.length)}\n\n${sections.join('\n')}\n\n${readme.slice(end)}`);
console.log(`wrote ${readmeFile}, throughput.png, floor.png${soak ? ', soak.png' : ''}`);
