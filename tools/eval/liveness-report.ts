import { type Interval, meanAndSd } from './metrics.js';
import { percent, table } from './report.js';
import type { Machine } from './run-info.js';

/** Thresholds at which every set's APCER and BPCER are reported (the service's default among them). */
export const SWEPT_THRESHOLDS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];

/** Operating points every run reports: APCER at these BPCERs, BPCER at these APCERs. */
export const BPCER_TARGETS = [0.1, 0.05];
export const APCER_TARGETS = [0.02, 0.1];
/** The product's requirement on NUAA dev (the liveness issue): APCER ≤ 2 % at BPCER ≤ 10 %. */
export const REQUIRED = { apcer: 0.02, bpcer: 0.1 };

/** What one run of eval-liveness measured: docs/liveness/<label>.json. */
export interface LivenessResult {
  label: string;
  command: string;
  date: string;
  commit: string;
  machine: Machine;
  models: { dir: string; detector: string; landmarker: string; antiSpoof: string[] };
  durationSeconds: number;
  /** The service's default threshold (LIVENESS_THRESHOLD): a score at or above it is an attack. */
  threshold: number;
  sets: SetResult[];
  /** Every set's scores together; only when there are several sets. */
  pooled?: PadSummary;
}

export interface SetResult {
  name: string;
  /** Images scored one by one (single-image mode), or media analysed as folder parts are. */
  kind: 'images' | 'media';
  /** What the set was used to choose, if anything. */
  chose?: string;
  /** Absent when the set holds no image of the class. */
  bonaFide?: ClassResult;
  attack?: ClassResult;
  /** APCER and BPCER (of the classes the set has) at each of SWEPT_THRESHOLDS. */
  byThreshold: { threshold: number; apcer?: number; bpcer?: number }[];
  /** Absent when either class has no scored image. */
  summary?: PadSummary;
  /** Per subject (the first folder below the class folders), when every image lies in one. */
  subjects?: SubjectResult[];
}

export interface ClassResult {
  /** Relative to the project root. */
  folder: string;
  images: number;
  /** Images without a score: no face found (failure to acquire) or not decodable. */
  failures: { image: string; reason: string }[];
  /** Attack probability of each scored image, as the service reports it; images relative to the folder. */
  scores: { image: string; score: number; decidedBy?: string }[];
}

export interface CountedRate {
  errors: number;
  samples: number;
  rate: number;
  interval95: Interval;
}

export interface PadOperatingPointResult {
  target: number;
  /** Null when only classifying nothing as an attack meets the target. */
  threshold: number | null;
  apcer: number;
  bpcer: number;
  measurable: boolean;
}

export interface PadSummary {
  bonaFide: number;
  attacks: number;
  auc: number;
  eer: { rate: number; threshold: number };
  medianScore: { bonaFide: number; attack: number };
  atThreshold: { threshold: number; apcer: CountedRate; bpcer: CountedRate };
  apcerAtBpcer: PadOperatingPointResult[];
  bpcerAtApcer: PadOperatingPointResult[];
}

export interface SubjectResult {
  subject: string;
  bpcer?: CountedRate;
  apcer?: CountedRate;
  /** When the subject has scored images of both classes. */
  auc?: number;
}

const pct = (x: number): string => percent(x, 1);
/** A target rate as it is spoken of: "10 %", "2 %". */
export const targetPercent = (x: number): string => `${Number((x * 100).toPrecision(3))} %`;
const images = (n: number): string => `${n} image${n === 1 ? '' : 's'}`;
const threshold = (t: number | null): string => (t === null ? 'none (nothing is an attack)' : t.toFixed(4));
const counted = (r: CountedRate): string => `${pct(r.rate)} (${r.errors} of ${r.samples})`;
const withInterval = (r: CountedRate): string => `${counted(r)}; 95 % CI ${pct(r.interval95.lower)}–${pct(r.interval95.upper)}`;
const countOf = (rate: number, samples: number): string => `${Math.round(rate * samples)} of ${samples}`;
const fta = (c: ClassResult): string => `${c.failures.length} of ${c.images}`;

const findPoint = (points: readonly PadOperatingPointResult[], target: number): PadOperatingPointResult | undefined =>
  points.find((p) => p.target === target);

