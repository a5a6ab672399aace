/**
 * Measures face verification with the service's own pipeline: the LFW View-2 protocol and an extended set of every
 * pair among the same images, the derived pairs of faces/, and what the service's score thresholds mean as error
 * rates. Writes docs/accuracy/<label>.json, then docs/accuracy.md and docs/accuracy-roc.png from every label's results.
 *
 *   npm run eval:verification -- --label <name> [--lfw <pairs.txt> <image root>] [--pairs-csv <csv> <image root>]
 *
 * MODELS_DIR selects another model set, as it does for the service.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type CalibrationAnchors, cosineForScore, type DecisionThresholds } from '../src/biometry/score.js';
import { composeUseCases, loadFaceModels } from '../src/compose.js';
import { loadConfig, projectRoot } from '../src/config.js';
import { errorResponse, ServiceError } from '../src/errors.js';
import { quantileOfSorted } from '../src/statistics.js';
import {
  areaUnderRoc,
  bestAccuracyThreshold,
  crossValidatedAccuracy,
  equalErrorRate,
  errorRatesAt,
  mergeScoreSets,
  operatingPoints,
  type ScoreSet,
  scoreSet,
} from './eval/metrics.js';
import { pgmAsPng } from './eval/pgm.js';
import { type CurvePoint, rocChartSvg, type RocSeries, writeSvgAsPng } from './eval/plot.js';
import {
  type ExtractionResult,
  type LfwResult,
  type PairsCsvResult,
  readResults,
  renderAccuracyReport,
  type ScoreSummary,
  type SubsetResult,
  type SuggestedCalibration,
  type ThresholdRow,
  type VerificationResult,
} from './eval/report.js';

const SCORE_THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95];
const OFFICIAL_TARGETS = [1e-2, 1e-3, 1e-4];
const EXTENDED_TARGETS = [1e-2, 1e-3, 1e-4, 1e-5];
/** The FAR at which the suggested calibration puts the approve threshold. */
const APPROVE_AT_FALSE_ACCEPT = 1e-4;
/** FARs the ROC curve is drawn through: 20 per decade from 1e-5 to 1. */
const ROC_GRID = Array.from({ length: 101 }, (_, k) => 10 ** (-5 + k / 20));
const PROGRESS_EVERY = 100;

// ---------------------------------------------------------------------------------------------------- arguments

interface PairList {
  file: string;
  imageRoot: string;
}

interface Arguments {
  label: string;
  lfw?: PairList;
  pairsCsv?: PairList;
}

const USAGE = 'usage: eval-verification --label <name> [--lfw <pairs.txt> <image root>] [--pairs-csv <csv> <image root>]';

function parseArguments(args: readonly string[]): Arguments {
  let label: string | undefined;
  const lists: Partial<Record<'lfw' | 'pairsCsv', PairList>> = {};
  for (let i = 0; i < args.length; ) {
    const [flag, first, second] = [args[i], args[i + 1], args[i + 2]];
    if (flag === '--label' && first) {
      label = first;
      i += 2;
    } else if ((flag === '--lfw' || flag === '--pairs-csv') && first && second) {
      lists[flag === '--lfw' ? 'lfw' : 'pairsCsv'] = { file: first, imageRoot: second };
      i += 3;
    } else {
      throw new Error(USAGE);
    }
  }
  if (!label || !/^[A-Za-z0-9_.-]+$/.test(label)) throw new Error(`${USAGE}\n(a label is letters, digits, "_", "." or "-")`);
  if (!lists.lfw && !lists.pairsCsv) throw new Error(USAGE);
  return { label, ...(lists.lfw && { lfw: lists.lfw }), ...(lists.pairsCsv && { pairsCsv: lists.pairsCsv }) };
}

// ---------------------------------------------------------------------------------------------------- pair lists

interface Pair {
  a: string;
  b: string;
}

interface Fold {
  genuine: Pair[];
  impostor: Pair[];
}

const lfwImage = (name: string, index: string): string => `${name}/${name}_${index.padStart(4, '0')}.jpg`;

