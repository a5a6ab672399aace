/**
 * Measures liveness (presentation-attack detection) through the service's own code paths, and writes
 * docs/liveness/<label>.json, then docs/liveness.md and docs/liveness-det.png from every label's results.
 *
 *   npx tsx tools/eval-liveness.ts --label <name> [--set <name> <bona fide folders> <attack folders> …] [--generated <data dir>]
 *
 * - `--set`: images, each scored by the single-image liveness (the largest face, the anti-spoof model(s)). A class is
 *   one folder or several separated by commas (searched recursively), or `-` when the set has none of that class.
 * - `--generated`: media built at run time from the shared data (tools/eval/generated-media.ts) — real videos and
 *   frames cut from them, stills turned into videos, repeated frames, photos moved as flat objects, changes of
 *   identity — each analysed as a folder media part is (confidence_spoofing, with the evidence over time). Each
 *   such set is reported twice: as the API answers, and as the anti-spoof models alone scored it (the frames' median).
 *
 * MODELS_DIR selects another model set, as it does for the service.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Config, loadConfig, projectRoot } from '../src/config.js';
import { ServiceError } from '../src/errors.js';
import { roundScore } from '../src/liveness/folder.js';
import { quantileOfSorted } from '../src/statistics.js';
import { composeUseCases, loadFaceModels } from '../src/compose.js';
import { type GeneratedMedia, type GeneratedSet, generatedSets } from './eval/generated-media.js';
import {
  APCER_TARGETS,
  BPCER_TARGETS,
  type ClassResult,
  type CountedRate,
  type LivenessResult,
  type PadOperatingPointResult,
  type PadSummary,
  REQUIRED,
  renderLivenessReport,
  SWEPT_THRESHOLDS,
  targetPercent,
  type SetResult,
  type SubjectResult,
} from './eval/liveness-report.js';
import {
  areaUnderRoc,
  equalErrorRate,
  mergeScoreSets,
  type PadOperatingPoint,
  padApcerAtBpcer,
  padBpcerAtApcer,
  padDetCurve,
  padErrorRatesAt,
  padScoreSet,
  type ScoreSet,
  wilsonInterval,
} from './eval/metrics.js';
import { type DetSeries, detChartSvg, writeSvgAsPng } from './eval/plot.js';
import { readResults } from './eval/report.js';
import { gitCommit, machine, shellQuote } from './eval/run-info.js';

const IMAGE_FILE = /\.(jpe?g|png)$/i;
const PROGRESS_EVERY = 50;
/** Sets with fewer scored images in a class are left off the DET chart: a handful of points draws no curve. */
const MIN_PLOTTED_PER_CLASS = 10;

// ---------------------------------------------------------------------------------------------------- arguments

interface SetArgument {
  name: string;
  /** Folders of each class; empty when the set has none of that class. */
  bonaFide: string[];
  attack: string[];
}

interface Arguments {
  label: string;
  sets: SetArgument[];
  /** The shared data folder the generated media are built from. */
  generated: string | undefined;
}

const USAGE =
  'usage: eval-liveness --label <name> [--set <name> <bona fide folder[,folder…] or -> <attack folder[,folder…] or -> …] [--generated <data dir>]';
const NAME = /^[A-Za-z0-9_.-]+$/;

const folders = (argument: string): string[] => (argument === '-' ? [] : argument.split(',').map((folder) => path.resolve(folder)));

function parseArguments(args: readonly string[]): Arguments {
  let label: string | undefined;
  let generated: string | undefined;
  const sets: SetArgument[] = [];
  for (let i = 0; i < args.length; ) {
    const [flag, first, second, third] = [args[i], args[i + 1], args[i + 2], args[i + 3]];
    if (flag === '--label' && first) {
      label = first;
      i += 2;
    } else if (flag === '--generated' && first) {
      generated = path.resolve(first);
      i += 2;
    } else if (flag === '--set' && first && second && third) {
      sets.push({ name: first, bonaFide: folders(second), attack: folders(third) });
      i += 4;
    } else {
      throw new Error(USAGE);
    }
  }
  if (!label || !NAME.test(label)) throw new Error(`${USAGE}\n(a label is letters, digits, "_", "." or "-")`);
  if (sets.length === 0 && !generated) throw new Error(USAGE);
  for (const [i, set] of sets.entries()) {
    if (!NAME.test(set.name)) throw new Error(`set name "${set.name}": use letters, digits, "_", "." or "-"`);
    if (sets.findIndex((s) => s.name === set.name) !== i) throw new Error(`set "${set.name}" is given twice`);
    if (set.bonaFide.length + set.attack.length === 0) throw new Error(`set "${set.name}" has no folder`);
  }
  return { label, sets, generated };
}