/** APCER at a BPCER target, or the reverse: the held rate first, then the rate it costs, then the threshold. */
function operatingPointCell(summary: PadSummary, held: 'bpcer' | 'apcer', target: number): string {
  const point = findPoint(held === 'bpcer' ? summary.apcerAtBpcer : summary.bpcerAtApcer, target);
  if (!point) return '–';
  const cost = held === 'bpcer' ? `${pct(point.apcer)} (${countOf(point.apcer, summary.attacks)})` : `${pct(point.bpcer)} (${countOf(point.bpcer, summary.bonaFide)})`;
  const note = point.measurable ? '' : ', target below 1/n';
  return `${cost} @ ${threshold(point.threshold)}${note}`;
}

interface SummaryRow {
  name: string;
  summary: PadSummary | undefined;
  /** The set's rate of each class it has at the default threshold, for sets with one class. */
  oneClass?: { apcer?: string; bpcer?: string };
  /** Images scored and failed to acquire, per class. */
  counts: { bonaFide: string; attack: string };
}

function summaryRows(result: LivenessResult): SummaryRow[] {
  const count = (classes: readonly (ClassResult | undefined)[]): string => {
    const present = classes.filter((c): c is ClassResult => c !== undefined);
    return present.length === 0 ? '–' : `${present.reduce((n, c) => n + c.scores.length, 0)} (${present.reduce((n, c) => n + c.failures.length, 0)})`;
  };
  const counts = (sets: readonly SetResult[]): SummaryRow['counts'] => ({
    bonaFide: count(sets.map((s) => s.bonaFide)),
    attack: count(sets.map((s) => s.attack)),
  });
  const oneClass = (set: SetResult): NonNullable<SummaryRow['oneClass']> => {
    const at = set.byThreshold.find((t) => t.threshold === result.threshold);
    const cell = (rate: number | undefined, c: ClassResult | undefined): string | undefined =>
      rate === undefined || !c ? undefined : `${pct(rate)} (${Math.round(rate * c.scores.length)} of ${c.scores.length})`;
    return { ...optional('apcer', cell(at?.apcer, set.attack)), ...optional('bpcer', cell(at?.bpcer, set.bonaFide)) };
  };
  const rows: SummaryRow[] = result.sets.map((set) => ({ name: setName(set), summary: set.summary, oneClass: oneClass(set), counts: counts([set]) }));
  if (result.pooled) rows.push({ name: 'image sets with both classes, pooled', summary: result.pooled, counts: counts(result.sets.filter((s) => s.summary)) });
  return rows;
}

const optional = <K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> => (value === undefined ? {} : ({ [key]: value } as Record<K, string>));

/** A set's name, marked when the set chose something (its numbers then flatter the choice). */
const setName = (set: SetResult): string => `\`${set.name}\`${set.chose ? ' †' : ''}`;

const rateCell = (rate: number | undefined): string => (rate === undefined ? '' : pct(rate));

/** APCER and BPCER at every swept threshold, per label and set: what an operator moving the threshold gets. */
function sweepTable(results: readonly LivenessResult[]): string[] {
  return table(
    ['label', 'set', 'rate', ...SWEPT_THRESHOLDS.map(String)],
    results.flatMap((r) =>
      r.sets.flatMap((set) => {
        const rows: string[][] = [];
        if (set.attack) rows.push([`\`${r.label}\``, setName(set), 'APCER', ...set.byThreshold.map((t) => rateCell(t.apcer))]);
        if (set.bonaFide) rows.push([`\`${r.label}\``, setName(set), 'BPCER', ...set.byThreshold.map((t) => rateCell(t.bpcer))]);
        return rows;
      }),
    ),
  );
}

/** Sets with fewer scored presentations of a class say too little about it to compare thresholds across sets. */
const TRANSFER_MIN_PER_CLASS = 10;

/**
 * How far apart the sets of each label put their error rates at the default threshold, and their equal-error
 * thresholds: one threshold cannot serve every capture condition.
 */
