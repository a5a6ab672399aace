/**
 * UltraFace (Ultra-Light-Fast-Generic-Face-Detector; the bundled fr_detect has its layout): outputs `scores` [1,N,2]
 * (background, face) and `boxes` [1,N,4] with corners normalised to the input. The image is letterboxed, not stretched
 * as upstream's demo does with 4:3 webcam frames: a portrait photo stretched to 320×240 has faces 2.4 times too wide,
 * and one pass then finds every face only from 28 input pixels instead of 18 (tools/detector-recall.ts on mosaics).
 */
import type { ModelInputSpec } from './sampling.js';
import type { DetectorFamily, InputDetection } from './detector.js';

export function ultrafaceFamily(model: { input: ModelInputSpec }): DetectorFamily {
  const [, , height, width] = model.input.shape as [number, number, number, number];
  return {
    fit: 'letterbox',
    decode(outputs, threshold) {
      const scores = outputs.scores!;
      const boxes = outputs.boxes!;
      const found: InputDetection[] = [];
      const count = scores.length / 2;
      for (let i = 0; i < count; i++) {
        const score = scores[2 * i + 1]!;
        if (score < threshold) continue;
        found.push({
          score,
          box: { x1: boxes[4 * i]! * width, y1: boxes[4 * i + 1]! * height, x2: boxes[4 * i + 2]! * width, y2: boxes[4 * i + 3]! * height },
        });
      }
      return found;
    },
    contractProblems(outputs) {
      const scores = outputs.find((o) => o.name === 'scores');
      const boxes = outputs.find((o) => o.name === 'boxes');
      if (!scores || !boxes) return ['an UltraFace detector has outputs "scores" and "boxes"'];
      const problems: string[] = [];
      if (scores.shape.at(-1) !== 2) problems.push(`"scores" must end in 2 classes, has [${scores.shape.join(',')}]`);
      if (boxes.shape.at(-1) !== 4) problems.push(`"boxes" must end in 4 coordinates, has [${boxes.shape.join(',')}]`);
      if (scores.shape.at(-2) !== boxes.shape.at(-2)) problems.push('"scores" and "boxes" hold different numbers of candidates');
      return problems;
    },
  };
}
