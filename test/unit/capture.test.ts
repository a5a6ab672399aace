import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../../src/errors.js';
import { readCaptureObject } from '../../src/media/capture.js';
import { needsData, readData } from '../helpers/data.js';

const jpeg = await readData('faces/lfw_color/Ariel_Sharon/Ariel_Sharon_0001.jpg');
const png = await readData('faces/faceapi_bbt/amy/amy1.png');
const jpegUrl = `data:image/jpeg;base64,${jpeg.toString('base64')}`;
const pngUrl = `data:image/png;base64,${png.toString('base64')}`;
const read = (value: unknown, maxFrames = 10): ReturnType<typeof readCaptureObject> => readCaptureObject(Buffer.from(JSON.stringify(value)), { maxFrames });
const unreadable = (value: unknown, pattern: RegExp): void =>
  assert.throws(() => read(value), (e: unknown) => e instanceof ServiceError && e.kind === 'sample-unreadable' && pattern.test(e.detail ?? ''));

describe('readCaptureObject', needsData, () => {
  it('takes frame_list in order, as JPEG and PNG frames', () => {
    const capture = read({ frame_list: [jpegUrl, pngUrl], best_frame: jpegUrl, from_virtual_camera: null });
    assert.deepEqual(capture.frames.map((f) => [f.name, f.format]), [['frame_list[0]', 'jpeg'], ['frame_list[1]', 'png']]);
    assert.deepEqual(capture.frames[0]!.bytes, jpeg);
    assert.equal(capture.fromVirtualCamera, false);
  });

  it('keeps best_frame apart when frame_list holds the frames, so that its person can be checked', () => {
    assert.equal(read({ frame_list: [pngUrl], best_frame: jpegUrl }).bestFrame?.name, 'best_frame');
    assert.equal(read({ frame_list: [pngUrl], best_frame: null }).bestFrame, undefined);
    unreadable({ frame_list: [pngUrl], best_frame: 'data:image/jpeg;base64,***' }, /best_frame does not hold/);
  });

  it('falls back to best_frame, then best_frame_png, when there is no frame list', () => {
    const capture = read({ frame_list: null, best_frame: jpegUrl });
    assert.equal(capture.frames[0]!.name, 'best_frame');
    assert.equal(capture.bestFrame, undefined, 'the only frame is not compared with itself');
    assert.equal(read({ frame_list: [], best_frame: null, best_frame_png: pngUrl }).frames[0]!.name, 'best_frame_png');
  });

  it('marks a virtual camera and takes the frames inside it', () => {
    const capture = read({ frame_list: null, from_virtual_camera: { frame_list: [jpegUrl], additional_info: 'obs' } });
    assert.equal(capture.fromVirtualCamera, true);
    assert.equal(capture.frames.length, 1);
  });

  it('spreads the frames it keeps over the sequence', () => {
    const capture = read({ frame_list: Array.from({ length: 9 }, () => jpegUrl) }, 3);
    assert.deepEqual(capture.frames.map((f) => f.name), ['frame_list[0]', 'frame_list[4]', 'frame_list[8]']);
  });

  it('refuses malformed objects and data URLs', () => {
    assert.throws(() => readCaptureObject(Buffer.from('{"frame_list": ['), { maxFrames: 3 }), /not valid JSON/);
    unreadable([], /not a JSON object/);
    unreadable({ frame_list: 'x' }, /not a list/);
    unreadable({ frame_list: [42] }, /not a data URL/);
    unreadable({ frame_list: ['http://example.com/a.jpg'] }, /not a JPEG or PNG data URL/);
    unreadable({ frame_list: ['data:image/gif;base64,R0lGOD'] }, /not a JPEG or PNG data URL/);
    unreadable({ frame_list: ['data:image/jpeg,rawbytes'] }, /not a JPEG or PNG data URL/);
    unreadable({ frame_list: ['data:image/jpeg;base64,***'] }, /does not hold/);
    unreadable({ frame_list: [`data:image/png;base64,${jpeg.toString('base64')}`] }, /does not hold the image\/png/);
    unreadable({ frame_list: [], best_frame: null }, /no frame/);
    unreadable({ from_virtual_camera: 'yes' }, /not an object/);
  });
});
