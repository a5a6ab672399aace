import type { ModelEntry, PipelineModels } from '../models/manifest.js';
import { ModelLoadError, type ModelRegistry } from '../models/registry.js';
import type { ValueInfo } from '../models/session.js';
import { detectorFamily } from './detector-families.js';

const elements = (shape: ReadonlyArray<number | string>): number => shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);

/** What each family needs of a graph beyond what its manifest entry declares: the pre/post-processing depends on it. */
function familyProblems(model: ModelEntry, outputs: readonly ValueInfo[]): string[] {
  const channels = model.input.shape[1];
  const wanted = model.input.channelOrder === 'GRAY' ? 1 : 3;
  const problems = channels === wanted ? [] : [`input has ${channels} channels, ${model.input.channelOrder} needs ${wanted}`];
  if (model.input.mean.length !== 1 && model.input.mean.length !== wanted) problems.push(`mean and std need 1 or ${wanted} values`);
  const first = outputs.find((o) => o.name === model.outputs[0]?.name);
  switch (model.family) {
    case 'detector.ultraface':
    case 'detector.yunet':
    case 'detector.scrfd':
      return [...problems, ...detectorFamily(model).contractProblems(outputs)];
    case 'landmarker.68':
      if (!first || elements(first.shape) !== 136) problems.push('a 68-point landmarker has one output of 136 values (x, y per point)');
      return problems;
    case 'embedder.arcface':
      if (model.input.shape[2] !== 112 || model.input.shape[3] !== 112) problems.push('an ArcFace-style embedder takes a 112×112 aligned face');
      if (!first || elements(first.shape) < 64) problems.push('an embedder has one output of at least 64 values');
      return problems;
    case 'antispoof.classifier':
      if (!first || elements(first.shape) <= model.params.liveClassIndex) {
        problems.push(`the classifier's output has no class ${model.params.liveClassIndex} (liveClassIndex)`);
      }
      return problems;
  }
}

/** Refuses, naming the model, a pipeline whose graphs do not have what their families need. */
export function checkModelContracts(registry: ModelRegistry): void {
  const { detector, landmarker, embedder, antiSpoof }: PipelineModels = registry.pipeline;
  for (const model of [detector, landmarker, embedder, ...antiSpoof]) {
    if (!model) continue;
    const problems = familyProblems(model, registry.session(model.id).outputs);
    if (problems.length > 0) throw new ModelLoadError(`model "${model.id}" does not fit its family ${model.family}: ${problems.join('; ')}`);
  }
}
