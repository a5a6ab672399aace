import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeTemplate, TEMPLATE_HEADER_BYTES } from '../../src/biometry/template.js';
import { needsData, readData } from '../helpers/data.js';
import { postMultipart, type RawPart } from '../helpers/multipart.js';
import { expectError, postImage, type TestService, startService } from '../helpers/service.js';

interface MatchBody {
  score: number;
  decision: 'approved' | 'operator_required' | 'declined';
}

const photos = {
  sharon1: 'faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg',
  sharon2: 'faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0002.jpg',
  obama1: 'faces/face_recognition_examples/barack_obama/obama.jpg',
  obama2: 'faces/face_recognition_examples/barack_obama/obama2.jpg',
  biden: 'faces/face_recognition_examples/joe_biden/biden.jpg',
  kit: 'faces/face_recognition_examples/kit_harington/john1.jpeg',
  group: 'multi_face/face_recognition/two_people.jpg',
  noFace: 'no_face/skimage/coffee.png',
} as const;

const templatePart = (name: string, body: Uint8Array | string, filename?: string): RawPart => ({
  name,
  body,
  contentType: 'application/octet-stream',
  ...(filename ? { filename } : {}),
});
const imagePart = (name: string, body: Uint8Array | string, filename?: string): RawPart => ({
  name,
  body,
  contentType: 'image/jpeg',
  ...(filename ? { filename } : {}),
});