function transferLines(results: readonly LivenessResult[]): string[] {
  const scored = (c: ClassResult | undefined): number => c?.scores.length ?? 0;
  return results.flatMap((r) => {
    const atDefault = r.sets.filter((s) => !s.name.endsWith('.models_only')).map((s) => ({ set: s, name: s.name, rates: s.byThreshold.find((t) => t.threshold === r.threshold) }));
    const spread = (rate: 'apcer' | 'bpcer'): string | undefined => {
      const values = atDefault
        .filter(({ set }) => scored(rate === 'apcer' ? set.attack : set.bonaFide) >= TRANSFER_MIN_PER_CLASS)
        .flatMap((s) => (s.rates?.[rate] === undefined ? [] : [{ name: s.name, value: s.rates[rate] }]))
        .sort((a, b) => a.value - b.value);
      if (values.length < 2) return undefined;
      return `${rate.toUpperCase()} from ${pct(values[0]!.value)} (\`${values[0]!.name}\`) to ${pct(values.at(-1)!.value)} (\`${values.at(-1)!.name}\`)`;
    };
    const eers = r.sets
      .filter((s) => s.summary && Math.min(scored(s.bonaFide), scored(s.attack)) >= TRANSFER_MIN_PER_CLASS)
      .map((s) => ({ name: s.name, threshold: s.summary!.eer.threshold }))
      .sort((a, b) => a.threshold - b.threshold);
    const parts = [
      spread('bpcer'),
      spread('apcer'),
      eers.length > 1 ? `equal-error thresholds from ${eers[0]!.threshold.toFixed(4)} (\`${eers[0]!.name}\`) to ${eers.at(-1)!.threshold.toFixed(4)} (\`${eers.at(-1)!.name}\`)` : undefined,
    ].filter((part): part is string => part !== undefined);
    return parts.length === 0 ? [] : [`- \`${r.label}\`, at ${r.threshold}: ${parts.join('; ')}.`];
  });
}

function thresholdTable(results: readonly LivenessResult[]): string[] {
  return table(
    ['label', 'set', 'bona fide scored (FTA)', 'attacks scored (FTA)', 'AUC', 'EER (threshold)', 'APCER @ default threshold', 'BPCER @ default threshold'],
    results.flatMap((r) =>
      summaryRows(r).map(({ name, summary, oneClass, counts }) => [
        `\`${r.label}\``,
        name,
        counts.bonaFide,
        counts.attack,
        summary?.auc.toFixed(4) ?? '–',
        summary ? `${pct(summary.eer.rate)} (${summary.eer.threshold.toFixed(4)})` : '–',
        summary ? counted(summary.atThreshold.apcer) : (oneClass?.apcer ?? '–'),
        summary ? counted(summary.atThreshold.bpcer) : (oneClass?.bpcer ?? '–'),
      ]),
    ),
  );
}

function operatingPointTable(results: readonly LivenessResult[]): string[] {
  return table(
    [
      'label',
      'set',
      ...BPCER_TARGETS.map((t) => `APCER @ BPCER ≤ ${targetPercent(t)} (threshold)`),
      ...APCER_TARGETS.map((t) => `BPCER @ APCER ≤ ${targetPercent(t)} (threshold)`),
    ],
    results.flatMap((r) =>
      summaryRows(r).map(({ name, summary }) => [
        `\`${r.label}\``,
        name,
        ...BPCER_TARGETS.map((t) => (summary ? operatingPointCell(summary, 'bpcer', t) : '–')),
        ...APCER_TARGETS.map((t) => (summary ? operatingPointCell(summary, 'apcer', t) : '–')),
      ]),
    ),
  );
}

/** Whether the set meets the product requirement, when it has enough images of each class to tell. */
function requirementLines(summary: PadSummary): string[] {
  const point = findPoint(summary.apcerAtBpcer, REQUIRED.bpcer);
  if (!point) return [];
  const requirement = `Requirement APCER ≤ ${targetPercent(REQUIRED.apcer)} at BPCER ≤ ${targetPercent(REQUIRED.bpcer)}`;
  if (summary.attacks * REQUIRED.apcer < 1 || summary.bonaFide * REQUIRED.bpcer < 1) {
    return [`- ${requirement}: not measurable here (it needs at least ${Math.ceil(1 / REQUIRED.apcer)} attacks and ${Math.ceil(1 / REQUIRED.bpcer)} bona fide images).`];
  }
  const verdict = point.apcer <= REQUIRED.apcer ? 'met' : 'not met';
  return [`- ${requirement}: **${verdict}** (lowest APCER at BPCER ≤ ${targetPercent(REQUIRED.bpcer)}: ${pct(point.apcer)}, ${countOf(point.apcer, summary.attacks)}).`];
}

