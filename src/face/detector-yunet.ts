/**
 * YuNet (libfacedetection; OpenCV's FaceDetectorYN): per stride s, outputs `cls_s` and `obj_s` [1,N,1],
 * `bbox_s` [1,N,4] and `kps_s` [1,N,10] over a grid of N = (W/s)·(H/s) cells. Score = √(cls·obj); the box centre is
 * (cell + offset)·s and its size exp(log-size)·s; the five points are (cell + offset)·s. Decoding follows OpenCV's
 * face_detect.cpp. The image is letterboxed into the input.
 */
import type { DetectorFamily, InputDetection } from './detector.js';
import type { Point } from './geometry.js';
import type { ModelInputSpec } from './sampling.js';

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

export function yunetFamily(model: { input: ModelInputSpec; params: { strides: readonly number[] } }): DetectorFamily {
  const [, , height, width] = model.input.shape as [number, number, number, number];
  const grids = model.params.strides.map((stride) => ({ stride, cols: Math.floor(width / stride), rows: Math.floor(height / stride) }));
  return {
    fit: 'letterbox',
    decode(outputs, threshold) {
      const found: InputDetection[] = [];
      for (const { stride, cols, rows } of grids) {
        const cls = outputs[`cls_${stride}`]!;
        const obj = outputs[`obj_${stride}`]!;
        const bbox = outputs[`bbox_${stride}`]!;
        const kps = outputs[`kps_${stride}`]!;
        for (let index = 0; index < rows * cols; index++) {
          const score = Math.sqrt(clamp01(cls[index]!) * clamp01(obj[index]!));
          if (score < threshold) continue;
          const row = Math.floor(index / cols);
          const col = index % cols;
          const cx = (col + bbox[4 * index]!) * stride;
          const cy = (row + bbox[4 * index + 1]!) * stride;
          const w = Math.exp(bbox[4 * index + 2]!) * stride;
          const h = Math.exp(bbox[4 * index + 3]!) * stride;
          const keypoints: Point[] = [];
          for (let n = 0; n < 5; n++) keypoints.push([(kps[10 * index + 2 * n]! + col) * stride, (kps[10 * index + 2 * n + 1]! + row) * stride]);
          found.push({ score, box: { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 }, keypoints });
        }
      }
      return found;
    },
    contractProblems(outputs) {
      const problems: string[] = [];
      for (const { stride, cols, rows } of grids) {
        for (const [prefix, size] of [['cls', 1], ['obj', 1], ['bbox', 4], ['kps', 10]] as const) {
          const output = outputs.find((o) => o.name === `${prefix}_${stride}`);
          const elements = output?.shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);
          if (!output) problems.push(`a YuNet detector has an output "${prefix}_${stride}"`);
          else if (elements !== rows * cols * size) {
            problems.push(`"${prefix}_${stride}" has [${output.shape.join(',')}], expected ${rows * cols}×${size} for a ${width}×${height} input`);
          }
        }
      }
      return problems;
    },
  };
}