describe('matching methods', needsData, () => {
  let service: TestService;
  const templates = new Map<string, Buffer>();
  const images = new Map<string, Buffer>();
  const url = (method: string): string => `${service.url}/v1/face/pattern/${method}`;

  before(async () => {
    service = await startService();
    for (const [key, file] of Object.entries(photos)) {
      const bytes = await readData(file);
      images.set(key, bytes);
      if (key === 'group' || key === 'noFace') continue;
      const response = await postImage(url('extract'), bytes, 'image/jpeg');
      assert.equal(response.status, 200, file);
      templates.set(key, Buffer.from(await response.arrayBuffer()));
    }
  });
  after(() => service.close());

  const t = (key: keyof typeof photos): Buffer => templates.get(key)!;
  const img = (key: keyof typeof photos): Buffer => images.get(key)!;

  describe('compare', () => {
    it('approves two photos of one person and declines two people', async () => {
      const same = (await (await postMultipart(url('compare'), [templatePart('bio_feature', t('obama1')), templatePart('bio_template', t('obama2'))])).json()) as MatchBody;
      assert.equal(same.decision, 'approved', JSON.stringify(same));
      const different = (await (await postMultipart(url('compare'), [templatePart('bio_feature', t('obama1')), templatePart('bio_template', t('biden'))])).json()) as MatchBody;
      assert.equal(different.decision, 'declined', JSON.stringify(different));
      assert.ok(different.score < same.score);
    });

    it('scores identical templates exactly 1.0', async () => {
      const response = await postMultipart(url('compare'), [templatePart('bio_feature', t('kit')), templatePart('bio_template', t('kit'))]);
      assert.deepEqual(await response.json(), { score: 1, decision: 'approved' });
    });

    it('takes parts without filename or Content-Type, as the published examples send them', async () => {
      const response = await postMultipart(url('compare'), [
        { name: 'bio_feature', body: t('sharon1') },
        { name: 'bio_template', body: t('sharon2') },
      ]);
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as MatchBody).decision, 'approved');
    });

    it('agrees between binary and base64 transfer', async () => {
      const binary = await (await postMultipart(url('compare'), [templatePart('bio_feature', t('sharon1')), templatePart('bio_template', t('kit'))])).json();
      const base64 = await (
        await postMultipart(
          url('compare'),
          [templatePart('bio_feature', t('sharon1').toString('base64')), templatePart('bio_template', t('kit').toString('base64'))],
          { 'content-transfer-encoding': 'base64' },
        )
      ).json();
      assert.deepEqual(base64, binary);
    });
  });

  describe('verify', () => {
    it('answers multipart/form-data with a score part and the sample template, readable by a standard parser', async () => {
      const response = await postMultipart(url('verify'), [imagePart('sample', img('sharon2')), templatePart('bio_template', t('sharon1'))]);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^multipart\/form-data; boundary=/);
      const form = await response.formData();
      const score = JSON.parse(form.get('score') as string) as MatchBody;
      assert.equal(score.decision, 'approved');
      const feature = form.get('bio_feature') as Blob;
      assert.deepEqual(Buffer.from(await feature.arrayBuffer()), t('sharon2'));
    });

    it('returns the template in base64 when asked', async () => {
      const response = await postMultipart(
        url('verify'),
        [imagePart('sample', img('sharon2').toString('base64')), templatePart('bio_template', t('sharon1').toString('base64'))],
        { 'content-transfer-encoding': 'base64' },
      );
      const form = await response.formData();
      const feature = form.get('bio_feature') as Blob;
      assert.deepEqual(Buffer.from(await feature.text(), 'base64'), t('sharon2'));
      assert.equal((JSON.parse(form.get('score') as string) as MatchBody).decision, 'approved');
    });
  });

  describe('extract_and_compare', () => {
    it('approves one person and declines two', async () => {
      const same = (await (await postMultipart(url('extract_and_compare'), [imagePart('sample_1', img('obama1')), imagePart('sample_2', img('obama2'))])).json()) as MatchBody;
      assert.equal(same.decision, 'approved');
      const different = (await (await postMultipart(url('extract_and_compare'), [imagePart('sample_1', img('obama1')), imagePart('sample_2', img('kit'))])).json()) as MatchBody;
      assert.equal(different.decision, 'declined');
    });

    it('names the sample without a face', async () => {
      const body = await expectError(
        await postMultipart(url('extract_and_compare'), [imagePart('sample_1', img('obama1')), { name: 'sample_2', contentType: 'image/png', body: img('noFace') }]),
        400,
        'BPE-003002',
      );
      assert.match(body.message, /sample_2/);
    });
  });

  describe('1:N', () => {
    const gallery = ['sharon1', 'biden', 'obama2', 'kit'] as const;

    it('compare_n returns every filename in request order with the right best match', async () => {
      const response = await postMultipart(url('compare_n'), [
        templatePart('template_1', t('obama1')),
        ...gallery.map((key) => templatePart('templates_n', t(key), `${key}.template`)),
      ]);
      const { results } = (await response.json()) as { results: (MatchBody & { filename: string })[] };
      assert.deepEqual(results.map((r) => r.filename), gallery.map((key) => `${key}.template`));
      const best = results.reduce((a, b) => (b.score > a.score ? b : a));
      assert.equal(best.filename, 'obama2.template');
      assert.deepEqual(results.map((r) => r.decision), ['declined', 'declined', 'approved', 'declined']);
    });

    it('verify_n matches a photo against templates', async () => {
      const response = await postMultipart(url('verify_n'), [
        imagePart('sample_1', img('sharon2')),
        ...gallery.map((key) => templatePart('templates_n', t(key), `${key}.bin`)),
      ]);
      const { results } = (await response.json()) as { results: (MatchBody & { filename: string })[] };
      assert.deepEqual(results.map((r) => r.decision), ['approved', 'declined', 'declined', 'declined']);
    });

    it('extract_and_compare_n matches a photo against photos, with base64 giving the same answer', async () => {
      const parts = (encode: (b: Buffer) => Buffer | string): RawPart[] => [
        imagePart('sample_1', encode(img('obama2'))),
        ...(['sharon1', 'obama1', 'biden'] as const).map((key) => imagePart('samples_n', encode(img(key)), `${key}.jpg`)),
      ];
      const binary = (await (await postMultipart(url('extract_and_compare_n'), parts((b) => b))).json()) as { results: (MatchBody & { filename: string })[] };
      assert.deepEqual(binary.results.map((r) => [r.filename, r.decision]), [
        ['sharon1.jpg', 'declined'],
        ['obama1.jpg', 'approved'],
        ['biden.jpg', 'declined'],
      ]);
      const base64 = await (await postMultipart(url('extract_and_compare_n'), parts((b) => b.toString('base64')), { 'content-transfer-encoding': 'base64' })).json();
      assert.deepEqual(base64, binary);
    });

    it('compare_n takes 10,000 templates in one request', async () => {
      const parts: RawPart[] = [templatePart('template_1', t('kit'))];
      const others = ['sharon1', 'biden', 'obama2'] as const;
      for (let i = 0; i < 10_000; i++) parts.push(templatePart('templates_n', i === 7777 ? t('kit') : t(others[i % 3]!), `${i}.template`));
      const response = await postMultipart(url('compare_n'), parts);
      assert.equal(response.status, 200);
      const { results } = (await response.json()) as { results: (MatchBody & { filename: string })[] };
      assert.equal(results.length, 10_000);
      assert.deepEqual(results[7777], { filename: '7777.template', score: 1, decision: 'approved' });
      assert.equal(results.filter((r) => r.decision === 'approved').length, 1);
    });
  });

  describe('errors', () => {
    it('BPE-002001 when the request is not multipart/form-data with a boundary', async () => {
      for (const contentType of ['application/json', 'multipart/form-data', 'image/jpeg']) {
        await expectError(await fetch(url('compare'), { method: 'POST', body: 'x', headers: { 'content-type': contentType } }), 400, 'BPE-002001');
      }
    });

    it('BPE-002004 / BPE-002003 naming a missing template or image part', async () => {
      const missingTemplate = await expectError(await postMultipart(url('compare'), [templatePart('bio_feature', t('kit'))]), 400, 'BPE-002004');
      assert.match(missingTemplate.message, /bio_template/);
      await expectError(await postMultipart(url('verify'), [templatePart('bio_template', t('kit'))]), 400, 'BPE-002003');
      await expectError(await postMultipart(url('compare_n'), [templatePart('template_1', t('kit'))]), 400, 'BPE-002004');
      await expectError(await postMultipart(url('extract_and_compare_n'), [imagePart('sample_1', img('kit'))]), 400, 'BPE-002003');
    });

    it('BPE-002007 for misnamed, unknown and duplicated parts, and templates_n without a filename', async () => {
      await expectError(await postMultipart(url('compare'), [templatePart('bio_featur', t('kit')), templatePart('bio_template', t('kit'))]), 400, 'BPE-002007');
      await expectError(await postMultipart(url('compare'), [templatePart('bio_feature', t('kit')), templatePart('bio_template', t('kit')), templatePart('extra', t('kit'))]), 400, 'BPE-002007');
      await expectError(await postMultipart(url('compare'), [templatePart('bio_feature', t('kit')), templatePart('bio_feature', t('kit')), templatePart('bio_template', t('kit'))]), 400, 'BPE-002007');
      await expectError(await postMultipart(url('compare_n'), [templatePart('template_1', t('kit')), templatePart('templates_n', t('kit'))]), 400, 'BPE-002007');
    });

    it('BPE-002005 for parts declared with a wrong Content-Type', async () => {
      await expectError(await postMultipart(url('compare'), [{ name: 'bio_feature', contentType: 'image/jpeg', filename: 'a', body: t('kit') }, templatePart('bio_template', t('kit'))]), 400, 'BPE-002005');
      await expectError(await postMultipart(url('verify'), [{ name: 'sample', contentType: 'application/json', filename: 'a.json', body: img('kit') }, templatePart('bio_template', t('kit'))]), 400, 'BPE-002005');
    });

    it('BPE-002004 for templates of another model, another version, truncated or with NaN, naming the item', async () => {
      const otherModel = encodeTemplate(new Float32Array(512).fill(1 / Math.sqrt(512)), { embedderSha256: 'a'.repeat(64), dimension: 512 });
      const otherVersion = Buffer.from(t('kit'));
      otherVersion[4] = 9;
      const withNaN = Buffer.from(t('kit'));
      withNaN.writeFloatLE(Number.NaN, TEMPLATE_HEADER_BYTES);
      for (const bad of [otherModel, otherVersion, t('kit').subarray(0, 1000), withNaN, Buffer.from('garbage')]) {
        await expectError(await postMultipart(url('compare'), [templatePart('bio_feature', t('kit')), templatePart('bio_template', bad)]), 400, 'BPE-002004');
      }
      const named = await expectError(
        await postMultipart(url('compare_n'), [templatePart('template_1', t('kit')), templatePart('templates_n', t('kit'), 'good.bin'), templatePart('templates_n', withNaN, 'bad.bin')]),
        400,
        'BPE-002004',
      );
      assert.match(named.message, /template 2 \("bad.bin"\)/);
    });

    it('BPE-002003 for parts that are not images, BPE-003002 / BPE-003003 for samples without one person', async () => {
      await expectError(await postMultipart(url('verify'), [imagePart('sample', 'not an image'), templatePart('bio_template', t('kit'))]), 400, 'BPE-002003');
      await expectError(await postMultipart(url('verify'), [{ name: 'sample', contentType: 'image/png', body: img('noFace') }, templatePart('bio_template', t('kit'))]), 400, 'BPE-003002');
      await expectError(await postMultipart(url('verify_n'), [imagePart('sample_1', img('group')), templatePart('templates_n', t('kit'), 'k')]), 400, 'BPE-003003');
    });

    it('takes exactly the per-request count of images', async () => {
      const parts: RawPart[] = [imagePart('sample_1', img('kit'))];
      for (let i = 0; i < service.config.maxImagesPerRequest; i++) parts.push(imagePart('samples_n', img('kit'), `${i}.jpg`));
      const response = await postMultipart(url('extract_and_compare_n'), parts);
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { results: unknown[] }).results.length, service.config.maxImagesPerRequest);
    });

    it('names the part of a 1:1 comparison whose template cannot be read', async () => {
      const body = await expectError(await postMultipart(url('compare'), [templatePart('bio_feature', t('kit')), templatePart('bio_template', 'garbage')]), 400, 'BPE-002004');
      assert.equal(body.message, 'Failed to read the biometric template: part "bio_template": the template is truncated');
    });

    it('BPE-002006 past the per-request count of images', async () => {
      const parts: RawPart[] = [imagePart('sample_1', img('kit'))];
      for (let i = 0; i < service.config.maxImagesPerRequest + 1; i++) parts.push(imagePart('samples_n', img('kit'), `${i}.jpg`));
      await expectError(await postMultipart(url('extract_and_compare_n'), parts), 413, 'BPE-002006');
    });
  });
});

