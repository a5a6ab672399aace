/**
 * Frames of a capture archive: a ZIP of JPEG/PNG frames, as the web capture plugin sends a frame sequence. Read in
 * memory, never extracted.
 *
 * - Frames are the entries whose bytes start as a JPEG or PNG does, whatever their names, in central-directory order.
 * - Directory entries are skipped unread. Other entries that are not frames (`__MACOSX/…`, `.DS_Store`, JSON, nested
 *   archives, which are never opened) are skipped once inflated: their bytes count towards the size cap below.
 * - The archive is unreadable when it is not a well-formed ZIP (no end record, truncated, entries out of bounds,
 *   bytes that do not match the declared size or CRC), when it lists more than `maxEntries` entries (counted in the
 *   central directory before anything is inflated), when any entry name is absolute or has a `..` segment (nothing
 *   is written anywhere, but such a name marks a crafted archive), when any entry is encrypted or compressed other
 *   than stored/deflate, when its entries inflate to more than `maxTotalUncompressedBytes`, or when it holds no frame.
 * - The size cap counts the bytes zlib actually produces, with a hard stop at each entry's declared size: a header
 *   that understates a ZIP bomb's size stops the inflation there.
 * - More than `maxFrames` frames: `maxFrames` of them evenly spread over the sequence, the first and last included
 *   (just the first when `maxFrames` is 1), as video frames are sampled over the whole clip.
 * - Every entry is inflated and checked once, one at a time, and its bytes dropped; a frame's bytes are inflated again
 *   when it is read. The archive's cost in memory is then one entry, not all of them.
 *
 * Written over node:zlib rather than with a ZIP library: zlib's maxOutputLength is the hard stop, walking the
 * central directory ourselves lets us refuse before inflating anything, and the format subset a frame archive needs
 * (stored/deflate, no ZIP64, no encryption) is small.
 */
import { inflateRawSync } from 'node:zlib';
import { ServiceError } from '../errors.js';
import { sniffImageFormat, type ImageFormat } from './image.js';
import { evenlySpread } from './sequence.js';

export interface ArchiveLimits {
  maxEntries: number;
  maxTotalUncompressedBytes: number;
  maxFrames: number;
}

export interface ArchiveFrame {
  name: string;
  format: ImageFormat;
  /** The frame's bytes, inflated (and checked) again at each call; a stored entry's are a view of the archive's. */
  read(): Buffer;
}