/** LFW pairs.txt: a `<folds> <n>` line, then per fold n `name i j` lines and n `name1 i name2 j` lines. */
function parseLfwPairs(text: string): Fold[] {
  const [header, ...lines] = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const [folds, perClass] = (header ?? '').trim().split(/\s+/).map(Number) as [number, number];
  if (!Number.isInteger(folds) || !Number.isInteger(perClass) || folds < 2 || perClass < 1) throw new Error(`pairs.txt header "${header}" is not "<folds> <n>"`);
  if (lines.length !== 2 * folds * perClass) throw new Error(`pairs.txt has ${lines.length} pair lines, its header promises ${2 * folds * perClass}`);
  const cells = lines.map((line) => line.trim().split(/\s+/));
  const pair = (k: number, fields: 3 | 4): Pair => {
    const c = cells[k]!;
    if (c.length !== fields) throw new Error(`pairs.txt line ${k + 2}: expected ${fields} fields, got "${lines[k]}"`);
    return fields === 3 ? { a: lfwImage(c[0]!, c[1]!), b: lfwImage(c[0]!, c[2]!) } : { a: lfwImage(c[0]!, c[1]!), b: lfwImage(c[2]!, c[3]!) };
  };
  return Array.from({ length: folds }, (_, f) => {
    const start = 2 * f * perClass;
    return {
      genuine: Array.from({ length: perClass }, (_, k) => pair(start + k, 3)),
      impostor: Array.from({ length: perClass }, (_, k) => pair(start + perClass + k, 4)),
    };
  });
}

interface LabelledPair extends Pair {
  same: boolean;
  subset: string;
}

/** The derived pairs CSV: columns path_a, path_b, same_person (1/0), subset; lines may end in CR. */
function parsePairsCsv(text: string): LabelledPair[] {
  const [header, ...lines] = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const columns = (header ?? '').split(',').map((c) => c.trim());
  const column = (name: string): number => {
    const index = columns.indexOf(name);
    if (index < 0) throw new Error(`pairs CSV has no "${name}" column`);
    return index;
  };
  const [a, b, same, subset] = [column('path_a'), column('path_b'), column('same_person'), column('subset')];
  return lines.map((line, k) => {
    const cells = line.split(',').map((c) => c.trim());
    if (cells[same] !== '1' && cells[same] !== '0') throw new Error(`pairs CSV line ${k + 2}: same_person is "${cells[same]}", not 1 or 0`);
    return { a: cells[a]!, b: cells[b]!, same: cells[same] === '1', subset: cells[subset]! };
  });
}

const imagesOf = (pairs: readonly Pair[]): string[] => [...new Set(pairs.flatMap((p) => [p.a, p.b]))].sort();

// ---------------------------------------------------------------------------------------------------- pipeline

const started = performance.now();
const args = process.argv.slice(2);
const options = parseArguments(args);
const config = loadConfig();
const registry = await loadFaceModels(config);
const { biometry } = composeUseCases(config, registry);
const calibration: CalibrationAnchors = registry.roles.embedder.params.scoreCalibration;
const decisionThresholds: DecisionThresholds = { approve: config.matchApproveThreshold, decline: config.matchDeclineThreshold };

type Extraction = { kind: 'embedded'; embedding: Float32Array } | { kind: 'failed'; reason: string };

/**
 * One image through exactly what POST /v1/face/pattern/extract runs: any refusal (several people, no face, an
 * unreadable image) is a failure to extract, as a client sees it. The ORL faces are PGM, which the API does not take:
 * they are sent as a lossless PNG of the same pixels, as a client would have to.
 */
async function extract(file: string): Promise<Extraction> {
  const bytes = file.toLowerCase().endsWith('.pgm') ? await pgmAsPng(await readFile(file)) : await readFile(file);
  try {
    return { kind: 'embedded', embedding: await biometry.describeSample(bytes) };
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    return { kind: 'failed', reason: errorResponse('biometry', error.kind).body.code };
  }
}

async function extractAll(name: string, imageRoot: string, images: readonly string[]): Promise<Map<string, Extraction>> {
  const extractions = new Map<string, Extraction>();
  for (const [index, image] of images.entries()) {
    extractions.set(image, await extract(path.join(imageRoot, image)));
    const done = index + 1;
    if (done % PROGRESS_EVERY === 0 || done === images.length) process.stderr.write(`${name}: ${done}/${images.length} images\n`);
  }
  return extractions;
}

function extractionResult(extractions: ReadonlyMap<string, Extraction>): ExtractionResult {
  const failures: ExtractionResult['failures'] = [];
  for (const [image, e] of extractions) if (e.kind === 'failed') failures.push({ image, reason: e.reason });
  return { images: extractions.size, failures };
}

// ---------------------------------------------------------------------------------------------------- scores

