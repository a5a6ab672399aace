import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { median, quantile, quantileOfSorted } from '../../src/statistics.js';

describe('quantiles (one definition for the service, its tools and its benchmarks)', () => {
  it('interpolates linearly between the nearest ranks of ascending scores', () => {
    assert.equal(quantileOfSorted(Float64Array.of(1, 2, 3, 4), 0.5), 2.5);
    assert.equal(quantileOfSorted(Float64Array.of(1, 2, 3, 4), 1), 4);
    assert.equal(quantileOfSorted([10, 20, 30, 40, 50], 0.9), 46);
    assert.equal(quantileOfSorted([10, 20], 0), 10);
  });

  it('sorts values given in any order, without changing them', () => {
    const values = [40, 10, 30, 20];
    assert.equal(quantile(values, 0.25), 17.5);
    assert.deepEqual(values, [40, 10, 30, 20]);
  });

  it('gives the middle value of an odd count and the mean of the two middle values of an even count', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([7]), 7);
  });

  it('is NaN of no values', () => {
    assert.ok(Number.isNaN(median([])));
    assert.ok(Number.isNaN(quantileOfSorted(new Float64Array(0), 0.5)));
  });
});
