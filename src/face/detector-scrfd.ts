/**
 * SCRFD as InsightFace exports it: for strides 8, 16, 32 (by default) the outputs are scores [N,1], then box
 * distances [N,4], then landmark offsets [N,10], in that order, with N = (W/s)·(H/s)·anchors. Distances and offsets
 * are in stride units from the anchor centre (col·s, row·s); each cell holds `anchorsPerLocation` anchors at the same
 * centre. Decoding follows insightface's scrfd.py. The image is letterboxed into the input at the top left.
 */
import type { DetectorFamily, InputDetection } from './detector.js';
import type { Point } from './geometry.js';
import type { ModelInputSpec } from './sampling.js';

export interface ScrfdSpec {
  input: ModelInputSpec;
  outputs: readonly { name: string }[];
  params: { strides: readonly number[]; anchorsPerLocation: number };
}

export function scrfdFamily(model: ScrfdSpec): DetectorFamily {
  const [, , height, width] = model.input.shape as [number, number, number, number];
  const { strides, anchorsPerLocation } = model.params;
  const names = model.outputs.map((o) => o.name);
  const levels = strides.map((stride, level) => ({
    stride,
    cols: Math.floor(width / stride),
    rows: Math.floor(height / stride),
    scores: names[level]!,
    boxes: names[level + strides.length]!,
    keypoints: names[level + 2 * strides.length]!,
  }));
  return {
    fit: 'letterbox',
    decode(outputs, threshold) {
      const found: InputDetection[] = [];
      for (const level of levels) {
        const scores = outputs[level.scores]!;
        const boxes = outputs[level.boxes]!;
        const kps = outputs[level.keypoints]!;
        const count = level.rows * level.cols * anchorsPerLocation;
        for (let index = 0; index < count; index++) {
          const score = scores[index]!;
          if (score < threshold) continue;
          const cell = Math.floor(index / anchorsPerLocation);
          const cx = (cell % level.cols) * level.stride;
          const cy = Math.floor(cell / level.cols) * level.stride;
          const s = level.stride;
          const keypoints: Point[] = [];
          for (let n = 0; n < 5; n++) keypoints.push([cx + kps[10 * index + 2 * n]! * s, cy + kps[10 * index + 2 * n + 1]! * s]);
          found.push({
            score,
            box: { x1: cx - boxes[4 * index]! * s, y1: cy - boxes[4 * index + 1]! * s, x2: cx + boxes[4 * index + 2]! * s, y2: cy + boxes[4 * index + 3]! * s },
            keypoints,
          });
        }
      }
      return found;
    },
    contractProblems(outputs) {
      if (outputs.length !== 3 * strides.length) {
        return [`an SCRFD detector with landmarks has ${3 * strides.length} outputs (scores, boxes, landmarks per stride), the graph has ${outputs.length}`];
      }
      const problems: string[] = [];
      for (const level of levels) {
        const count = level.rows * level.cols * anchorsPerLocation;
        for (const [name, size] of [[level.scores, 1], [level.boxes, 4], [level.keypoints, 10]] as const) {
          const output = outputs.find((o) => o.name === name)!;
          const elements = output.shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);
          if (elements !== count * size) problems.push(`output "${name}" has [${output.shape.join(',')}], expected ${count}×${size} at stride ${level.stride}`);
        }
      }
      return problems;
    },
  };
}
