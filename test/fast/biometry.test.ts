import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { drawScene, type DrawnFace, type Person } from '../helpers/fake-models.js';
import { startFastService } from '../helpers/fast-service.js';
import { postMultipart, type RawPart } from '../helpers/multipart.js';
import { expectError, postImage, type TestService } from '../helpers/service.js';

interface MatchBody {
  score: number;
  decision: 'approved' | 'operator_required' | 'declined';
}

const WIDTH = 400;
const HEIGHT = 300;
const portrait = (person: Person, place: Partial<DrawnFace> = {}): Promise<Buffer> => drawScene(WIDTH, HEIGHT, [{ person, x: 200, y: 150, radius: 70, ...place }]);

const template = (name: string, body: Uint8Array | string, filename?: string): RawPart => ({ name, body, contentType: 'application/octet-stream', ...(filename ? { filename } : {}) });
const image = (name: string, body: Uint8Array | string, filename?: string): RawPart => ({ name, body, contentType: 'image/jpeg', ...(filename ? { filename } : {}) });

describe('biometry over fake models (fast tier)', () => {
  let service: TestService;
  const url = (method: string): string => `${service.url}/v1/face/pattern/${method}`;
  const photos = new Map<string, Buffer>();
  const templates = new Map<string, Buffer>();
  const extract = async (photo: Buffer): Promise<Buffer> => {
    const response = await postImage(url('extract'), photo, 'image/jpeg');
    assert.equal(response.status, 200, await response.clone().text());
    return Buffer.from(await response.arrayBuffer());
  };

  before(async () => {
    service = await startFastService();
    photos.set('ada', await portrait('ada'));
    photos.set('ada2', await portrait('ada', { x: 170, y: 160, radius: 55 }));
    photos.set('bob', await portrait('bob', { x: 230, y: 140 }));
    photos.set('eve', await portrait('eve'));
    for (const [key, photo] of photos) templates.set(key, await extract(photo));
  });
  after(() => service.close());

  const t = (key: string): Buffer => templates.get(key)!;
  const compare = async (a: string, b: string): Promise<MatchBody> =>
    (await (await postMultipart(url('compare'), [template('bio_feature', t(a)), template('bio_template', t(b))])).json()) as MatchBody;

  it('extracts a template of the service format, and the same photo gives the same template', async () => {
    assert.equal(t('ada').length, t('bob').length);
    assert.ok(t('ada').length > 64, `template of ${t('ada').length} bytes`);
    assert.deepEqual(await extract(photos.get('ada')!), t('ada'));
  });

  it('approves one person photographed twice and declines two people', async () => {
    const same = await compare('ada', 'ada2');
    assert.equal(same.decision, 'approved', JSON.stringify(same));
    const different = await compare('ada', 'bob');
    assert.equal(different.decision, 'declined', JSON.stringify(different));
    assert.deepEqual(await compare('eve', 'eve'), { score: 1, decision: 'approved' });
  });

  it('refuses a photo without a face (BPE-003002) and one of two people alike (BPE-003003)', async () => {
    await expectError(await postImage(url('extract'), await drawScene(WIDTH, HEIGHT, []), 'image/jpeg'), 400, 'BPE-003002');
    const pair = await drawScene(WIDTH, HEIGHT, [
      { person: 'ada', x: 110, y: 150, radius: 60 },
      { person: 'bob', x: 290, y: 150, radius: 60 },
    ]);
    await expectError(await postImage(url('extract'), pair, 'image/jpeg'), 400, 'BPE-003003');
  });

  it('chooses the dominant face when a bystander is much smaller', async () => {
    const scene = await drawScene(WIDTH, HEIGHT, [
      { person: 'ada', x: 150, y: 160, radius: 80 },
      { person: 'bob', x: 340, y: 60, radius: 24 },
    ]);
    templates.set('crowd', await extract(scene));
    assert.equal((await compare('crowd', 'ada')).decision, 'approved');
    assert.equal((await compare('crowd', 'bob')).decision, 'declined');
  });

  it('verifies a photo against a template, answering the photo template and the score', async () => {
    const response = await postMultipart(url('verify'), [image('sample', photos.get('ada2')!), template('bio_template', t('ada'))]);
    assert.equal(response.status, 200);
    const form = await response.formData();
    assert.equal((JSON.parse(form.get('score') as string) as MatchBody).decision, 'approved');
    assert.deepEqual(Buffer.from(await (form.get('bio_feature') as Blob).arrayBuffer()), t('ada2'));
  });

  it('compares one template with many, in order, approving only the same person', async () => {
    const gallery = ['bob', 'ada2', 'eve'];
    const response = await postMultipart(url('compare_n'), [template('template_1', t('ada')), ...gallery.map((key) => template('templates_n', t(key), `${key}.bin`))]);
    const { results } = (await response.json()) as { results: (MatchBody & { filename: string })[] };
    assert.deepEqual(
      results.map((r) => [r.filename, r.decision]),
      [
        ['bob.bin', 'declined'],
        ['ada2.bin', 'approved'],
        ['eve.bin', 'declined'],
      ],
    );
  });

  it('verifies a photo against many templates, and compares photos with photos', async () => {
    const verified = (await (
      await postMultipart(url('verify_n'), [image('sample_1', photos.get('bob')!), ...['ada', 'bob'].map((key) => template('templates_n', t(key), `${key}.bin`))])
    ).json()) as { results: MatchBody[] };
    assert.deepEqual(verified.results.map((r) => r.decision), ['declined', 'approved']);

    const pair = (await (await postMultipart(url('extract_and_compare'), [image('sample_1', photos.get('ada')!), image('sample_2', photos.get('ada2')!)])).json()) as MatchBody;
    assert.equal(pair.decision, 'approved');
    const many = (await (
      await postMultipart(url('extract_and_compare_n'), [image('sample_1', photos.get('eve')!), ...['ada', 'eve'].map((key) => image('samples_n', photos.get(key)!, `${key}.jpg`))])
    ).json()) as { results: (MatchBody & { filename: string })[] };
    assert.deepEqual(
      many.results.map((r) => [r.filename, r.decision]),
      [
        ['ada.jpg', 'declined'],
        ['eve.jpg', 'approved'],
      ],
    );
  });

  it('refuses a template that is not one (BPE-002004)', async () => {
    await expectError(await postMultipart(url('compare'), [template('bio_feature', t('ada')), template('bio_template', 'not a template')]), 400, 'BPE-002004');
  });
});
