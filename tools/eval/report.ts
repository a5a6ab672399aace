import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { MeanAndSd, ThresholdAccuracy } from './metrics.js';
import type { CurvePoint } from './plot.js';

/** What one run of eval-verification measured: docs/accuracy/<label>.json. */
export interface VerificationResult {
  label: string;
  command: string;
  date: string;
  commit: string;
  machine: { cpu: string; cores: number; node: string; onnxThreads: number };
  models: { dir: string; detector: string; landmarker: string; embedder: string };
  durationSeconds: number;
  decisionThresholds: { approve: number; decline: number };
  /** The embedder's cosine → score anchors the run was made with. */
  calibration: [number, number][];
  lfw?: LfwResult;
  pairsCsv?: PairsCsvResult;
  thresholdTable: ThresholdRow[];
  suggestedCalibration?: SuggestedCalibration;
}

export interface Rates {
  falseAccept: number;
  falseReject: number;
}

export interface OperatingPointResult {
  targetFalseAccept: number;
  /** Null when only accepting nothing meets the target. */
  threshold: number | null;
  falseAccept: number;
  trueAccept: number;
  measurable: boolean;
}

export interface ScoreSummary {
  genuinePairs: number;
  impostorPairs: number;
  auc: number;
  eer: { rate: number; threshold: number };
  operatingPoints: OperatingPointResult[];
}

export interface ExtractionResult {
  images: number;
  /** Images the service refused, with the error code a client gets. */
  failures: { image: string; reason: string }[];
}

export interface LfwResult {
  pairsFile: string;
  imageRoot: string;
  people: number;
  extraction: ExtractionResult;
  official: ScoreSummary & { folds: ThresholdAccuracy[]; accuracy: MeanAndSd; bestThreshold: ThresholdAccuracy };
  extended: ScoreSummary & { impostorMedian: number };
  roc: { official: CurvePoint[]; extended: CurvePoint[] };
}

export interface SubsetResult extends ScoreSummary {
  subset: string;
  images: number;
  /** Error rates at the cosines of the service's approve and decline score thresholds. */
  atApprove: Rates;
  atDecline: Rates;
}

export interface PairsCsvResult {
  file: string;
  imageRoot: string;
  /** Cosines of the service's approve and decline score thresholds under the run's calibration. */
  approveCosine: number;
  declineCosine: number;
  extraction: ExtractionResult;
  subsets: SubsetResult[];
  combined: SubsetResult;
}

export interface ThresholdRow {
  score: number;
  cosine: number;
  official?: Rates;
  extended?: Rates;
  pairsCsv?: Rates;
}

export interface SuggestedCalibration {
  anchors: [number, number][];
  /** Whether the anchors' cosines increase, as the manifest requires. */
  valid: boolean;
  /** Cosine at FAR 1e-4 on the extended set, before rounding up. */
  approveCosine: number;
  /** Best-accuracy cosine on the official pairs, before rounding. */
  declineCosine: number;
  impostorMedian: number;
  /** The service's decision thresholds under the suggested anchors. */
  atDecisions: ThresholdRow[];
}

/** Every run's results in a folder of `<label>.json` files, by label: re-running one keeps the report's order. */
export async function readResults<Result extends { label: string } = VerificationResult>(dir: string): Promise<Result[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
  const results = await Promise.all(files.map(async (f) => JSON.parse(await readFile(path.join(dir, f), 'utf8')) as Result));
  return results.sort((a, b) => a.label.localeCompare(b.label));
}

export const percent = (x: number, digits = 2): string => `${(x * 100).toFixed(digits)} %`;
/** Error rates: small ones in exponent notation, where FAR targets live. */
const rate = (x: number): string => (x === 0 ? '0' : x < 0.01 ? x.toExponential(1) : x.toFixed(3));
const cosine = (x: number | null): string => (x === null ? 'above every score' : x.toFixed(4));
const fte = (e: ExtractionResult): string => `${percent(e.failures.length / e.images)} (${e.failures.length} of ${e.images})`;
const exponent = (x: number): string => x.toExponential(0);
export const table = (header: string[], rows: string[][]): string[] => [
  `| ${header.join(' | ')} |`,
  `| ${header.map(() => '---').join(' | ')} |`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
];
const find = (summary: ScoreSummary, target: number): OperatingPointResult | undefined =>
  summary.operatingPoints.find((p) => p.targetFalseAccept === target);
