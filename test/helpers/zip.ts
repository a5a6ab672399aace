import { constants, crc32, deflateRawSync } from 'node:zlib';

export interface TestEntry {
  name: string;
  data?: Buffer;
  deflate?: boolean;
  /** Written instead of `data`, deflated; the declared size and CRC must then be given. */
  deflated?: Buffer;
  size?: number;
  crc?: number;
  flags?: number;
}

/** A ZIP writer for the test: stored or deflated entries, and any header field a crafted archive could lie in. */
export function zip(entries: TestEntry[], declaredCount = entries.length): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const data = entry.data ?? Buffer.alloc(0);
    const deflated = entry.deflated ?? (entry.deflate ? deflateRawSync(data) : undefined);
    const body = deflated ?? data;
    const fields = (header: Buffer, at: number): void => {
      header.writeUInt16LE(20, at);
      header.writeUInt16LE(entry.flags ?? 0x800, at + 2);
      header.writeUInt16LE(deflated ? 8 : 0, at + 4);
      header.writeUInt32LE(entry.crc ?? crc32(data), at + 10);
      header.writeUInt32LE(body.length, at + 14);
      header.writeUInt32LE(entry.size ?? data.length, at + 18);
      header.writeUInt16LE(name.length, at + 22);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    fields(local, 4);
    const record = Buffer.alloc(46);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE(20, 4);
    fields(record, 6);
    record.writeUInt32LE(offset, 42);
    parts.push(local, name, body);
    central.push(record, name);
    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Math.min(declaredCount, 0xffff), 8);
  end.writeUInt16LE(Math.min(declaredCount, 0xffff), 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directory, end]);
}

/**
 * A raw deflate stream of `megabytes` MiB of zeros, about 1 KB per MiB, built without ever holding the zeros: a
 * sync-flushed block carries no reference to earlier data, so copies of one can be chained, then closed.
 */
export function deflatedZeros(megabytes: number): Buffer {
  const block = deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: constants.Z_SYNC_FLUSH });
  return Buffer.concat([...Array<Buffer>(megabytes).fill(block), deflateRawSync(Buffer.alloc(0))]);
}