const fromRoot = (folder: string): string => path.relative(projectRoot, folder) || '.';
const folderList = (list: readonly string[]): string => (list.length === 0 ? '-' : list.map(fromRoot).join(','));

/** The command that reproduces the run from the project root. */
function commandLine(options: Arguments, config: Config): string {
  const models = config.modelsDir === path.join(projectRoot, 'models') ? '' : `MODELS_DIR=${shellQuote(fromRoot(config.modelsDir))} `;
  const sets = options.sets.flatMap((s) => ['--set', s.name, folderList(s.bonaFide), folderList(s.attack)]);
  const generated = options.generated ? ['--generated', fromRoot(options.generated)] : [];
  return `${models}npx tsx tools/eval-liveness.ts ${['--label', options.label, ...sets, ...generated].map(shellQuote).join(' ')}`;
}

// ---------------------------------------------------------------------------------------------------- images

/** Image files below a folder (symbolic links followed), as paths relative to it, in a stable order. */
async function listImages(folder: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(path.join(folder, prefix), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const relative = path.join(prefix, entry.name);
      const target = entry.isSymbolicLink() ? await stat(path.join(folder, relative)) : entry;
      if (target.isDirectory()) return listImages(folder, relative);
      return target.isFile() && IMAGE_FILE.test(entry.name) ? [relative] : [];
    }),
  );
  return nested.flat().sort();
}

/** The first folder of a relative image path: the subject, in datasets laid out by person. */
const subjectOf = (image: string): string | undefined => {
  const parts = image.split(path.sep);
  return parts.length > 1 ? parts[0] : undefined;
};

// ---------------------------------------------------------------------------------------------------- scoring

const started = performance.now();
const options = parseArguments(process.argv.slice(2));
const config = loadConfig();
const registry = await loadFaceModels(config);
const { analyser } = composeUseCases(config, registry);

const progress = (label: string, done: number, total: number, result: ClassResult): void => {
  if (done % PROGRESS_EVERY === 0 || done === total) process.stderr.write(`${label}: ${done}/${total}, ${result.failures.length} failures to acquire\n`);
};

/**
 * Every image below the folders through the service's single-image liveness; no face or an undecodable image is a
 * failure. Images are named relative to their folder, prefixed by the folder's name when there are several.
 */
async function scoreFolders(label: string, list: readonly string[]): Promise<ClassResult | undefined> {
  if (list.length === 0) return undefined;
  const images = (
    await Promise.all(list.map(async (folder) => (await listImages(folder)).map((image) => ({ folder, image: list.length > 1 ? path.join(path.basename(folder), image) : image, file: path.join(folder, image) }))))
  ).flat();
  if (images.length === 0) throw new Error(`${label}: no JPEG or PNG image below ${list.join(', ')}`);
  const result: ClassResult = { folder: list.map(fromRoot).join(', '), images: images.length, failures: [], scores: [] };
  for (const [index, { image, file }] of images.entries()) {
    try {
      const frame = await analyser.scoreImage(await readFile(file));
      if (frame) result.scores.push({ image, score: roundScore(frame.confidenceSpoofing) });
      else result.failures.push({ image, reason: 'no face' });
    } catch (error) {
      if (!(error instanceof ServiceError && error.kind === 'sample-unreadable')) throw error;
      result.failures.push({ image, reason: `unreadable: ${error.detail ?? error.message}` });
    }
    progress(label, index + 1, images.length, result);
  }
  return result;
}

