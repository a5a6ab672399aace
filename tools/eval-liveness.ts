/**
 * Measures liveness (presentation-attack detection) with the service's own single-image liveness: each image's
 * largest face scored by the anti-spoof model(s) of the manifest. Any number of named sets, each a folder of bona fide
 * images and a folder of attack images (searched recursively). Writes docs/liveness/<label>.json, then
 * docs/liveness.md and docs/liveness-det.png from every label's results.
 *
 *   npx tsx tools/eval-liveness.ts --label <name> --set <name> <bona fide folder> <attack folder> [--set …]
 *
 * MODELS_DIR selects another model set, as it does for the service.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Config, loadConfig, projectRoot } from '../src/config.js';
import { ServiceError } from '../src/errors.js';
import { createFacePipeline } from '../src/face/pipeline.js';
import { roundScore } from '../src/liveness/folder.js';
import { createMediaAnalyser } from '../src/liveness/media.js';
import { identityRule, mediaSettings } from '../src/compose.js';
import { loadModels } from '../src/models/registry.js';
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
  quantile,
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
  bonaFide: string;
  attack: string;
}

interface Arguments {
  label: string;
  sets: SetArgument[];
}

const USAGE = 'usage: eval-liveness --label <name> --set <name> <bona fide folder> <attack folder> [--set <name> <bona fide folder> <attack folder> …]';
const NAME = /^[A-Za-z0-9_.-]+$/;

function parseArguments(args: readonly string[]): Arguments {
  let label: string | undefined;
  const sets: SetArgument[] = [];
  for (let i = 0; i < args.length; ) {
    const [flag, first, second, third] = [args[i], args[i + 1], args[i + 2], args[i + 3]];
    if (flag === '--label' && first) {
      label = first;
      i += 2;
    } else if (flag === '--set' && first && second && third) {
      sets.push({ name: first, bonaFide: path.resolve(second), attack: path.resolve(third) });
      i += 4;
    } else {
      throw new Error(USAGE);
    }
  }
  if (!label || !NAME.test(label)) throw new Error(`${USAGE}\n(a label is letters, digits, "_", "." or "-")`);
  if (sets.length === 0) throw new Error(USAGE);
  for (const [i, set] of sets.entries()) {
    if (!NAME.test(set.name)) throw new Error(`set name "${set.name}": use letters, digits, "_", "." or "-"`);
    if (sets.findIndex((s) => s.name === set.name) !== i) throw new Error(`set "${set.name}" is given twice`);
  }
  return { label, sets };
}

const fromRoot = (folder: string): string => path.relative(projectRoot, folder) || '.';

/** The command that reproduces the run from the project root. */
function commandLine(options: Arguments, config: Config): string {
  const models = config.modelsDir === path.join(projectRoot, 'models') ? '' : `MODELS_DIR=${shellQuote(fromRoot(config.modelsDir))} `;
  const sets = options.sets.flatMap((s) => ['--set', s.name, fromRoot(s.bonaFide), fromRoot(s.attack)]);
  return `${models}npx tsx tools/eval-liveness.ts ${['--label', options.label, ...sets].map(shellQuote).join(' ')}`;
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
const registry = await loadModels(config.modelsDir, { intraOpThreads: config.onnxIntraOpThreads, workers: config.inferenceWorkers });

const analyser = createMediaAnalyser({ pipeline: createFacePipeline(registry), ...mediaSettings(config), identity: identityRule(config, registry.pipeline.embedder) });

/** Every image of a folder through the service's single-image liveness; no face or an undecodable image is a failure. */
async function scoreFolder(label: string, folder: string): Promise<ClassResult> {
  const images = await listImages(folder);
  if (images.length === 0) throw new Error(`${label}: no JPEG or PNG image below ${folder}`);
  const result: ClassResult = { folder: fromRoot(folder), images: images.length, failures: [], scores: [] };
  for (const [index, image] of images.entries()) {
    try {
      const frame = await analyser.scoreImage(await readFile(path.join(folder, image)));
      if (frame) result.scores.push({ image, score: roundScore(frame.confidenceSpoofing) });
      else result.failures.push({ image, reason: 'no face' });
    } catch (error) {
      if (!(error instanceof ServiceError && error.kind === 'sample-unreadable')) throw error;
      result.failures.push({ image, reason: `unreadable: ${error.detail ?? error.message}` });
    }
    const done = index + 1;
    if (done % PROGRESS_EVERY === 0 || done === images.length) {
      process.stderr.write(`${label}: ${done}/${images.length} images, ${result.failures.length} failures to acquire\n`);
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------- metrics

/** The service's decision (src/liveness/liveness.ts): a score at or above the threshold is an attack. */
const classifiedAttack = (score: number): boolean => score >= config.livenessThreshold;

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
    medianScore: { bonaFide: quantile(set.negatives, 0.5), attack: quantile(set.positives, 0.5) },
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
  if (!all.every((image) => subjectOf(image))) return undefined;
  const subjects = [...new Set(all.map((image) => subjectOf(image)!))].sort();
  return subjects.map((subject) => {
    const of = (c: ClassResult): number[] => c.scores.filter((s) => subjectOf(s.image) === subject).map((s) => s.score);
    const [bonaFideScores, attackScores] = [of(bonaFide), of(attack)];
    return {
      subject,
      ...(bonaFideScores.length > 0 && { bpcer: countedRate(bonaFideScores.filter(classifiedAttack).length, bonaFideScores.length) }),
      ...(attackScores.length > 0 && { apcer: countedRate(attackScores.filter((s) => !classifiedAttack(s)).length, attackScores.length) }),
      ...(bonaFideScores.length > 0 && attackScores.length > 0 && { auc: areaUnderRoc(padScoreSet(bonaFideScores, attackScores)) }),
    };
  });
}

const scoreSetOf = (set: SetResult): ScoreSet | undefined =>
  set.bonaFide.scores.length > 0 && set.attack.scores.length > 0 ? padScoreSet(scoresOf(set.bonaFide), scoresOf(set.attack)) : undefined;

async function evaluateSet(set: SetArgument): Promise<SetResult> {
  const bonaFide = await scoreFolder(`${set.name} bona fide`, set.bonaFide);
  const attack = await scoreFolder(`${set.name} attacks`, set.attack);
  const result: SetResult = { name: set.name, bonaFide, attack };
  const scores = scoreSetOf(result);
  const subjects = subjectResults(bonaFide, attack);
  return { ...result, ...(scores && { summary: summarise(scores) }), ...(subjects && { subjects }) };
}

// ---------------------------------------------------------------------------------------------------- run

const sets: SetResult[] = [];
for (const set of options.sets) sets.push(await evaluateSet(set));
await registry.release();

const scored = sets.flatMap((s) => scoreSetOf(s) ?? []);
const { detector, landmarker, antiSpoof } = registry.pipeline;
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
  ...(sets.length > 1 && scored.length > 0 && { pooled: summarise(mergeScoreSets(scored)) }),
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
  lines.push(`${set.name}: failures to acquire ${set.bonaFide.failures.length}/${set.bonaFide.images} bona fide, ${set.attack.failures.length}/${set.attack.images} attacks`);
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