interface Entry {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const END_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const END_RECORD_SIZE = 22;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;
const ENCRYPTED_FLAG = 0x1;
const ZIP64_MARKER = 0xffffffff;
const STORED = 0;
const DEFLATED = 8;

/** The frames of a capture archive, by the rules above. */
export function readFrameArchive(bytes: Uint8Array, limits: ArchiveLimits): ArchiveFrame[] {
  const zip = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: ArchiveFrame[] = [];
  let inflated = 0;
  for (const entry of centralDirectory(zip, limits.maxEntries)) {
    if (entry.name.endsWith('/')) continue;
    if (entry.size > limits.maxTotalUncompressedBytes - inflated) throw tooLarge(limits);
    const data = entryData(zip, entry);
    inflated += data.length;
    const format = sniffImageFormat(data);
    if (format) frames.push({ name: entry.name, format, read: () => entryData(zip, entry) });
  }
  if (frames.length === 0) throw unreadable('the archive holds no JPEG or PNG frame');
  return evenlySpread(frames, limits.maxFrames);
}

/** The entries the central directory lists, checked but not inflated. */
function centralDirectory(zip: Buffer, maxEntries: number): Entry[] {
  const end = findEndRecord(zip);
  const declaredCount = zip.readUInt16LE(end + 10);
  const size = zip.readUInt32LE(end + 12);
  const offset = zip.readUInt32LE(end + 16);
  if (size === ZIP64_MARKER || offset === ZIP64_MARKER) throw unreadable('ZIP64 archives are not supported');
  if (declaredCount > maxEntries) throw tooManyEntries(maxEntries);
  if (offset + size > end) throw unreadable('the central directory is out of bounds');

  const entries: Entry[] = [];
  // The declared count is not trusted: the records are walked to the directory's end.
  for (let at = offset; at < offset + size; ) {
    if (entries.length === maxEntries) throw tooManyEntries(maxEntries);
    if (at + CENTRAL_HEADER_SIZE > offset + size || zip.readUInt32LE(at) !== CENTRAL_SIGNATURE) {
      throw unreadable('the central directory is corrupt');
    }
    const nameLength = zip.readUInt16LE(at + 28);
    const recordEnd = at + CENTRAL_HEADER_SIZE + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    if (recordEnd > offset + size) throw unreadable('the central directory is corrupt');
    const entry: Entry = {
      name: zip.toString('utf8', at + CENTRAL_HEADER_SIZE, at + CENTRAL_HEADER_SIZE + nameLength),
      flags: zip.readUInt16LE(at + 8),
      method: zip.readUInt16LE(at + 10),
      crc: zip.readUInt32LE(at + 16),
      compressedSize: zip.readUInt32LE(at + 20),
      size: zip.readUInt32LE(at + 24),
      localHeaderOffset: zip.readUInt32LE(at + 42),
    };
    checkEntry(entry);
    entries.push(entry);
    at = recordEnd;
  }
  return entries;
}

function findEndRecord(zip: Buffer): number {
  // The end record is last, followed by a comment of at most 65,535 bytes.
  const earliest = Math.max(0, zip.length - END_RECORD_SIZE - 0xffff);
  for (let at = zip.length - END_RECORD_SIZE; at >= earliest; at--) {
    if (zip.readUInt32LE(at) === END_SIGNATURE) return at;
  }
  throw unreadable('the bytes are not a ZIP archive, or it is truncated');
}

function checkEntry(entry: Entry): void {
  const segments = entry.name.split(/[\\/]/);
  if (/^([\\/]|[A-Za-z]:)/.test(entry.name) || segments.includes('..')) {
    throw unreadable('an entry name is absolute or climbs out of the archive');
  }
  if (entry.flags & ENCRYPTED_FLAG) throw unreadable('an entry is encrypted');
  if (entry.method !== STORED && entry.method !== DEFLATED) throw unreadable(`an entry uses compression method ${entry.method}`);
  if (entry.compressedSize === ZIP64_MARKER || entry.size === ZIP64_MARKER || entry.localHeaderOffset === ZIP64_MARKER) {
    throw unreadable('ZIP64 archives are not supported');
  }
}

/** The entry's bytes, inflated to at most its declared size and checked against it and its CRC. */
function entryData(zip: Buffer, entry: Entry): Buffer {
  const local = entry.localHeaderOffset;
  if (local + LOCAL_HEADER_SIZE > zip.length || zip.readUInt32LE(local) !== LOCAL_SIGNATURE) {
    throw unreadable('an entry header is missing');
  }
  // The local header's own sizes may be zero (streamed archives): the central directory's are used.
  const start = local + LOCAL_HEADER_SIZE + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
  if (start + entry.compressedSize > zip.length) throw unreadable('an entry is truncated');
  const stored = zip.subarray(start, start + entry.compressedSize);
  const data = entry.method === STORED ? stored : inflate(stored, entry.size);
  if (data.length !== entry.size || crc32(data) !== entry.crc) throw unreadable('an entry is corrupt');
  return data;
}

function inflate(deflated: Buffer, size: number): Buffer {
  try {
    // One byte more than declared is enough to tell an understated size; zlib stops as soon as it is produced.
    return inflateRawSync(deflated, { maxOutputLength: size + 1 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw unreadable('an entry inflates beyond its declared size');
    throw unreadable('an entry is corrupt');
  }
}

let crcTable: Uint32Array | undefined;

/** CRC-32 as ZIP uses it (zlib.crc32 is not in every Node 20 the project supports). */
function crc32(data: Uint8Array): number {
  crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  let crc = 0xffffffff;
  for (const byte of data) crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const unreadable = (detail: string): ServiceError => new ServiceError('sample-unreadable', detail);
const tooManyEntries = (maxEntries: number): ServiceError => unreadable(`the archive has more than ${maxEntries} entries`);
const tooLarge = (limits: ArchiveLimits): ServiceError =>
  unreadable(`the archive inflates to more than ${limits.maxTotalUncompressedBytes} bytes`);
