import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientName, errorResponse, printable, SHOWN_NAME_LENGTH } from '../../src/errors.js';

describe('clientName', () => {
  it('keeps a printable name as it is, in any script', () => {
    for (const name of ['sample_1', 'photo (2).jpg', 'Ωmega-файл-写真.png', 'selfie 😀.jpg']) assert.equal(clientName(name), name);
  });

  it('shows controls, format characters, lone surrogates, private use and U+FFFD as \\u escapes', () => {
    assert.equal(clientName('a\r\nb'), 'a\\u000D\\u000Ab');
    assert.equal(clientName('\u001b[31m\u0000\u0007'), '\\u001B[31m\\u0000\\u0007');
    assert.equal(clientName('x\u202ey\u2028'), 'x\\u202Ey\\u2028');
    assert.equal(clientName('lone \ud800 and \udfff'), 'lone \\uD800 and \\uDFFF');
    assert.equal(clientName('\ue000\u{e0001}\ufffd'), '\\uE000\\u{E0001}\\uFFFD');
  });

  it('cuts to 64 characters as shown, between code points, and marks the cut', () => {
    assert.equal(clientName('n'.repeat(SHOWN_NAME_LENGTH)), 'n'.repeat(SHOWN_NAME_LENGTH));
    assert.equal(clientName('n'.repeat(SHOWN_NAME_LENGTH + 1)), `${'n'.repeat(SHOWN_NAME_LENGTH)}…`);
    // 63 characters and an emoji (a surrogate pair) fit; the pair is never split at the 64th character.
    assert.equal(clientName(`${'e'.repeat(63)}\u{1f600}tail`), `${'e'.repeat(63)}\u{1f600}…`);
    assert.equal(clientName(`${'e'.repeat(64)}\u{1f600}`), `${'e'.repeat(64)}…`);
    // An escape counts its length: a name of controls is not shown six times longer.
    const shown = clientName('\u0000'.repeat(100));
    assert.equal(shown, `${'\\u0000'.repeat(10)}…`);
  });
});

describe('error messages', () => {
  it('never carry an unprintable character, even from a detail that did not go through clientName', () => {
    const { body } = errorResponse('biometry', 'malformed-request', 'part "a\r\nInjected: 1"');
    assert.equal(body.message, 'Malformed request body: part "a\\u000D\\u000AInjected: 1"');
    assert.equal(printable('plain text…'), 'plain text…');
  });
});
