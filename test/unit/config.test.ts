import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, settingDocs } from '../../src/config.js';

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
    const config = loadConfig({ PORT: '9000', LOG_LEVEL: 'debug', FACE_COMPARABLE_RATIO: '0.6', MIRRORED_EMBEDDING: 'true', HOST: ' ::1 ' });
    assert.equal(config.port, 9000);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.faceComparableRatio, 0.6);
    assert.equal(config.mirroredEmbedding, true);
    assert.equal(config.host, '::1');
  });

  it('takes a variable set to the empty string as unset', () => {
    assert.deepEqual(loadConfig({ PORT: '', TEMPLATE_KEYS: '', LOG_LEVEL: '' }), loadConfig({}));
  });

  it('refuses a decline threshold above the approve threshold', () => {
    assert.throws(() => loadConfig({ MATCH_APPROVE_THRESHOLD: '0.6', MATCH_DECLINE_THRESHOLD: '0.7' }), /MATCH_DECLINE_THRESHOLD/);
    assert.throws(() => loadConfig({ MATCH_DECLINE_THRESHOLD: '0.9' }), /MATCH_DECLINE_THRESHOLD: must not exceed MATCH_APPROVE_THRESHOLD/);
  });

  it('reports every invalid setting at once', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', MAX_IMAGE_BYTES: '-1', FACE_COMPARABLE_RATIO: '3' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        ['PORT', 'LOG_LEVEL', 'MAX_IMAGE_BYTES', 'FACE_COMPARABLE_RATIO'].every((name) => error.message.includes(name)),
    );
  });

  it('says what is wrong with each value, one line each', () => {
    const problems: Record<string, [value: string, message: string]> = {
      PORT: ['eighty', '"eighty" is not a whole number'],
      LOG_LEVEL: ['loud', '"loud" is not one of fatal, error, warn, info, debug, trace, silent'],
      MAX_QUEUED_REQUESTS: ['100001', '100001 is outside 0..100000'],
      FACE_COMPARABLE_RATIO: ['3', '3 is outside 0.05..1'],
      MATCH_APPROVE_THRESHOLD: ['high', '"high" is not a number'],
      MIRRORED_EMBEDDING: ['yes', '"yes" is not true or false'],
      TEMPLATE_KEYS: ['short', 'every key needs at least 32 characters'],
      FFMPEG_PATH: ['/no/such/ffmpeg', '/no/such/ffmpeg does not exist'],
    };
    const env = Object.fromEntries(Object.entries(problems).map(([name, [value]]) => [name, value]));
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const lines = error.message.split('\n').slice(1).sort();
        assert.deepEqual(lines, Object.entries(problems).map(([name, [, message]]) => `  - ${name}: ${message}`).sort());
        return true;
      },
    );
  });
});

describe('the settings', () => {
  it('give each variable one setting', () => {
    const envs = settingDocs.map((s) => s.env);
    assert.deepEqual([...new Set(envs)], envs);
  });

  it('name bounds subject first, but for the names that came before the rule', () => {
    const earlier = [
      'MAX_IMAGE_BYTES',
      'MAX_IMAGE_PIXELS',
      'MAX_DECODED_PIXELS',
      'MAX_IMAGE_ASPECT_RATIO',
      'MAX_JPEG_SCANS',
      'MAX_REQUEST_BYTES',
      'MAX_TEMPLATES_PER_REQUEST',
      'MAX_IMAGES_PER_REQUEST',
      'MAX_MEDIA_BYTES',
      'MAX_RESPONSE_BYTES',
      'MAX_CONCURRENT_REQUESTS',
      'MAX_QUEUED_REQUESTS',
      'MAX_INFLIGHT_BODY_BYTES',
    ];
    const leading = settingDocs.map((s) => s.env).filter((env) => /^(MAX|MIN)_/.test(env));
    assert.deepEqual(leading, earlier);
  });

  it('accept their own defaults', () => {
    const defaults = loadConfig({});
    for (const { key, env, defaultValue } of settingDocs) {
      // Defaults that depend on the machine or the checkout are documented in words, not as a value.
      if (String(defaults[key]) !== defaultValue) continue;
      assert.deepEqual(loadConfig({ [env]: defaultValue })[key], defaults[key], env);
    }
  });
});