const trueAcceptCell = (point: OperatingPointResult | undefined): string =>
  !point ? '–' : point.measurable ? point.trueAccept.toFixed(4) : 'not measurable';

function operatingPointRows(summary: ScoreSummary): string[][] {
  return summary.operatingPoints.map((p) => [
    exponent(p.targetFalseAccept),
    cosine(p.threshold),
    `${rate(p.falseAccept)} (${Math.round(p.falseAccept * summary.impostorPairs)} of ${summary.impostorPairs})`,
    p.trueAccept.toFixed(4),
    p.measurable
      ? ''
      : `not measurable below 1/${summary.impostorPairs}: 0 false accepts bound the true FAR only to ≈ ${rate(3 / summary.impostorPairs)} (95 %)`,
  ]);
}

function imageList(title: string, images: readonly string[]): string[] {
  if (images.length === 0) return [];
  return ['', `<details><summary>${title} (${images.length})</summary>`, '', images.join(', '), '', '</details>'];
}

function extractionLines(name: string, e: ExtractionResult): string[] {
  const byCode = new Map<string, number>();
  for (const f of e.failures) byCode.set(f.reason, (byCode.get(f.reason) ?? 0) + 1);
  const codes = [...byCode].sort(([a], [b]) => a.localeCompare(b)).map(([code, n]) => `${code} ×${n}`);
  return [
    `- ${name}: ${e.images} images; refused (failed to extract) ${fte(e)}${codes.length > 0 ? `: ${codes.join(', ')}` : ''}.`,
    ...imageList(`${name}: refused`, e.failures.map((f) => `\`${f.image}\` (${f.reason})`)),
    '',
  ];
}

function ratesCells(r: Rates | undefined): string[] {
  return r ? [rate(r.falseAccept), rate(r.falseReject)] : ['–', '–'];
}

function thresholdTable(rows: readonly ThresholdRow[]): string[] {
  return table(
    ['score', 'cosine', 'FAR official', 'FRR official', 'FAR extended', 'FRR extended', 'FAR faces/', 'FRR faces/'],
    rows.map((r) => [r.score.toFixed(2), r.cosine.toFixed(4), ...ratesCells(r.official), ...ratesCells(r.extended), ...ratesCells(r.pairsCsv)]),
  );
}

function lfwSection(lfw: LfwResult): string[] {
  const { official, extended } = lfw;
  return [
    '### LFW View-2 pairs',
    '',
    `\`${lfw.pairsFile}\`: ${official.genuinePairs} genuine and ${official.impostorPairs} impostor pairs in ${official.folds.length} folds, ${lfw.extraction.images} images of ${lfw.people} people.`,
    '',
    `Accuracy **${percent(official.accuracy.mean)} ± ${percent(official.accuracy.sd)}** (mean ± sd over folds, each at the threshold chosen on the other folds); AUC ${official.auc.toFixed(5)}; EER ${percent(official.eer.rate)} (cosine ${official.eer.threshold.toFixed(4)}); best-accuracy cosine over all folds ${official.bestThreshold.threshold.toFixed(4)} (${percent(official.bestThreshold.accuracy)}).`,
    '',
    ...table(
      ['fold', 'cosine threshold (other folds)', 'accuracy'],
      official.folds.map((f, i) => [String(i + 1), f.threshold.toFixed(4), percent(f.accuracy)]),
    ),
    '',
    ...table(['target FAR', 'cosine threshold', 'FAR reached', 'TAR', 'note'], operatingPointRows(official)),
    '',
    '### Extended set (every pair of the same images)',
    '',
    `${extended.genuinePairs.toLocaleString('en')} genuine and ${extended.impostorPairs.toLocaleString('en')} impostor pairs; AUC ${extended.auc.toFixed(5)}; EER ${percent(extended.eer.rate)} (cosine ${extended.eer.threshold.toFixed(4)}); impostor cosines centred at ${extended.impostorMedian.toFixed(4)} (median).`,
    '',
    ...table(['target FAR', 'cosine threshold', 'FAR reached', 'TAR', 'note'], operatingPointRows(extended)),
  ];
}