describe('matching with signed templates', needsData, () => {
  it('signs templates with TEMPLATE_KEYS and refuses unsigned or tampered ones', async () => {
    const key = 'a signing key of at least thirty-two characters';
    const signing = await startService({ TEMPLATE_KEYS: key });
    const plain = await startService();
    try {
      const face = await readData(photos.sharon1);
      const signed = Buffer.from(await (await postImage(`${signing.url}/v1/face/pattern/extract`, face, 'image/jpeg')).arrayBuffer());
      assert.equal(signed.length, 2096);
      const compare = (url: string, template: Buffer): Promise<Response> =>
        postMultipart(`${url}/v1/face/pattern/compare`, [templatePart('bio_feature', signed), templatePart('bio_template', template)]);
      assert.deepEqual(await (await compare(signing.url, signed)).json(), { score: 1, decision: 'approved' });
      const unsigned = Buffer.from(await (await postImage(`${plain.url}/v1/face/pattern/extract`, face, 'image/jpeg')).arrayBuffer());
      await expectError(await compare(signing.url, unsigned), 400, 'BPE-002004');
      const tampered = Buffer.from(signed);
      tampered.writeFloatLE(0, TEMPLATE_HEADER_BYTES + 4);
      const body = await expectError(await compare(signing.url, tampered), 400, 'BPE-002004');
      assert.match(body.message, /signature does not match/);
    } finally {
      await signing.close();
      await plain.close();
    }
  });
});
