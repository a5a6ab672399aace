/**
 * An AVI writer for the tests: Motion-JPEG frames in a RIFF container whose header states any frame size, so that a
 * test can say one size in the container and another in the frames, as a crafted file can.
 */
import sharp from 'sharp';

function chunk(id: string, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(id, 0, 'latin1');
  header.writeUInt32LE(data.length, 4);
  return Buffer.concat([header, data, Buffer.alloc(data.length % 2)]);
}

const list = (type: string, ...children: Buffer[]): Buffer => chunk('LIST', Buffer.concat([Buffer.from(type, 'latin1'), ...children]));

/** An MJPEG AVI of `frames` (JPEG bytes) at 25 fps, its headers declaring `width` × `height`. */
export function mjpegAvi(frames: readonly Buffer[], width: number, height: number): Buffer {
  const largest = Math.max(...frames.map((f) => f.length));
  const avih = Buffer.alloc(56);
  avih.writeUInt32LE(40_000, 0);
  avih.writeUInt32LE(0x10, 12);
  avih.writeUInt32LE(frames.length, 16);
  avih.writeUInt32LE(1, 24);
  avih.writeUInt32LE(largest, 28);
  avih.writeUInt32LE(width, 32);
  avih.writeUInt32LE(height, 36);
  const strh = Buffer.alloc(56);
  strh.write('vidsMJPG', 0, 'latin1');
  strh.writeUInt32LE(1, 20);
  strh.writeUInt32LE(25, 24);
  strh.writeUInt32LE(frames.length, 32);
  strh.writeUInt32LE(largest, 36);
  strh.writeUInt16LE(Math.min(width, 0x7fff), 52);
  strh.writeUInt16LE(Math.min(height, 0x7fff), 54);
  const strf = Buffer.alloc(40);
  strf.writeUInt32LE(40, 0);
  strf.writeInt32LE(width, 4);
  strf.writeInt32LE(height, 8);
  strf.writeUInt16LE(1, 12);
  strf.writeUInt16LE(24, 14);
  strf.write('MJPG', 16, 'latin1');
  strf.writeUInt32LE(width * height * 3, 20);
  const moviChunks = frames.map((frame) => chunk('00dc', frame));
  const index = Buffer.alloc(16 * frames.length);
  let offset = 4;
  moviChunks.forEach((movi, i) => {
    index.write('00dc', 16 * i, 'latin1');
    index.writeUInt32LE(0x10, 16 * i + 4);
    index.writeUInt32LE(offset, 16 * i + 8);
    index.writeUInt32LE(frames[i]!.length, 16 * i + 12);
    offset += movi.length;
  });
  const riff = Buffer.concat([
    Buffer.from('AVI ', 'latin1'),
    list('hdrl', chunk('avih', avih), list('strl', chunk('strh', strh), chunk('strf', strf))),
    list('movi', ...moviChunks),
    chunk('idx1', index),
  ]);
  return chunk('RIFF', riff);
}

/**
 * A baseline JPEG of `width` × `height` mid-grey pixels (multiples of 16), made without encoding a picture: sharp
 * writes a 16 × 16 one with the standard Huffman tables and 4:2:0 chroma, whose scan is then replaced by the same
 * four bytes per 16 × 16 block (DC unchanged, end of block, for four luma and two chroma blocks). A 16000 × 16000
 * frame takes 4 MB and no time to make, and a decoder the full 256 megapixels to read.
 */
export async function greyJpeg(width: number, height: number): Promise<Buffer> {
  const small = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .jpeg({ optimiseCoding: false, chromaSubsampling: '4:2:0' })
    .toBuffer();
  const startOfFrame = small.indexOf(Buffer.from([0xff, 0xc0]));
  const startOfScan = small.indexOf(Buffer.from([0xff, 0xda]));
  if (startOfFrame < 0 || startOfScan < 0) throw new Error('sharp wrote no baseline JPEG');
  const headers = Buffer.from(small.subarray(0, startOfScan + 2 + small.readUInt16BE(startOfScan + 2)));
  headers.writeUInt16BE(height, startOfFrame + 5);
  headers.writeUInt16BE(width, startOfFrame + 7);
  const blocks = (width / 16) * (height / 16);
  const scan = Buffer.alloc(blocks * 4);
  for (let at = 0; at < scan.length; at += 4) scan.writeUInt32BE(0x28a28a00, at);
  return Buffer.concat([headers, scan, Buffer.from([0xff, 0xd9])]);
}