function summaryLines(summary: PadSummary): string[] {
  const { atThreshold } = summary;
  return [
    ...table(
      ['measure', 'value', 'threshold'],
      [
        ['AUC', summary.auc.toFixed(4), ''],
        ['EER', pct(summary.eer.rate), summary.eer.threshold.toFixed(4)],
        ['APCER at the default threshold', withInterval(atThreshold.apcer), String(atThreshold.threshold)],
        ['BPCER at the default threshold', withInterval(atThreshold.bpcer), String(atThreshold.threshold)],
        ...summary.apcerAtBpcer.map((p) => [
          `APCER at BPCER ≤ ${targetPercent(p.target)}`,
          `${pct(p.apcer)} (${countOf(p.apcer, summary.attacks)}); BPCER ${pct(p.bpcer)} (${countOf(p.bpcer, summary.bonaFide)})${p.measurable ? '' : '; target below 1/n'}`,
          threshold(p.threshold),
        ]),
        ...summary.bpcerAtApcer.map((p) => [
          `BPCER at APCER ≤ ${targetPercent(p.target)}`,
          `${pct(p.bpcer)} (${countOf(p.bpcer, summary.bonaFide)}); APCER ${pct(p.apcer)} (${countOf(p.apcer, summary.attacks)})${p.measurable ? '' : '; target below 1/n'}`,
          threshold(p.threshold),
        ]),
      ],
    ),
    '',
    `- Median score: bona fide ${summary.medianScore.bonaFide.toFixed(4)}, attacks ${summary.medianScore.attack.toFixed(4)}.`,
    `- Resolution: ${summary.attacks} attacks resolve APCER in steps of ${percent(1 / summary.attacks)}, ${summary.bonaFide} bona fide images BPCER in steps of ${percent(1 / summary.bonaFide)}.`,
    ...requirementLines(summary),
  ];
}

function spread(name: string, rates: readonly CountedRate[]): string {
  if (rates.length === 0) return '';
  const values = rates.map((r) => r.rate);
  const { mean, sd } = meanAndSd(values);
  return `${name} ${pct(Math.min(...values))}–${pct(Math.max(...values))} (mean ${pct(mean)}, sd ${pct(sd)})`;
}

function subjectLines(subjects: readonly SubjectResult[], defaultThreshold: number): string[] {
  const apcers = subjects.flatMap((s) => (s.apcer ? [s.apcer] : []));
  const bpcers = subjects.flatMap((s) => (s.bpcer ? [s.bpcer] : []));
  return [
    `Per subject, at the default threshold ${defaultThreshold}:`,
    '',
    ...table(
      ['subject', 'BPCER', 'APCER', 'AUC'],
      subjects.map((s) => [`\`${s.subject}\``, s.bpcer ? counted(s.bpcer) : '–', s.apcer ? counted(s.apcer) : '–', s.auc?.toFixed(4) ?? '–']),
    ),
    '',
    `Across ${subjects.length} subjects: ${[spread('BPCER', bpcers), spread('APCER', apcers)].filter((text) => text !== '').join('; ')}.`,
  ];
}

function failureLines(set: SetResult): string[] {
  const failures = [
    ...(set.bonaFide?.failures ?? []).map((f) => `bona fide \`${f.image}\` (${f.reason})`),
    ...(set.attack?.failures ?? []).map((f) => `attack \`${f.image}\` (${f.reason})`),
  ];
  if (failures.length === 0) return [];
  return ['', `<details><summary>Failures to acquire (${failures.length})</summary>`, '', failures.join(', '), '', '</details>'];
}

/** How the scores of a media set were decided, when evidence beyond the frames decided some. */
function decidedByLine(set: SetResult): string[] {
  const counts = new Map<string, number>();
  for (const c of [set.bonaFide, set.attack]) for (const s of c?.scores ?? []) if (s.decidedBy) counts.set(s.decidedBy, (counts.get(s.decidedBy) ?? 0) + 1);
  if (counts.size === 0) return [];
  return [`- decided by: ${[...counts].map(([by, n]) => `${by} ${n}`).join(', ')}`];
}

function classLine(name: string, c: ClassResult | undefined): string {
  return c ? `- ${name}: \`${c.folder}\`, ${images(c.images)}, failures to acquire ${fta(c)}` : `- ${name}: none in this set`;
}

