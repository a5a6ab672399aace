/**
 * Runs what every image method of the API runs to find a sample's faces and choose its subject (biometry.findFaces)
 * over folders of the shared data, and reports what a client gets per folder — no face, one person, "more than one
 * person" — with the measurements the face-choice rule rests on. Writes docs/face-choice.md.
 *
 *   npm run face-census -- <data dir> [folder ...]      (MODELS_DIR and FACE_* settings as for the service)
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { composeUseCases, loadFaceModels } from '../src/compose.js';
import { loadConfig, projectRoot } from '../src/config.js';
import type { Detection } from '../src/face/detector.js';
import { boxHeight, iou } from '../src/face/geometry.js';
import { quantile } from '../src/statistics.js';

const [dataDir, ...folders] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: face-census <data dir> [folder ...]');
const chosenFolders = folders.length > 0 ? folders : ['lfw_dev', 'faces', 'documents', 'multi_face', 'no_face'];

const config = loadConfig();
const registry = await loadFaceModels(config);
const { biometry } = composeUseCases(config, registry);

interface Sample {
  file: string;
  width: number;
  height: number;
  faces: Detection[];
  answer: 'none' | 'one' | 'several' | 'unreadable';
}

const samples = new Map<string, Sample[]>();
for (const folder of chosenFolders) {
  const entries = await readdir(path.join(dataDir, folder), { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && /\.(jpe?g|png)$/i.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  const found: Sample[] = [];
  for (const [index, file] of files.entries()) {
    if ((index + 1) % 100 === 0 || index + 1 === files.length) process.stderr.write(`${folder}: ${index + 1}/${files.length}\n`);
    const relative = path.relative(dataDir, file);
    try {
      const { image, faces, choice } = await biometry.findFaces(await readFile(file));
      found.push({ file: relative, width: image.width, height: image.height, faces, answer: choice.kind });
    } catch {
      found.push({ file: relative, width: 0, height: 0, faces: [], answer: 'unreadable' });
    }
  }
  samples.set(folder, found);
}
await registry.release();

const usable = (s: Sample): Detection[] => s.faces.filter((f) => boxHeight(f.box) >= config.faceMinHeight);
const sideMargin = (s: Sample, f: Detection): number => Math.min(f.box.x1, s.width - f.box.x2) / boxHeight(f.box);
const endMargin = (s: Sample, f: Detection): number => Math.min(f.box.y1, s.height - f.box.y2) / boxHeight(f.box);
const list = (title: string, files: readonly string[]): string[] => (files.length === 0 ? [] : ['', `${title}:`, '', ...files.map((f) => `- \`${f}\``)]);

/** LFW photos are crops centred on their subject: the face nearest the centre is the subject, the others bystanders. */
function lfwBystanders(all: readonly Sample[]): { side: number[]; ratios: number[] } {
  const side: number[] = [];
  const ratios: number[] = [];
  for (const s of all) {
    const faces = usable(s);
    if (faces.length < 2) continue;
    const offCentre = (f: Detection): number => Math.hypot((f.box.x1 + f.box.x2 - s.width) / 2, (f.box.y1 + f.box.y2 - s.height) / 2);
    const subject = faces.reduce((a, b) => (offCentre(b) < offCentre(a) ? b : a));
    for (const f of faces) {
      if (f === subject || iou(f.box, subject.box) > 0.1) continue;
      ratios.push(boxHeight(f.box) / boxHeight(subject.box));
      if (boxHeight(f.box) >= config.faceComparableRatio * boxHeight(subject.box)) side.push(sideMargin(s, f));
    }
  }
  return { side, ratios };
}

/** Margins of the faces that make a group: those at least the comparable share of the tallest. */
function groupMargins(all: readonly Sample[]): { side: number; end: number } {
  const faces = all.flatMap((s) => {
    const tallest = Math.max(...usable(s).map((f) => boxHeight(f.box)));
    return usable(s)
      .filter((f) => boxHeight(f.box) >= config.faceComparableRatio * tallest)
      .map((f) => ({ side: sideMargin(s, f), end: endMargin(s, f) }));
  });
  return { side: Math.min(...faces.map((f) => f.side)), end: Math.min(...faces.map((f) => f.end)) };
}