/** Cosine of two L2-normalised embeddings; −1 (a certain non-match) when either image yielded none. */
function pairScore(extractions: ReadonlyMap<string, Extraction>, pair: Pair): number {
  const a = extractions.get(pair.a);
  const b = extractions.get(pair.b);
  if (a?.kind !== 'embedded' || b?.kind !== 'embedded') return -1;
  let dot = 0;
  for (let i = 0; i < a.embedding.length; i++) dot += a.embedding[i]! * b.embedding[i]!;
  return dot;
}

function pairScores(extractions: ReadonlyMap<string, Extraction>, genuine: readonly Pair[], impostor: readonly Pair[]): ScoreSet {
  return scoreSet(
    genuine.map((p) => pairScore(extractions, p)),
    impostor.map((p) => pairScore(extractions, p)),
  );
}

/**
 * Every pair among the images: genuine when both show the same person (their folder), impostor otherwise. Millions of
 * pairs, so the embeddings are packed into one row-major matrix and the dot products run over contiguous memory.
 */
function allPairScores(images: readonly string[], extractions: ReadonlyMap<string, Extraction>): ScoreSet {
  const count = images.length;
  const dimension = [...extractions.values()].find((e) => e.kind === 'embedded')?.embedding.length ?? 0;
  const matrix = new Float32Array(count * dimension);
  const embedded = new Uint8Array(count);
  const personIds = new Map<string, number>();
  const person = new Int32Array(count);
  const imagesPerPerson: number[] = [];
  images.forEach((image, i) => {
    const name = path.dirname(image);
    if (!personIds.has(name)) personIds.set(name, personIds.size);
    person[i] = personIds.get(name)!;
    imagesPerPerson[person[i]!] = (imagesPerPerson[person[i]!] ?? 0) + 1;
    const e = extractions.get(image);
    if (e?.kind === 'embedded') {
      matrix.set(e.embedding, i * dimension);
      embedded[i] = 1;
    }
  });
  const genuineCount = imagesPerPerson.reduce((sum, n) => sum + (n * (n - 1)) / 2, 0);
  const genuine = new Float64Array(genuineCount);
  const impostor = new Float64Array((count * (count - 1)) / 2 - genuineCount);
  let g = 0;
  let m = 0;
  for (let i = 0; i < count; i++) {
    const rowI = i * dimension;
    for (let j = i + 1; j < count; j++) {
      let dot = -1;
      if (embedded[i] && embedded[j]) {
        dot = 0;
        const rowJ = j * dimension;
        for (let k = 0; k < dimension; k++) dot += matrix[rowI + k]! * matrix[rowJ + k]!;
      }
      if (person[i] === person[j]) genuine[g++] = dot;
      else impostor[m++] = dot;
    }
  }
  return scoreSet(genuine, impostor);
}

function summarise(set: ScoreSet, targets: readonly number[]): ScoreSummary {
  return {
    genuinePairs: set.positives.length,
    impostorPairs: set.negatives.length,
    auc: areaUnderRoc(set),
    eer: equalErrorRate(set),
    operatingPoints: operatingPoints(set, targets).map((p) => ({ ...p, threshold: Number.isFinite(p.threshold) ? p.threshold : null })),
  };
}

/** TAR against FAR through the grid, where the impostor pairs can resolve the FAR. */
function rocCurvePoints(set: ScoreSet): CurvePoint[] {
  return operatingPoints(set, ROC_GRID)
    .filter((p) => p.measurable)
    .map((p) => ({ falseAccept: p.targetFalseAccept, trueAccept: p.trueAccept }));
}

interface EvaluatedSets {
  official?: ScoreSet;
  extended?: ScoreSet;
  pairsCsv?: ScoreSet;
}

function thresholdRows(scores: readonly number[], anchors: CalibrationAnchors, sets: EvaluatedSets): ThresholdRow[] {
  return scores.map((score) => {
    const cosine = cosineForScore(score, anchors);
    return {
      score,
      cosine,
      ...(sets.official && { official: errorRatesAt(sets.official, cosine) }),
      ...(sets.extended && { extended: errorRatesAt(sets.extended, cosine) }),
      ...(sets.pairsCsv && { pairsCsv: errorRatesAt(sets.pairsCsv, cosine) }),
    };
  });
}

// ---------------------------------------------------------------------------------------------------- evaluations

