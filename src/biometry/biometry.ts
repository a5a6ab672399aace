import { ServiceError } from '../errors.js';
import { chooseFace, type FaceChoicePolicy } from '../face/choice.js';
import type { FacePipeline } from '../face/pipeline.js';
import { type DecodeLimits, decodeImage } from '../media/image.js';
import { encodeTemplate, type TemplateModel } from './template.js';

export interface BiometryDeps {
  pipeline: FacePipeline;
  decodeLimits: DecodeLimits;
  faceChoice: FaceChoicePolicy;
  templateModel: TemplateModel;
}

export interface Biometry {
  /** The L2-normalised embedding of the one person a sample shows. */
  describeSample(image: Uint8Array): Promise<Float32Array>;
  /** The sample's biometric template. */
  extract(image: Uint8Array): Promise<Buffer>;
}

export function createBiometry(deps: BiometryDeps): Biometry {
  async function describeSample(image: Uint8Array): Promise<Float32Array> {
    const raster = await decodeImage(image, deps.decodeLimits);
    const choice = chooseFace(await deps.pipeline.detect(raster), deps.faceChoice);
    if (choice.kind === 'none') throw new ServiceError('no-face');
    if (choice.kind === 'several') throw new ServiceError('multiple-faces', `${choice.count} faces of comparable size`);
    const face = await deps.pipeline.locate(raster, choice.face);
    try {
      return await deps.pipeline.embed(raster, face);
    } catch (error) {
      if (error instanceof RangeError) throw new ServiceError('template-not-extracted', 'the face could not be aligned');
      throw error;
    }
  }

  return {
    describeSample,
    extract: async (image) => encodeTemplate(await describeSample(image), deps.templateModel),
  };
}