function setSection(set: SetResult, result: LivenessResult): string[] {
  const { bonaFide } = set;
  const rejectedAtDefault = bonaFide && set.byThreshold.find((t) => t.threshold === result.threshold)?.bpcer;
  const systemBpcer =
    bonaFide && bonaFide.failures.length > 0 && rejectedAtDefault !== undefined
      ? [
          `- Counting the bona fide failures to acquire as rejected, as a user meets them (the service answers them with an error): BPCER at the default threshold ${pct((Math.round(rejectedAtDefault * bonaFide.scores.length) + bonaFide.failures.length) / bonaFide.images)} (${Math.round(rejectedAtDefault * bonaFide.scores.length) + bonaFide.failures.length} of ${bonaFide.images}).`,
        ]
      : [];
  const atDefault = set.byThreshold.find((t) => t.threshold === result.threshold);
  const oneClass = atDefault
    ? [`At the default threshold ${result.threshold}: ${[atDefault.apcer !== undefined && `APCER ${pct(atDefault.apcer)} (of ${set.attack!.scores.length})`, atDefault.bpcer !== undefined && `BPCER ${pct(atDefault.bpcer)} (of ${bonaFide!.scores.length})`].filter(Boolean).join(', ')}.`]
    : [];
  return [
    `### \`${set.name}\``,
    '',
    ...(set.chose ? [`- **used to choose something:** ${set.chose}`] : []),
    classLine('bona fide', set.bonaFide),
    classLine('attacks', set.attack),
    ...decidedByLine(set),
    ...systemBpcer,
    '',
    ...(set.summary ? summaryLines(set.summary) : oneClass),
    ...(set.subjects ? ['', ...subjectLines(set.subjects, result.threshold)] : []),
    ...failureLines(set),
    '',
  ];
}

function labelSection(result: LivenessResult): string[] {
  return [
    `## \`${result.label}\``,
    '',
    `- command: \`${result.command}\``,
    `- date ${result.date}, commit \`${result.commit}\`, ${result.durationSeconds.toFixed(0)} s on ${result.machine.cpu} (${result.machine.cores} cores, Node ${result.machine.node}, ${result.machine.onnxThreads} ONNX threads)`,
    `- models \`${result.models.dir}\`: anti-spoof ${result.models.antiSpoof.join(' + ')}; detector ${result.models.detector}, landmarks ${result.models.landmarker}`,
    `- default threshold (LIVENESS_THRESHOLD) ${result.threshold}`,
    '',
    ...result.sets.flatMap((set) => setSection(set, result)),
    ...(result.pooled ? ['### All sets pooled', '', ...summaryLines(result.pooled), ''] : []),
  ];
}