/**
 * Every generated media analysed as a folder media part is: its confidence_spoofing as the API reports it, and the
 * anti-spoof models' own median over its frames. A media that fails its analysis is a failure to acquire.
 */
async function scoreMedia(label: string, media: readonly GeneratedMedia[]): Promise<{ api: ClassResult; models: ClassResult } | undefined> {
  if (media.length === 0) return undefined;
  const empty = (): ClassResult => ({ folder: 'generated at run time (tools/eval/generated-media.ts)', images: media.length, failures: [], scores: [] });
  const [api, models] = [empty(), empty()];
  for (const [index, item] of media.entries()) {
    const { outcome } = await analyser.analyse(item.bytes);
    if (outcome.ok) {
      api.scores.push({ image: item.name, score: roundScore(outcome.confidenceSpoofing), decidedBy: outcome.decidedBy });
      models.scores.push({ image: item.name, score: roundScore(outcome.framesConfidenceSpoofing) });
    } else {
      for (const result of [api, models]) result.failures.push({ image: item.name, reason: outcome.detail });
    }
    progress(label, index + 1, media.length, api);
  }
  return { api, models };
}

// ---------------------------------------------------------------------------------------------------- metrics

/** The service's decision (src/liveness/liveness.ts): a score at or above the threshold is an attack. */
const classifiedAttack = (score: number, threshold = config.livenessThreshold): boolean => score >= threshold;

function countedRate(errors: number, samples: number): CountedRate {
  return { errors, samples, rate: errors / samples, interval95: wilsonInterval(errors, samples) };
}

const scoresOf = (c: ClassResult): number[] => c.scores.map((s) => s.score);

function operatingPointResult(point: PadOperatingPoint): PadOperatingPointResult {
  return { ...point, threshold: Number.isFinite(point.threshold) ? point.threshold : null };
}

function summarise(set: ScoreSet): PadSummary {
  const attacks = set.positives.length;
  const bonaFide = set.negatives.length;
  const { apcer, bpcer } = padErrorRatesAt(set, config.livenessThreshold);
  return {
    bonaFide,
    attacks,
    auc: areaUnderRoc(set),
    eer: equalErrorRate(set),
    medianScore: { bonaFide: quantileOfSorted(set.negatives, 0.5), attack: quantileOfSorted(set.positives, 0.5) },
    atThreshold: {
      threshold: config.livenessThreshold,
      apcer: countedRate(Math.round(apcer * attacks), attacks),
      bpcer: countedRate(Math.round(bpcer * bonaFide), bonaFide),
    },
    apcerAtBpcer: padApcerAtBpcer(set, BPCER_TARGETS).map(operatingPointResult),
    bpcerAtApcer: padBpcerAtApcer(set, APCER_TARGETS).map(operatingPointResult),
  };
}

/** Per-subject rates at the default threshold; undefined unless every image of the set lies in a subject folder. */
function subjectResults(bonaFide: ClassResult, attack: ClassResult): SubjectResult[] | undefined {
  const all = [bonaFide, attack].flatMap((c) => [...c.scores.map((s) => s.image), ...c.failures.map((f) => f.image)]);
  if (bonaFide.folder.includes(', ') || attack.folder.includes(', ')) return undefined;
  if (!all.every((image) => subjectOf(image))) return undefined;
  const subjects = [...new Set(all.map((image) => subjectOf(image)!))].sort();
  return subjects.map((subject) => {
    const of = (c: ClassResult): number[] => c.scores.filter((s) => subjectOf(s.image) === subject).map((s) => s.score);
    const [bonaFideScores, attackScores] = [of(bonaFide), of(attack)];
    return {
      subject,
      ...(bonaFideScores.length > 0 && { bpcer: countedRate(bonaFideScores.filter((s) => classifiedAttack(s)).length, bonaFideScores.length) }),
      ...(attackScores.length > 0 && { apcer: countedRate(attackScores.filter((s) => !classifiedAttack(s)).length, attackScores.length) }),
      ...(bonaFideScores.length > 0 && attackScores.length > 0 && { auc: areaUnderRoc(padScoreSet(bonaFideScores, attackScores)) }),
    };
  });
}

