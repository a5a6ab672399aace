import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('gives documented defaults', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.maxImageBytes, 10 * 1024 * 1024);
    assert.equal(config.faceComparableRatio, 0.7);
    assert.equal(config.faceChoice, 'dominant');
    assert.ok(config.modelsDir.endsWith('models'));
  });

  it('reads values from the environment', () => {
    const config = loadConfig({ PORT: '9000', LOG_LEVEL: 'debug', FACE_COMPARABLE_RATIO: '0.6' });
    assert.equal(config.port, 9000);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.faceComparableRatio, 0.6);
  });

  it('refuses a decline threshold above the approve threshold', () => {
    assert.throws(() => loadConfig({ MATCH_APPROVE_THRESHOLD: '0.6', MATCH_DECLINE_THRESHOLD: '0.7' }), /MATCH_DECLINE_THRESHOLD/);
  });

  it('reports every invalid setting at once', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', MAX_IMAGE_BYTES: '-1', FACE_COMPARABLE_RATIO: '3' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        ['PORT', 'LOG_LEVEL', 'MAX_IMAGE_BYTES', 'FACE_COMPARABLE_RATIO'].every((name) => error.message.includes(name)),
    );
  });
});
