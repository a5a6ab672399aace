import { postImage } from '../../test/helpers/service.js';
import { readBenchData, templatePhotos } from './images.js';

/** Templates extracted by the service under test from real photos, one per photo. */
export async function extractTemplates(serviceUrl: string, photos: readonly string[] = templatePhotos): Promise<Buffer[]> {
  const templates: Buffer[] = [];
  for (const photo of photos) {
    const response = await postImage(`${serviceUrl}/v1/face/pattern/extract`, await readBenchData(photo), 'image/jpeg');
    if (response.status !== 200) throw new Error(`extract of ${photo}: HTTP ${response.status} ${await response.text()}`);
    templates.push(Buffer.from(await response.arrayBuffer()));
  }
  return templates;
}
