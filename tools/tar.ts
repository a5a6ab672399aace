const BLOCK = 512;

export interface TarEntry {
  path: string;
  type: 'file' | 'directory' | 'other';
  data: Buffer;
}

function readString(header: Buffer, offset: number, length: number): string {
  const field = header.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function readOctal(header: Buffer, offset: number, length: number): number {
  const text = readString(header, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`malformed tar header: size field "${text}"`);
  return text === '' ? 0 : parseInt(text, 8);
}

/** pax extended headers are "<length> <key>=<value>\n" records; only the path matters here. */
function paxPath(data: Buffer): string | undefined {
  const text = data.toString('utf8');
  const match = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(text);
  return match?.[1];
}

/** Reads an uncompressed POSIX (ustar/pax) tar archive held in memory. */
export function readTar(archive: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let nextPath: string | undefined;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) break;
    const size = readOctal(header, 124, 12);
    const typeFlag = String.fromCharCode(header[156] ?? 0);
    const name = readString(header, 0, 100);
    const prefix = header.subarray(257, 262).toString('latin1') === 'ustar' ? readString(header, 345, 155) : '';
    const dataStart = offset + BLOCK;
    if (dataStart + size > archive.length) throw new Error('truncated tar archive');
    const data = archive.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (typeFlag === 'x') {
      nextPath = paxPath(data);
      continue;
    }
    if (typeFlag === 'g') continue;
    const entryPath = nextPath ?? (prefix ? `${prefix}/${name}` : name);
    nextPath = undefined;
    const type = typeFlag === '0' || typeFlag === '\0' ? 'file' : typeFlag === '5' ? 'directory' : 'other';
    entries.push({ path: entryPath, type, data });
  }
  return entries;
}