/** multi_face/compreface photos are labelled with a nose point per face: a face is found when a box holds one. */
async function labelledRecall(all: readonly Sample[]): Promise<{ labelled: number; found: number } | undefined> {
  const labels = (await readFile(path.join(dataDir!, 'multi_face', 'labels.csv'), 'utf8')).trim().split(/\r?\n/).slice(1);
  let labelled = 0;
  let found = 0;
  for (const line of labels) {
    const [file, , points] = line.split(',');
    if (!points) continue;
    const sample = all.find((s) => s.file === `multi_face/${file}`);
    if (!sample) continue;
    for (const point of points.split('|')) {
      const [x, y] = point.split(';').map(Number) as [number, number];
      labelled++;
      if (sample.faces.some((f) => x >= f.box.x1 && x <= f.box.x2 && y >= f.box.y1 && y <= f.box.y2)) found++;
    }
  }
  return labelled > 0 ? { labelled, found } : undefined;
}

const count = (all: readonly Sample[], answer: Sample['answer']): number => all.filter((s) => s.answer === answer).length;
const rows = [...samples].map(([folder, all]) => {
  const share = (n: number): string => `${n} (${((100 * n) / all.length).toFixed(2)} %)`;
  return `| \`${folder}\` | ${all.length} | ${share(count(all, 'none'))} | ${share(count(all, 'one'))} | ${share(count(all, 'several'))} | ${count(all, 'unreadable')} |`;
});

const lines = [
  '# Face choice, measured',
  '',
  `Generated by \`npm run face-census -- <data dir>\` (FACE_CHOICE=${config.faceChoice}, FACE_MIN_HEIGHT=${config.faceMinHeight}, FACE_COMPARABLE_RATIO=${config.faceComparableRatio}, models of \`${path.relative(projectRoot, config.modelsDir) || config.modelsDir}\`): what a client of the API gets for each image — the answer of the code every image method runs.`,
  '',
  '| folder | images | no face (`BPE-003002`) | one person | more than one person (`BPE-003003`) | unreadable |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows,
];
const lfw = samples.get('lfw_dev');
if (lfw) {
  const { side, ratios } = lfwBystanders(lfw);
  lines.push(
    '',
    '## Bystanders (LFW dev)',
    '',
    `LFW photos are crops centred on their subject. Taking the face nearest the centre as the subject, the other faces (${ratios.length}, not overlapping it) are bystanders: their height over the subject's has median ${quantile(ratios, 0.5).toFixed(2)}, 90th percentile ${quantile(ratios, 0.9).toFixed(2)}. Of the ${side.length} at least ${config.faceComparableRatio} of the subject's height, the distance of the box from the image's left or right edge, in face heights, has median ${quantile(side, 0.5).toFixed(2)}, 80th percentile ${quantile(side, 0.8).toFixed(2)} and 90th percentile ${quantile(side, 0.9).toFixed(2)}: they are cut by the frame.`,
    ...list('LFW dev images answered "more than one person"', lfw.filter((s) => s.answer === 'several').map((s) => s.file)),
  );
}
const groups = samples.get('multi_face');
if (groups) {
  const margins = groupMargins(groups);
  const recall = await labelledRecall(groups);
  lines.push(
    '',
    '## Group photos (multi_face)',
    '',
    `Faces that make a group (at least ${config.faceComparableRatio} of the tallest) keep at least ${margins.side.toFixed(2)} face heights from the image's sides and ${margins.end.toFixed(2)} from its top or bottom.`,
    ...(recall ? ['', `Labelled faces (the CompreFace photos' nose points) inside a found box: ${recall.found} of ${recall.labelled}.`] : []),
    ...list('Group photos answered as one person', groups.filter((s) => s.answer !== 'several').map((s) => s.file)),
  );
}
for (const [folder, all] of samples) {
  if (folder === 'lfw_dev' || folder === 'multi_face') continue;
  lines.push(...list(`\`${folder}\`: no face`, all.filter((s) => s.answer === 'none').map((s) => s.file)));
  lines.push(...list(`\`${folder}\`: more than one person`, all.filter((s) => s.answer === 'several').map((s) => s.file)));
}
lines.push('');
const out = path.join(projectRoot, 'docs', 'face-choice.md');
await writeFile(out, lines.join('\n'));
process.stdout.write(`wrote ${out}\n`);
