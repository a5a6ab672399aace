import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readTar } from '../../tools/tar.js';

function header(name: string, size: number, type: string, prefix = ''): Buffer {
  const block = Buffer.alloc(512);
  block.write(name, 0, 'utf8');
  block.write(size.toString(8).padStart(11, '0'), 124, 'ascii');
  block.write(type, 156, 'ascii');
  block.write('ustar', 257, 'ascii');
  block.write(prefix, 345, 'utf8');
  return block;
}

const pad = (data: Buffer): Buffer => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);

describe('readTar', () => {
  it('reads files, directories, ustar prefixes and pax paths', () => {
    const pax = Buffer.from('30 path=package/model/long.onnx\n');
    const archive = Buffer.concat([
      header('package/', 0, '5'),
      header('a.txt', 5, '0', 'package'),
      pad(Buffer.from('hello')),
      header('PaxHeader', pax.length, 'x'),
      pad(pax),
      header('short', 3, '0'),
      pad(Buffer.from('abc')),
      Buffer.alloc(1024),
    ]);
    const entries = readTar(archive);
    assert.deepEqual(
      entries.map((e) => [e.path, e.type, e.data.toString()]),
      [
        ['package/', 'directory', ''],
        ['package/a.txt', 'file', 'hello'],
        ['package/model/long.onnx', 'file', 'abc'],
      ],
    );
  });

  it('refuses a truncated archive', () => {
    assert.throws(() => readTar(Buffer.concat([header('a', 100, '0'), Buffer.alloc(10)])), /truncated/);
  });
});