async function evaluateLfw(list: PairList): Promise<{ result: LfwResult; official: ScoreSet; extended: ScoreSet }> {
  const folds = parseLfwPairs(await readFile(list.file, 'utf8'));
  const images = imagesOf(folds.flatMap((f) => [...f.genuine, ...f.impostor]));
  const extractions = await extractAll('lfw', list.imageRoot, images);
  const foldSets = folds.map((f) => pairScores(extractions, f.genuine, f.impostor));
  const official = mergeScoreSets(foldSets);
  process.stderr.write(`lfw: scoring every pair of ${images.length} images\n`);
  const extended = allPairScores(images, extractions);
  const accuracy = crossValidatedAccuracy(foldSets);
  const result: LfwResult = {
    pairsFile: list.file,
    imageRoot: list.imageRoot,
    people: new Set(images.map((image) => path.dirname(image))).size,
    extraction: extractionResult(extractions),
    official: {
      ...summarise(official, OFFICIAL_TARGETS),
      folds: accuracy.folds,
      accuracy: { mean: accuracy.mean, sd: accuracy.sd },
      bestThreshold: bestAccuracyThreshold(official),
    },
    extended: { ...summarise(extended, EXTENDED_TARGETS), impostorMedian: quantileOfSorted(extended.negatives, 0.5) },
    roc: { official: rocCurvePoints(official), extended: rocCurvePoints(extended) },
  };
  return { result, official, extended };
}

async function evaluatePairsCsv(list: PairList): Promise<{ result: PairsCsvResult; combined: ScoreSet }> {
  const pairs = parsePairsCsv(await readFile(list.file, 'utf8'));
  const extractions = await extractAll('faces', list.imageRoot, imagesOf(pairs));
  const approveCosine = cosineForScore(decisionThresholds.approve, calibration);
  const declineCosine = cosineForScore(decisionThresholds.decline, calibration);
  const subsetResult = (subset: string, subsetPairs: readonly LabelledPair[], set: ScoreSet): SubsetResult => ({
    subset,
    images: imagesOf(subsetPairs).length,
    ...summarise(set, []),
    atApprove: errorRatesAt(set, approveCosine),
    atDecline: errorRatesAt(set, declineCosine),
  });
  const subsets = [...new Set(pairs.map((p) => p.subset))].map((subset) => {
    const subsetPairs = pairs.filter((p) => p.subset === subset);
    const set = pairScores(
      extractions,
      subsetPairs.filter((p) => p.same),
      subsetPairs.filter((p) => !p.same),
    );
    return { set, result: subsetResult(subset, subsetPairs, set) };
  });
  const combined = mergeScoreSets(subsets.map((s) => s.set));
  return {
    result: {
      file: list.file,
      imageRoot: list.imageRoot,
      approveCosine,
      declineCosine,
      extraction: extractionResult(extractions),
      subsets: subsets.map((s) => s.result),
      combined: subsetResult('all', pairs, combined),
    },
    combined,
  };
}

/**
 * Anchors that put the decline score on the best-accuracy cosine of the official pairs, the approve score on the
 * cosine of FAR 1e-4 on the extended set (rounded up: the safe side), and score 0 where impostors are centred.
 */
function suggestCalibration(official: ScoreSet, extended: ScoreSet, sets: EvaluatedSets): SuggestedCalibration {
  const approveCosine = operatingPoints(extended, [APPROVE_AT_FALSE_ACCEPT])[0]!.threshold;
  const declineCosine = bestAccuracyThreshold(official).threshold;
  const impostorMedian = quantileOfSorted(extended.negatives, 0.5);
  // The small offsets keep values already on two decimals (0.41 × 100 = 41.000000000000004) where they are.
  const roundUp = (x: number): number => Math.ceil(x * 100 - 1e-9) / 100;
  const roundDown = (x: number): number => Math.floor(x * 100 + 1e-9) / 100;
  const anchors: [number, number][] = [
    [Math.max(0, roundDown(impostorMedian)), 0],
    [Math.round(declineCosine * 100) / 100, decisionThresholds.decline],
    [Math.min(1, roundUp(approveCosine)), decisionThresholds.approve],
    [1, 1],
  ];
  const valid = anchors.every(([c], i) => i === 0 || c > anchors[i - 1]![0]);
  return {
    anchors,
    valid,
    approveCosine,
    declineCosine,
    impostorMedian,
    atDecisions: valid ? thresholdRows([decisionThresholds.decline, decisionThresholds.approve], anchors, sets) : [],
  };
}