/** docs/liveness.md from every run's results: summary rows per label and set, then one section per label. */
export function renderLivenessReport(results: readonly LivenessResult[], plot: { file: string; sets: readonly string[]; minPlotted: number }): string {
  const { file: plotFile, sets: plottedSets, minPlotted } = plot;
  return [
    '# Liveness (presentation-attack detection), measured',
    '',
    'Generated by `npx tsx tools/eval-liveness.ts --label <name> [--set <name> <bona fide folders> <attack folders> …] [--generated <data dir>]` from every `docs/liveness/*.json`; run it again with another `MODELS_DIR` and label to add rows (each label\'s section gives its exact command). Images are scored once by the service\'s single-image liveness (`createMediaAnalyser(…).scoreImage`, built from the config as the service builds it): the largest face at least `FACE_MIN_HEIGHT` tall, the anti-spoof model(s) of the manifest on their crops, the mean attack probability, rounded as the API rounds it. Media sets (`--generated`: real videos and frames cut from them, and attacks built at run time from the shared photos and videos by `tools/eval/generated-media.ts`) are analysed as a folder media part is (`createMediaAnalyser(…).analyse`): the score is the media\'s `confidence_spoofing`, which is 1 when evidence over time decided (a still, another person), and `.models_only` rows give the anti-spoof models\' own median over the frames. The temporal rules themselves are measured in `liveness-temporal.md`.',
    '',
    'Conventions:',
    '',
    '- **Scores and decisions.** The score is the probability of an attack; a score at or above the threshold classifies the image as an attack, as the service decides (`passed` is `score < threshold`). The default threshold is the service\'s `LIVENESS_THRESHOLD`.',
    '- **APCER and BPCER** (ISO/IEC 30107-3): APCER is the share of attack presentations classified bona fide, BPCER the share of bona fide presentations classified attacks. The standard reports APCER per attack-instrument species; each set here holds one kind of attack as far as its labels say (NUAA: printed photographs; Silent-Face: "fake", type not stated), so APCER is per set.',
    '- **Sets and their use.** A set marked † was used to choose something (its section says what): its numbers flatter that choice, and only the other sets test it. The anti-spoof models themselves were trained elsewhere; their default threshold 0.5 is the published one, chosen on none of these sets.',
    '- **Failures to acquire (FTA).** An image in which no face is found (or that cannot be decoded) gets no score: it is left out of every rate, curve and AUC and counted separately per class. The service answers such an image with an error, never "passed": an attack failing to acquire cannot raise the APCER, a bona fide one is a rejection the user sees, given as an extra BPCER line where it happens.',
    '- **Operating points.** "APCER at BPCER ≤ 10 %" is read at the lowest threshold whose BPCER is at most 10 %; "BPCER at APCER ≤ 2 %" at the highest threshold whose APCER is at most 2 %. These thresholds are chosen on the very images they are measured on, so they flatter the model: a threshold for the service must be chosen on other data and checked here.',
    '- **Resolution.** With *n* images of a class a rate moves in steps of 1/*n* (128 NUAA dev attacks: 0.78 %), so an APCER target of 2 % means at most 2 of 128 attacks (1.56 %); a target below 1/*n* is marked "target below 1/n" (only 0 of *n* can meet it). Rates at the default threshold carry a 95 % Wilson interval, which assumes independent images; frames of the same person and capture are not, so the true uncertainty is larger. NUAA dev, for instance, is 16 frames per class of each of 8 subjects: its per-subject rates (16 images per class, steps of 6.25 %) show how much the rates vary with the person.',
    '- **EER** is interpolated where APCER and BPCER cross; its threshold is that of the nearer measured point.',
    '- **Subjects** are the first folder below a set\'s bona fide and attack folders (NUAA: the 4-digit subject id), reported when every image lies in one.',
    '',
    '## Summary',
    '',
    'At the default threshold (FTA: failures to acquire, not counted in the rates):',
    '',
    ...thresholdTable(results),
    '',
    'Operating points (rate reached, its count, and the threshold; thresholds chosen on the same images):',
    '',
    ...operatingPointTable(results),
    '',
    '## APCER and BPCER by threshold',
    '',
    'Every set at a range of thresholds: APCER for the sets with attacks, BPCER for the sets with bona fide presentations (a set with one class gives one rate). Sets marked † were used to choose something (said in their section): their rates flatter that choice. Media sets are reported twice: as the API answers (`confidence_spoofing`, evidence over time included) and `.models_only`, as the anti-spoof models alone scored the frames (`frames_confidence_spoofing`).',
    '',
    ...sweepTable(results),
    '',
    `**Thresholds do not transfer between capture conditions.** Each set is one kind of capture (printed photos cropped tight, phone and press photos with context, webcam video, generated video); the same threshold costs very different rates on each (sets with at least ${TRANSFER_MIN_PER_CLASS} scored presentations of the class):`,
    '',
    ...transferLines(results),
    '',
    'A threshold chosen on one of these sets is therefore a statement about that set only. The service keeps the published default 0.5: a better default would have to be chosen on one set and confirmed on another of the same capture conditions, and here each condition has one set (or one class). An operator should choose a threshold on captures from their own devices, users and attacks, then check it on other captures of the same kind; the rows above say what each threshold costs on each kind measured here.',
    '',
    ...(plottedSets.length > 0
      ? [
          `![DET curves: BPCER against APCER on probit axes, per label and set](${plotFile})`,
          '',
          `DET curves of ${plottedSets.join(', ')}; sets with fewer than ${minPlotted} scored images in a class are not drawn (a curve through a handful of points has no shape). Dots: the default threshold; cross: the requirement APCER ≤ ${targetPercent(REQUIRED.apcer)} at BPCER ≤ ${targetPercent(REQUIRED.bpcer)}, which a curve must pass below and left of. Rates of 0 are drawn on the axes' lower edges.`,
          '',
        ]
      : []),
    ...results.flatMap(labelSection),
  ].join('\n');
}