function pairsCsvSection(csv: PairsCsvResult, result: VerificationResult): string[] {
  const { approve, decline } = result.decisionThresholds;
  return [
    '### Derived pairs of `faces/`',
    '',
    `\`${csv.file}\`: same-person pairs and as many random different-person pairs, within each subset. All subsets are colour photos except \`att_orl\` (grey 92×112 PGM), which holds most of the pairs. "approve" and "decline" are the cosines of the service's score thresholds ${approve} and ${decline} under the run's calibration: ${csv.approveCosine.toFixed(4)} and ${csv.declineCosine.toFixed(4)}.`,
    '',
    ...table(
      ['subset', 'images', 'genuine', 'impostor', 'AUC', 'EER', 'FAR approve', 'FRR approve', 'FAR decline', 'FRR decline'],
      [...csv.subsets, csv.combined].map((s) => [
        s === csv.combined ? '**all**' : `\`${s.subset}\``,
        String(s.images),
        String(s.genuinePairs),
        String(s.impostorPairs),
        s.auc.toFixed(4),
        percent(s.eer.rate),
        ...ratesCells(s.atApprove),
        ...ratesCells(s.atDecline),
      ]),
    ),
  ];
}

function calibrationSection(result: VerificationResult): string[] {
  const lines = [
    '### Score thresholds',
    '',
    `Calibration anchors of the run: \`${JSON.stringify(result.calibration)}\`; the service approves at score ≥ ${result.decisionThresholds.approve} and declines below ${result.decisionThresholds.decline}. Each score's cosine is \`cosineForScore\`; a pair is accepted at cosine ≥ that value.`,
    '',
    ...thresholdTable(result.thresholdTable),
  ];
  const suggested = result.suggestedCalibration;
  if (!suggested) return lines;
  const { approve, decline } = result.decisionThresholds;
  return [
    ...lines,
    '',
    '### Suggested calibration',
    '',
    `\`${JSON.stringify(suggested.anchors)}\`${suggested.valid ? '' : ' — **not usable: the cosines do not increase**'}`,
    '',
    `- approve (score ${approve}): cosine at FAR 1e-4 on the extended set, ${suggested.approveCosine.toFixed(4)}, rounded up to 2 decimals;`,
    `- decline (score ${decline}): best-accuracy cosine on the official pairs, ${suggested.declineCosine.toFixed(4)}, rounded to 2 decimals;`,
    `- score 0: the median impostor cosine of the extended set, ${suggested.impostorMedian.toFixed(4)}, rounded down to 2 decimals (0 if negative).`,
    '',
    'The service\'s thresholds under these anchors:',
    '',
    ...thresholdTable(suggested.atDecisions),
  ];
}

function labelSection(result: VerificationResult): string[] {
  return [
    `## \`${result.label}\``,
    '',
    `- command: \`${result.command}\``,
    `- date ${result.date}, commit \`${result.commit}\`, ${result.durationSeconds.toFixed(0)} s on ${result.machine.cpu} (${result.machine.cores} cores, Node ${result.machine.node}, ${result.machine.onnxThreads} ONNX threads)`,
    `- models \`${result.models.dir}\`: detector ${result.models.detector}, landmarks ${result.models.landmarker}, embedder ${result.models.embedder}`,
    '',
    ...(result.lfw ? [...lfwSection(result.lfw), ''] : []),
    ...(result.pairsCsv ? [...pairsCsvSection(result.pairsCsv, result), ''] : []),
    ...calibrationSection(result),
    '',
    '### Extraction',
    '',
    ...(result.lfw ? extractionLines('LFW', result.lfw.extraction) : []),
    ...(result.pairsCsv ? extractionLines('faces/', result.pairsCsv.extraction) : []),
    '',
  ];
}