// ---------------------------------------------------------------------------------------------------- run

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectRoot, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function commandLine(args: readonly string[]): string {
  const quote = (arg: string): string => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
  const models = config.modelsDir === path.join(projectRoot, 'models') ? '' : `MODELS_DIR=${quote(config.modelsDir)} `;
  return `${models}npm run eval:verification -- ${args.map(quote).join(' ')}`;
}

const lfw = options.lfw && (await evaluateLfw(options.lfw));
const pairsCsv = options.pairsCsv && (await evaluatePairsCsv(options.pairsCsv));
await registry.release();

const sets: EvaluatedSets = {
  ...(lfw && { official: lfw.official, extended: lfw.extended }),
  ...(pairsCsv && { pairsCsv: pairsCsv.combined }),
};
const { detector, landmarker, embedder } = registry.roles;
const result: VerificationResult = {
  label: options.label,
  command: commandLine(args),
  date: new Date().toISOString(),
  commit: commit(),
  machine: { cpu: os.cpus()[0]?.model ?? 'unknown CPU', cores: os.availableParallelism(), node: process.versions.node, onnxThreads: config.onnxIntraOpThreads },
  models: {
    dir: path.relative(projectRoot, config.modelsDir) || '.',
    detector: `${detector.id} (${detector.version})`,
    landmarker: landmarker ? `${landmarker.id} (${landmarker.version})` : 'the detector\'s five points',
    embedder: `${embedder.id} (${embedder.version})`,
  },
  durationSeconds: (performance.now() - started) / 1000,
  decisionThresholds,
  calibration: calibration.map(([c, s]) => [c, s]),
  ...(lfw && { lfw: lfw.result }),
  ...(pairsCsv && { pairsCsv: pairsCsv.result }),
  thresholdTable: thresholdRows(SCORE_THRESHOLDS, calibration, sets),
  ...(lfw && { suggestedCalibration: suggestCalibration(lfw.official, lfw.extended, sets) }),
};

const docs = path.join(projectRoot, 'docs');
const resultsDir = path.join(docs, 'accuracy');
await mkdir(resultsDir, { recursive: true });
await writeFile(path.join(resultsDir, `${options.label}.json`), `${JSON.stringify(result, null, 2)}\n`);

const results = await readResults(resultsDir);
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const series: RocSeries[] = results.flatMap((r, i) => {
  if (!r.lfw) return [];
  const colour = palette[i % palette.length]!;
  return [
    { name: `${r.label}: LFW pairs`, colour, dashed: false, points: r.lfw.roc.official },
    { name: `${r.label}: extended set`, colour, dashed: true, points: r.lfw.roc.extended },
  ];
});
const plotFile = 'accuracy-roc.png';
if (series.length > 0) await writeSvgAsPng(rocChartSvg(series, 'Face verification ROC: LFW-format pairs and the extended set of their images'), path.join(docs, plotFile));
await writeFile(path.join(docs, 'accuracy.md'), renderAccuracyReport(results, plotFile));

const percent = (x: number): string => `${(x * 100).toFixed(2)} %`;
const summary = [`${options.label}: ${result.durationSeconds.toFixed(0)} s`];
if (lfw) {
  const { official, extended, extraction } = lfw.result;
  const at = (target: number): ScoreSummary['operatingPoints'][number] => extended.operatingPoints.find((p) => p.targetFalseAccept === target)!;
  summary.push(
    `LFW accuracy ${percent(official.accuracy.mean)} ± ${percent(official.accuracy.sd)}, AUC ${official.auc.toFixed(5)}, EER ${percent(official.eer.rate)}, refused ${extraction.failures.length}/${extraction.images} (several people ${extraction.failures.filter((f) => f.reason === 'BPE-003003').length})`,
    `extended (${extended.impostorPairs} impostor pairs): ${EXTENDED_TARGETS.map((t) => `FAR ${t.toExponential(0)} cosine ${at(t).threshold?.toFixed(4)} TAR ${at(t).trueAccept.toFixed(4)}`).join('; ')}`,
    `suggested calibration ${JSON.stringify(result.suggestedCalibration?.anchors)}`,
  );
}
if (pairsCsv) {
  summary.push(...[...pairsCsv.result.subsets, pairsCsv.result.combined].map((s) => `faces/${s.subset}: AUC ${s.auc.toFixed(4)}, EER ${percent(s.eer.rate)}`));
}
process.stdout.write(`${summary.join('\n')}\nwrote docs/accuracy/${options.label}.json, docs/accuracy.md, docs/${plotFile}\n`);
