import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImage, scaledLongSide } from '../../src/media/image.js';

describe('scaledLongSide', () => {
  it('leaves an image within the budget alone', () => {
    assert.equal(scaledLongSide(4000, 3000, 12_000_000), undefined);
  });

  it('scales a larger image, keeping its aspect ratio, to at most the budget', () => {
    const longSide = scaledLongSide(7200, 4800, 16_000_000)!;
    assert.equal(longSide, 4898);
    const shortSide = Math.round((longSide * 4800) / 7200);
    assert.ok(longSide * shortSide <= 16_000_000);
  });
});

describe('decodeImage', () => {
  const photo = (width: number, height: number, orientation?: number): Promise<Buffer> => {
    const image = sharp({ create: { width, height, channels: 3, background: '#808080' } }).jpeg();
    return (orientation ? image.withMetadata({ orientation }) : image).toBuffer();
  };

  it('decodes an image within the budget at its own size', async () => {
    const decoded = await decodeImage(await photo(640, 480), { maxPixels: 40_000_000, maxDecodedPixels: 1_000_000 });
    assert.deepEqual([decoded.width, decoded.height, decoded.sourceWidth, decoded.sourceHeight], [640, 480, 640, 480]);
    assert.equal(decoded.data.length, 640 * 480 * 3);
  });

  it('scales a larger one down as it decodes, and reports the size it was sent at', async () => {
    const decoded = await decodeImage(await photo(3000, 2000), { maxPixels: 40_000_000, maxDecodedPixels: 1_500_000 });
    assert.ok(decoded.width * decoded.height <= 1_500_000, `${decoded.width}×${decoded.height}`);
    assert.ok(decoded.width * decoded.height > 1_400_000, `${decoded.width}×${decoded.height}`);
    assert.ok(Math.abs(decoded.width / decoded.height - 1.5) < 0.01);
    assert.deepEqual([decoded.sourceWidth, decoded.sourceHeight], [3000, 2000]);
  });

  it('scales an EXIF-rotated photo upright, with its upright size', async () => {
    const decoded = await decodeImage(await photo(3000, 2000, 6), { maxPixels: 40_000_000, maxDecodedPixels: 1_500_000 });
    assert.ok(decoded.height > decoded.width, `${decoded.width}×${decoded.height}`);
    assert.deepEqual([decoded.sourceWidth, decoded.sourceHeight], [2000, 3000]);
  });

  it('still refuses an image over the pixel limit, before decoding', async () => {
    await assert.rejects(decodeImage(await photo(3000, 2000), { maxPixels: 5_000_000, maxDecodedPixels: 1_000_000 }), /more than 5000000 pixels/);
  });
});
