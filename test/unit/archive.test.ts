import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { readFrameArchive, type ArchiveLimits } from '../../src/media/archive.js';
import { needsData, readData } from '../helpers/data.js';
import { deflatedZeros, zip } from '../helpers/zip.js';

const limits: ArchiveLimits = { maxEntries: 1000, maxTotalUncompressedBytes: 50 * 1024 * 1024, maxFrames: 100 };

const unreadable = (detail: RegExp) => (error: unknown) => {
  assert.equal((error as { kind?: string }).kind, 'sample-unreadable');
  assert.match((error as Error).message, detail);
  return true;
};

describe('readFrameArchive', needsData, () => {
  let jpegs: Buffer[] = [];
  let png: Buffer;
  before(async () => {
    jpegs = await Promise.all([1, 2, 3, 4, 5].map((i) => readData('faces', 'lfw_color', 'Ariel_Sharon', `Ariel_Sharon_000${i}.jpg`)));
    png = await readData('faces', 'faceapi_bbt', 'amy', 'amy1.png');
  });

  it('returns the JPEG and PNG frames in archive order, stored or deflated, recognised by their bytes', () => {
    const archive = zip([
      { name: 'frames/b.jpg', data: jpegs[0]! },
      { name: 'frames/a.png', data: png, deflate: true },
      { name: 'frames/c.bin', data: jpegs[1]!, deflate: true },
    ]);
    const frames = readFrameArchive(archive, limits);
    assert.deepEqual(
      frames.map((f) => [f.name, f.format]),
      [
        ['frames/b.jpg', 'jpeg'],
        ['frames/a.png', 'png'],
        ['frames/c.bin', 'jpeg'],
      ],
    );
    assert.ok(frames[0]!.read().equals(jpegs[0]!));
    assert.ok(frames[1]!.read().equals(png));
    assert.ok(frames[2]!.read().equals(jpegs[1]!));
  });

  it('skips directories, metadata, non-images and nested archives without opening them', () => {
    const nested = zip([{ name: 'inner.jpg', data: jpegs[2]! }]);
    const archive = zip([
      { name: 'frames/' },
      { name: '__MACOSX/frames/._1.jpg', data: Buffer.from([0x00, 0x05, 0x16, 0x07, 0, 2, 0, 0]) },
      { name: '.DS_Store', data: Buffer.alloc(64, 1) },
      { name: 'meta.json', data: Buffer.from('{"frames":2}'), deflate: true },
      { name: 'fake.jpg', data: Buffer.from('not a jpeg') },
      { name: 'frames/1.jpg', data: jpegs[0]! },
      { name: 'more.zip', data: nested },
      { name: 'frames/2.jpg', data: jpegs[1]! },
    ]);
    assert.deepEqual(
      readFrameArchive(archive, limits).map((f) => f.name),
      ['frames/1.jpg', 'frames/2.jpg'],
    );
  });

  it('refuses an archive with no frame', () => {
    const archive = zip([{ name: 'meta.json', data: Buffer.from('{}') }, { name: 'frames/' }]);
    assert.throws(() => readFrameArchive(archive, limits), unreadable(/no JPEG or PNG frame/));
    assert.throws(() => readFrameArchive(zip([]), limits), unreadable(/no JPEG or PNG frame/));
  });

  it('refuses the whole archive when any entry name is absolute or climbs with ..', () => {
    for (const name of ['../evil.jpg', 'frames/../../evil.jpg', 'frames/..', '/etc/evil.jpg', '\\evil.jpg', 'C:/evil.jpg', 'a\\..\\..\\evil.jpg']) {
      const archive = zip([
        { name: 'frames/1.jpg', data: jpegs[0]! },
        { name, data: Buffer.from('x') },
      ]);
      assert.throws(() => readFrameArchive(archive, limits), unreadable(/absolute or climbs/), name);
    }
    assert.equal(readFrameArchive(zip([{ name: 'frames/..1.jpg', data: jpegs[0]! }]), limits).length, 1);
  });

  it('refuses encrypted entries', () => {
    const archive = zip([{ name: '1.jpg', data: jpegs[0]!, flags: 0x801 }]);
    assert.throws(() => readFrameArchive(archive, limits), unreadable(/encrypted/));
  });

  it('refuses 100,000 entries from the central directory, quickly, whatever count the end record declares', () => {
    const tiny = Array.from({ length: 100_000 }, (_, i) => ({ name: `f${i}`, data: Buffer.from([i & 0xff]) }));
    for (const declared of [tiny.length, 1]) {
      const archive = zip(tiny, declared);
      const started = performance.now();
      assert.throws(() => readFrameArchive(archive, limits), unreadable(/more than 1000 entries/));
      assert.ok(performance.now() - started < 500, `took ${performance.now() - started} ms`);
    }
  });

  it('refuses ZIP bombs, honest or lying about their size, without inflating them', () => {
    const gigabyte = 1024;
    const bomb = deflatedZeros(gigabyte);
    assert.equal(inflateRawSync(deflatedZeros(3)).length, 3 << 20, 'the bomb builder makes a valid stream');
    const honest = zip([{ name: '1.jpg', data: jpegs[0]! }, { name: 'zeros.jpg', deflated: bomb, size: gigabyte << 20, crc: 0 }]);
    const lying = zip([{ name: '1.jpg', data: jpegs[0]! }, { name: 'zeros.jpg', deflated: bomb, size: 1000, crc: 0 }]);
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    assert.throws(() => readFrameArchive(honest, limits), unreadable(/inflates to more than 52428800 bytes/));
    assert.throws(() => readFrameArchive(lying, limits), unreadable(/inflates beyond its declared size/));
    const peakGrowth = process.resourceUsage().maxRSS * 1024 - rssBefore;
    assert.ok(peakGrowth < 300 * 1024 * 1024, `peak RSS grew by ${Math.round(peakGrowth / 2 ** 20)} MB`);
    assert.ok(performance.now() - started < 1000, `took ${performance.now() - started} ms`);
  });

  it('counts inflated bytes across entries against the cap', () => {
    const frames = jpegs.map((data, i) => ({ name: `${i}.jpg`, data, deflate: true }));
    const total = jpegs.reduce((sum, data) => sum + data.length, 0);
    assert.equal(readFrameArchive(zip(frames), { ...limits, maxTotalUncompressedBytes: total }).length, 5);
    assert.throws(() => readFrameArchive(zip(frames), { ...limits, maxTotalUncompressedBytes: total - 1 }), unreadable(/inflates to more than/));
  });

  it('keeps at most maxFrames frames, evenly spread, first and last included', () => {
    const archive = zip(Array.from({ length: 10 }, (_, i) => ({ name: `${i}.jpg`, data: jpegs[i % 5]! })));
    assert.deepEqual(
      readFrameArchive(archive, { ...limits, maxFrames: 4 }).map((f) => f.name),
      ['0.jpg', '3.jpg', '6.jpg', '9.jpg'],
    );
    assert.deepEqual(
      readFrameArchive(archive, { ...limits, maxFrames: 1 }).map((f) => f.name),
      ['0.jpg'],
    );
  });

  it('refuses garbage, truncated and corrupted archives', () => {
    const archive = zip([
      { name: '1.jpg', data: jpegs[0]! },
      { name: '2.jpg', data: jpegs[1]!, deflate: true },
    ]);
    const corrupted = Buffer.from(archive);
    const insideFirstEntry = 30 + '1.jpg'.length + 1000;
    corrupted.writeUInt8(corrupted.readUInt8(insideFirstEntry) ^ 0xff, insideFirstEntry);
    const cases: [string, Buffer, RegExp][] = [
      ['empty', Buffer.alloc(0), /not a ZIP archive/],
      ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)), /not a ZIP archive/],
      ['a JPEG', jpegs[0]!, /not a ZIP archive/],
      ['cut in the middle', archive.subarray(0, archive.length >> 1), /not a ZIP archive/],
      ['cut before the last byte', archive.subarray(0, archive.length - 1), /not a ZIP archive/],
      ['a flipped byte in a stored entry', corrupted, /corrupt/],
      ['a wrong CRC', zip([{ name: '1.jpg', data: jpegs[0]!, deflate: true, crc: 1 }]), /corrupt/],
      ['a deflate stream cut short', zip([{ name: '1.jpg', deflated: deflateRawSync(jpegs[0]!).subarray(0, 500), size: jpegs[0]!.length, crc: crc32(jpegs[0]!) }]), /corrupt/],
    ];
    for (const [what, bytes, detail] of cases) assert.throws(() => readFrameArchive(bytes, limits), unreadable(detail), what);
  });
});