const scoreSetOf = (set: Pick<SetResult, 'bonaFide' | 'attack'>): ScoreSet | undefined =>
  set.bonaFide && set.attack && set.bonaFide.scores.length > 0 && set.attack.scores.length > 0
    ? padScoreSet(scoresOf(set.bonaFide), scoresOf(set.attack))
    : undefined;

/** A set's rates: the summary when it has both classes, the rates by threshold always. */
function completeSet(result: Omit<SetResult, 'byThreshold'>): SetResult {
  const scores = scoreSetOf(result);
  const subjects = result.bonaFide && result.attack ? subjectResults(result.bonaFide, result.attack) : undefined;
  const byThreshold = SWEPT_THRESHOLDS.map((threshold) => ({
    threshold,
    ...(result.attack?.scores.length && { apcer: scoresOf(result.attack).filter((s) => !classifiedAttack(s, threshold)).length / result.attack.scores.length }),
    ...(result.bonaFide?.scores.length && { bpcer: scoresOf(result.bonaFide).filter((s) => classifiedAttack(s, threshold)).length / result.bonaFide.scores.length }),
  }));
  return { ...result, byThreshold, ...(scores && { summary: summarise(scores) }), ...(subjects && { subjects }) };
}

async function evaluateSet(set: SetArgument): Promise<SetResult> {
  const bonaFide = await scoreFolders(`${set.name} bona fide`, set.bonaFide);
  const attack = await scoreFolders(`${set.name} attacks`, set.attack);
  return completeSet({ name: set.name, kind: 'images', ...(bonaFide && { bonaFide }), ...(attack && { attack }) });
}

/** A generated set, as the API scores it and as the anti-spoof models alone scored it. */
async function evaluateGenerated(set: GeneratedSet): Promise<SetResult[]> {
  const bonaFide = await scoreMedia(`${set.name} bona fide`, set.bonaFide);
  const attack = await scoreMedia(`${set.name} attacks`, set.attacks);
  const chose = set.chose ? { chose: set.chose } : {};
  return [
    completeSet({ name: set.name, kind: 'media', ...chose, ...(bonaFide && { bonaFide: bonaFide.api }), ...(attack && { attack: attack.api }) }),
    completeSet({ name: `${set.name}.models_only`, kind: 'media', ...chose, ...(bonaFide && { bonaFide: bonaFide.models }), ...(attack && { attack: attack.models }) }),
  ];
}

// ---------------------------------------------------------------------------------------------------- run

const sets: SetResult[] = [];
for (const set of options.sets) sets.push(await evaluateSet(set));
if (options.generated) {
  for (const set of await generatedSets(options.generated, config.ffmpegPath)) sets.push(...(await evaluateGenerated(set)));
}
await registry.release();

const scored = sets.flatMap((s) => scoreSetOf(s) ?? []);
const { detector, landmarker, antiSpoof } = registry.roles;
const result: LivenessResult = {
  label: options.label,
  command: commandLine(options, config),
  date: new Date().toISOString(),
  commit: gitCommit(),
  machine: machine(config.onnxIntraOpThreads),
  models: {
    dir: fromRoot(config.modelsDir),
    detector: `${detector.id} (${detector.version})`,
    landmarker: landmarker ? `${landmarker.id} (${landmarker.version})` : 'the detector\'s five points',
    antiSpoof: antiSpoof.map((m) => `${m.id} (${m.version})`),
  },
  durationSeconds: (performance.now() - started) / 1000,
  threshold: config.livenessThreshold,
  sets,
  ...(scored.length > 1 && { pooled: summarise(mergeScoreSets(scored)) }),
};

const docs = path.join(projectRoot, 'docs');
const resultsDir = path.join(docs, 'liveness');
await mkdir(resultsDir, { recursive: true });
await writeFile(path.join(resultsDir, `${options.label}.json`), `${JSON.stringify(result, null, 2)}\n`);

