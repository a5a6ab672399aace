import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Response } from 'express';
import { ServiceError } from '../../src/errors.js';
import { sendJson } from '../../src/http/json.js';

/** What sendJson sends, through a stand-in for express's response. */
function sent(value: unknown, maxBytes: number): string {
  let text = '';
  const res = { set: () => res, send: (body: Buffer) => void (text = body.toString('utf8')) } as unknown as Response;
  sendJson(res, value, maxBytes);
  return text;
}

const tooLarge = (error: unknown): boolean => error instanceof ServiceError && error.kind === 'too-large';

describe('sendJson', () => {
  it('sends the text JSON.stringify gives, whatever the nesting, holes and escapes', () => {
    const values: unknown[] = [
      { results: Array.from({ length: 5000 }, (_, i) => ({ filename: `t_${i}.bin`, score: i / 7, decision: 'declined' })) },
      { a: [1, undefined, { b: [[], [[1]], 'x\u0001é'] }], skipped: undefined, nothing: null, bytes: Buffer.from('hi'), date: new Date(0), own: { toJSON: () => 'own' } },
      [],
      [[], {}],
      'text',
      0.1,
      null,
    ];
    for (const value of values) assert.equal(sent(value, 10_000_000), JSON.stringify(value));
  });

  it('refuses an answer over the limit as too large, counting bytes, not characters', () => {
    const answer = { results: Array.from({ length: 1000 }, (_, i) => ({ filename: `t_${i}.bin` })) };
    const length = JSON.stringify(answer).length;
    assert.equal(sent(answer, length), JSON.stringify(answer));
    assert.throws(() => sent(answer, length - 1), tooLarge);
    assert.throws(() => sent({ name: 'é'.repeat(100) }, 150), tooLarge);
  });

  it('stops writing an answer that repeats past the limit before building it whole', () => {
    const media = { meta_data: { note: 'x'.repeat(1000) } };
    const analyses = Array.from({ length: 100_000 }, () => ({ source_media: [media, media, media] }));
    assert.throws(() => sent({ analyses }, 64 * 1024), (error: unknown) => tooLarge(error) && /more than 65536/.test((error as Error).message));
  });
});
