import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseFace, type FaceChoicePolicy, relevantFaceHeight } from '../../src/face/choice.js';

/** A face `height` tall centred at (cx, cy), with a face's proportions. */
const face = (id: string, height: number, cx: number, cy: number): { id: string; box: { x1: number; y1: number; x2: number; y2: number } } => ({
  id,
  box: { x1: cx - 0.4 * height, y1: cy - height / 2, x2: cx + 0.4 * height, y2: cy + height / 2 },
});
const image = { width: 1000, height: 1000 };
const dominant: FaceChoicePolicy = { mode: 'dominant', minFaceHeight: 20, comparableRatio: 0.7 };
const strict: FaceChoicePolicy = { ...dominant, mode: 'strict' };

describe('chooseFace', () => {
  it('finds no face in an empty list or among faces under the minimum size', () => {
    assert.deepEqual(chooseFace([], image, dominant), { kind: 'none' });
    assert.deepEqual(chooseFace([face('tiny', 15, 500, 500)], image, dominant), { kind: 'none' });
  });

  it('picks the tallest framed face', () => {
    const choice = chooseFace([face('b', 60, 200, 500), face('a', 200, 500, 500)], image, dominant);
    assert.equal(choice.kind === 'one' && choice.face.id, 'a');
  });

  it('accepts a smaller person behind the subject: a bystander under the comparable ratio', () => {
    const choice = chooseFace([face('subject', 200, 500, 450), face('behind', 130, 780, 300)], image, dominant);
    assert.equal(choice.kind === 'one' && choice.face.id, 'subject');
  });

  it('ignores a ghost portrait at the ratios measured on the documents (0.24 to 0.39 of the holder photo)', () => {
    for (const [holder, ghost] of [[126, 40], [111, 27], [57, 22]] as const) {
      assert.equal(chooseFace([face('holder', holder, 300, 500), face('ghost', ghost, 700, 500)], image, dominant).kind, 'one');
    }
  });

  it('ignores a face cut by the side of the frame, however tall, and takes the framed one', () => {
    const choice = chooseFace([face('cut', 260, 60, 500), face('subject', 240, 500, 500)], image, dominant);
    assert.equal(choice.kind === 'one' && choice.face.id, 'subject');
  });

  it('ignores a box overlapping the subject: a head behind it, or a box straddling two faces', () => {
    const choice = chooseFace([face('subject', 200, 500, 500), face('overlapping', 190, 600, 480)], image, dominant);
    assert.equal(choice.kind === 'one' && choice.face.id, 'subject');
  });

  it('reports several people when a framed face beside the subject is as prominent: a couple, a group', () => {
    assert.deepEqual(chooseFace([face('a', 200, 300, 400), face('b', 170, 700, 420)], image, dominant), { kind: 'several', count: 2 });
    assert.deepEqual(chooseFace([face('a', 100, 200, 500), face('b', 90, 500, 500), face('c', 80, 800, 500)], image, dominant), { kind: 'several', count: 3 });
  });

  it('takes a face cut by the frame when it is the only one', () => {
    const choice = chooseFace([face('cut', 200, 50, 500)], image, dominant);
    assert.equal(choice.kind === 'one' && choice.face.id, 'cut');
  });

  it('in strict mode counts every face of a describable size, wherever it is', () => {
    assert.deepEqual(chooseFace([face('subject', 200, 500, 450), face('behind', 30, 900, 100)], image, strict), { kind: 'several', count: 2 });
    assert.deepEqual(chooseFace([face('subject', 200, 500, 450), face('tiny', 15, 900, 100)], image, strict).kind, 'one');
  });
});

describe('relevantFaceHeight', () => {
  it('is the comparable share of a framed subject: smaller faces change nothing', () => {
    assert.equal(relevantFaceHeight(dominant, image)([face('subject', 200, 500, 500)]), 140);
  });

  it('is the minimum face height when nothing framed was found yet, and always in strict mode', () => {
    assert.equal(relevantFaceHeight(dominant, image)([]), 20);
    assert.equal(relevantFaceHeight(dominant, image)([face('cut', 200, 50, 500)]), 20);
    assert.equal(relevantFaceHeight(strict, image)([face('subject', 200, 500, 500)]), 20);
  });
});
