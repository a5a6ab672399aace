import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeTemplate, encodeTemplate, TEMPLATE_HEADER_BYTES, templateBytes } from '../../src/biometry/template.js';
import { ServiceError } from '../../src/errors.js';

const model = { embedderSha256: '87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581', dimension: 512 };
const otherModel = { embedderSha256: 'f'.repeat(64), dimension: 512 };

function unitVector(seed: number): Float32Array {
  const v = new Float32Array(512).map((_, i) => Math.sin(seed * 7.3 + i * 1.37));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function refusal(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => decodeTemplate(bytes, model),
    (error: unknown) => error instanceof ServiceError && error.kind === 'template-unreadable' && pattern.test(error.detail ?? ''),
  );
}

describe('template codec', () => {
  it('round-trips the embedding exactly, in 16 + 4·512 = 2064 bytes', () => {
    const embedding = unitVector(1);
    const bytes = encodeTemplate(embedding, model);
    assert.equal(bytes.length, 2064);
    assert.equal(templateBytes(model), 2064);
    assert.deepEqual(decodeTemplate(bytes, model), embedding);
  });

  it('writes the documented header', () => {
    const bytes = encodeTemplate(unitVector(2), model);
    assert.equal(bytes.subarray(0, 4).toString('ascii'), 'FBT1');
    assert.equal(bytes[4], 1);
    assert.equal(bytes[5], 0);
    assert.equal(bytes.readUInt16LE(6), 512);
    assert.equal(bytes.subarray(8, 16).toString('hex'), model.embedderSha256.slice(0, 16));
  });

  it('refuses an empty or truncated template', () => {
    const bytes = encodeTemplate(unitVector(3), model);
    refusal(new Uint8Array(0), /empty/);
    refusal(bytes.subarray(0, 10), /truncated/);
    refusal(bytes.subarray(0, bytes.length - 4), /truncated/);
    refusal(Buffer.concat([bytes, Buffer.from([0])]), /trailing/);
  });

  it('refuses wrong magic, another format version, unknown flags, another model and another dimension', () => {
    const good = encodeTemplate(unitVector(4), model);
    const patched = (offset: number, value: number): Buffer => {
      const copy = Buffer.from(good);
      copy[offset] = value;
      return copy;
    };
    refusal(patched(0, 0x58), /not a template/);
    refusal(patched(4, 2), /format version 2/);
    refusal(patched(5, 2), /flags/);
    refusal(patched(5, 1), /truncated/);
    refusal(encodeTemplate(unitVector(4), otherModel), /another face model/);
    const wrongDimension = Buffer.from(good);
    wrongDimension.writeUInt16LE(128, 6);
    refusal(wrongDimension, /dimension 128/);
  });

  it('refuses NaN, infinite and non-unit values', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const bytes = encodeTemplate(unitVector(5), model);
      bytes.writeFloatLE(bad, TEMPLATE_HEADER_BYTES + 40);
      refusal(bytes, /finite/);
    }
    refusal(encodeTemplate(unitVector(6).map((v) => v * 2), model), /unit vector/);
  });

  it('refuses to encode an embedding of the wrong length', () => {
    assert.throws(() => encodeTemplate(new Float32Array(10), model), RangeError);
  });
});

describe('signed templates', () => {
  const oldKey = Buffer.from('an old key of at least thirty-two characters');
  const newKey = Buffer.from('the new key, also thirty-two characters or more');
  const signing = { ...model, signingKeys: [newKey, oldKey] };

  it('carry an HMAC-SHA256 after the values: 2096 bytes, flag bit 0 set', () => {
    const bytes = encodeTemplate(unitVector(7), signing);
    assert.equal(bytes.length, 2096);
    assert.equal(bytes[5], 1);
    assert.deepEqual(decodeTemplate(bytes, signing), unitVector(7));
  });

  it('verify with any configured key, so keys can rotate', () => {
    const signedWithOld = encodeTemplate(unitVector(8), { ...model, signingKeys: [oldKey] });
    assert.deepEqual(decodeTemplate(signedWithOld, signing), unitVector(8));
    assert.throws(() => decodeTemplate(signedWithOld, { ...model, signingKeys: [newKey] }), /signature does not match/);
  });

  it('refuse a tampered value, a tampered signature and an unsigned template when keys are configured', () => {
    const tamperedValue = encodeTemplate(unitVector(9), signing);
    tamperedValue.writeFloatLE(-tamperedValue.readFloatLE(TEMPLATE_HEADER_BYTES + 8), TEMPLATE_HEADER_BYTES + 8);
    assert.throws(() => decodeTemplate(tamperedValue, signing), /signature does not match/);
    const tamperedSignature = encodeTemplate(unitVector(9), signing);
    tamperedSignature.writeUInt8(tamperedSignature.readUInt8(2095) ^ 1, 2095);
    assert.throws(() => decodeTemplate(tamperedSignature, signing), /signature does not match/);
    assert.throws(() => decodeTemplate(encodeTemplate(unitVector(9), model), signing), /not signed/);
    assert.throws(() => decodeTemplate(encodeTemplate(unitVector(9), signing).subarray(0, 2080), signing), /truncated/);
  });

  it('are read without checking the signature where no key is configured', () => {
    assert.deepEqual(decodeTemplate(encodeTemplate(unitVector(10), signing), model), unitVector(10));
  });
});