const results = await readResults<LivenessResult>(resultsDir);
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const series: DetSeries[] = results
  .flatMap((r) =>
    r.sets.flatMap((set) => {
      const scores = scoreSetOf(set);
      if (!scores || Math.min(scores.positives.length, scores.negatives.length) < MIN_PLOTTED_PER_CLASS) return [];
      return [{ name: `${r.label}: ${set.name}`, points: padDetCurve(scores), atThreshold: padErrorRatesAt(scores, r.threshold) }];
    }),
  )
  .map((s, i) => ({ ...s, colour: palette[i % palette.length]! }));
const plotFile = 'liveness-det.png';
if (series.length > 0) {
  const thresholds = [...new Set(results.map((r) => r.threshold))].join(', ');
  const svg = detChartSvg(series, 'Liveness DET: attacks passed against bona fide rejected', {
    thresholdLabel: `default threshold (${thresholds})`,
    target: { ...REQUIRED, label: `required: APCER ${targetPercent(REQUIRED.apcer)} at BPCER ${targetPercent(REQUIRED.bpcer)}` },
  });
  await writeSvgAsPng(svg, path.join(docs, plotFile));
}
const plotted = { file: plotFile, sets: series.map((s) => `\`${s.name}\``), minPlotted: MIN_PLOTTED_PER_CLASS };
await writeFile(path.join(docs, 'liveness.md'), renderLivenessReport(results, plotted));

// ---------------------------------------------------------------------------------------------------- summary

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
const describe = (name: string, s: PadSummary): string => {
  const at = (points: readonly PadOperatingPointResult[], held: 'apcer' | 'bpcer'): string[] =>
    points.map((p) => `${held === 'bpcer' ? `APCER ${pct(p.apcer)} @ BPCER ≤ ${targetPercent(p.target)}` : `BPCER ${pct(p.bpcer)} @ APCER ≤ ${targetPercent(p.target)}`} (t ${p.threshold?.toFixed(4) ?? 'none'})`);
  return [
    `${name}: ${s.bonaFide} bona fide, ${s.attacks} attacks scored; AUC ${s.auc.toFixed(4)}, EER ${pct(s.eer.rate)} (t ${s.eer.threshold.toFixed(4)})`,
    `  at ${s.atThreshold.threshold}: APCER ${pct(s.atThreshold.apcer.rate)} (${s.atThreshold.apcer.errors}/${s.attacks}), BPCER ${pct(s.atThreshold.bpcer.rate)} (${s.atThreshold.bpcer.errors}/${s.bonaFide})`,
    `  ${[...at(s.apcerAtBpcer, 'bpcer'), ...at(s.bpcerAtApcer, 'apcer')].join('; ')}`,
  ].join('\n');
};
const lines = [`${options.label}: ${result.durationSeconds.toFixed(0)} s`];
for (const set of sets) {
  const fta = (c: ClassResult | undefined, name: string): string => (c ? `${c.failures.length}/${c.images} ${name}` : `no ${name}`);
  lines.push(`${set.name}: failures to acquire ${fta(set.bonaFide, 'bona fide')}, ${fta(set.attack, 'attacks')}`);
  const atDefault = set.byThreshold.find((r) => r.threshold === config.livenessThreshold);
  if (atDefault) lines.push(`  at ${config.livenessThreshold}: ${[atDefault.apcer !== undefined && `APCER ${pct(atDefault.apcer)}`, atDefault.bpcer !== undefined && `BPCER ${pct(atDefault.bpcer)}`].filter(Boolean).join(', ')}`);
  if (set.summary) lines.push(describe(set.name, set.summary));
  if (set.subjects) {
    const range = (rates: (CountedRate | undefined)[]): string => {
      const values = rates.flatMap((r) => (r ? [r.rate] : []));
      return values.length === 0 ? '–' : `${pct(Math.min(...values))}–${pct(Math.max(...values))}`;
    };
    lines.push(`  per subject (${set.subjects.length}): APCER ${range(set.subjects.map((s) => s.apcer))}, BPCER ${range(set.subjects.map((s) => s.bpcer))}`);
  }
}
if (result.pooled) lines.push(describe('all sets pooled', result.pooled));
process.stdout.write(`${lines.join('\n')}\nwrote docs/liveness/${options.label}.json, docs/liveness.md${series.length > 0 ? `, docs/${plotFile}` : ''}\n`);
