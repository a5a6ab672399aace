import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseFace } from '../../src/face/choice.js';

const face = (height: number, id: string): { id: string; box: { x1: number; y1: number; x2: number; y2: number } } => ({
  id,
  box: { x1: 0, y1: 0, x2: height, y2: height },
});
const policy = { minFaceHeight: 20, comparableRatio: 0.45 };

describe('chooseFace', () => {
  it('finds no face in an empty list or among faces under the minimum size', () => {
    assert.deepEqual(chooseFace([], policy), { kind: 'none' });
    assert.deepEqual(chooseFace([face(15, 'tiny')], policy), { kind: 'none' });
  });

  it('picks the largest face', () => {
    const choice = chooseFace([face(60, 'b'), face(200, 'a')], policy);
    assert.equal(choice.kind === 'one' && choice.face.id, 'a');
  });

  it('ignores a ghost portrait at the ratios measured on the documents (0.24 to 0.39 of the holder photo)', () => {
    for (const [holder, ghost] of [[126, 40], [111, 27], [57, 22]] as const) {
      assert.equal(chooseFace([face(holder, 'holder'), face(ghost, 'ghost')], policy).kind, 'one');
    }
  });

  it('reports several people when a second face is at least the comparable ratio of the largest', () => {
    assert.deepEqual(chooseFace([face(100, 'a'), face(45, 'b'), face(10, 'c')], policy), { kind: 'several', count: 2 });
    assert.deepEqual(chooseFace([face(100, 'a'), face(90, 'b'), face(80, 'c')], policy), { kind: 'several', count: 3 });
  });
});