function summaryRow(r: VerificationResult): string[] {
  const lfw = r.lfw;
  const failures = [lfw?.extraction, r.pairsCsv?.extraction].filter((e): e is ExtractionResult => !!e);
  const fteCell = failures.map(fte).join(' / ');
  if (!lfw) return [`\`${r.label}\``, '–', '–', '–', '–', '–', fteCell];
  return [
    `\`${r.label}\``,
    `${percent(lfw.official.accuracy.mean)} ± ${percent(lfw.official.accuracy.sd)}`,
    lfw.official.auc.toFixed(5),
    percent(lfw.official.eer.rate),
    trueAcceptCell(find(lfw.extended, 1e-3)),
    trueAcceptCell(find(lfw.extended, 1e-4)),
    fteCell,
  ];
}

/** docs/accuracy.md from every run's results, one summary row and one section per label. */
export function renderAccuracyReport(results: readonly VerificationResult[], plotFile: string): string {
  return [
    '# Face verification accuracy, measured',
    '',
    'Generated by `npm run eval:verification -- --label <name> [--lfw <pairs.txt> <image root>] [--pairs-csv <csv> <image root>]` from every `docs/accuracy/*.json`; run it again with another `MODELS_DIR` and label to add a row. Each image goes once through exactly what `POST /v1/face/pattern/extract` runs (the same composition, decoding, face finding, face choice, alignment and embedding); a pair\'s score is the cosine of the two embeddings. Every number is what a client of the API gets.',
    '',
    'Conventions:',
    '',
    '- **Refusals count.** An image the service refuses — more than one person (`BPE-003003`), no face (`BPE-003002`), unreadable — gives a client no template: every pair using it counts as declined (cosine −1), a false reject when the pair is genuine. FTE (failure to extract) counts those images.',
    '- **Formats.** The AT&T/ORL faces are PGM, which the API does not accept: they are sent as a lossless PNG of the same pixels.',
    '- **Accuracy** follows the LFW View-2 protocol: each fold is scored at the best-accuracy cosine of the other folds; mean ± sample standard deviation over folds.',
    '- **TAR at a FAR** is read at the lowest cosine whose FAR is at most the target. With *n* impostor pairs the smallest non-zero FAR is 1/*n*: a lower target is "not measurable" (only "0 of *n* accepted", a true FAR up to ≈ 3/*n* at 95 % confidence). The 900 impostor pairs of the 3 LFW dev folds, for instance, cannot resolve 1e-3; the **extended set** can: every pair of images of the same person and every pair of images of different people among the images `pairs.txt` names.',
    '- **How far to trust low FARs.** The extended set\'s pairs share images, so they are not independent draws; the threshold at FAR 1e-5 rests on the few dozen highest impostor pairs. The LFW dev images are a grey re-encoding: colour photos score a little higher.',
    '- A pair is accepted at cosine ≥ the threshold; the service decides on the score `scoreFromCosine(cosine)`, whose thresholds map to cosines through the calibration anchors.',
    '',
    '## Summary',
    '',
    ...table(
      ['label', 'LFW accuracy', 'AUC', 'EER', 'TAR @ FAR 1e-3 (extended)', 'TAR @ FAR 1e-4 (extended)', 'FTE (LFW / faces/)'],
      results.map(summaryRow),
    ),
    '',
    ...(results.some((r) => r.lfw)
      ? [
          `![ROC curves: TAR against FAR on a log axis, official LFW pairs and extended set per label](${plotFile})`,
          '',
          'Each official-pairs curve starts at FAR 1/*n*, the smallest non-zero FAR its *n* impostor pairs can show.',
          '',
        ]
      : []),
    ...results.flatMap(labelSection),
  ].join('\n');
}
