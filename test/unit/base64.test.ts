import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBase64 } from '../../src/media/base64.js';

const decode = (text: string): string | undefined => decodeBase64(Buffer.from(text, 'latin1'))?.toString('latin1');

describe('decodeBase64', () => {
  it('decodes padded and unpadded text', () => {
    assert.equal(decode('aGVsbG8='), 'hello');
    assert.equal(decode('aGVsbG8'), 'hello');
    assert.equal(decode('aGk='), 'hi');
    assert.equal(decode(''), '');
  });

  it('ignores line breaks and white space anywhere, as RFC 2045 allows', () => {
    assert.equal(decode('aGVs\r\nbG8=\r\n'), 'hello');
    assert.equal(decode(' aG Vs\tbG8= '), 'hello');
  });

  it('refuses characters outside the alphabet, including base64url', () => {
    for (const text of ['aGVs*G8=', 'aGVsbG8_', 'aGVs-G8=', 'aGVsbG8=\u00e9']) assert.equal(decode(text), undefined, text);
  });

  it('refuses misplaced or excess padding and impossible lengths', () => {
    for (const text of ['aGVs=bG8', 'aGk===', 'a===', 'aGVsbG8==', 'aGVsb']) assert.equal(decode(text), undefined, text);
  });
});
