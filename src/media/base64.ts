/**
 * Strict base64 (RFC 4648 alphabet) as RFC 2045 transfers it: line breaks and other white space anywhere are
 * ignored; any other character outside the alphabet, or padding anywhere but at the end, makes the text invalid.
 * Unpadded text is accepted when its length leaves no doubt about the bytes it holds.
 */
export function decodeBase64(text: Uint8Array): Buffer | undefined {
  const compact = Buffer.allocUnsafe(text.length);
  let length = 0;
  let padding = 0;
  for (const byte of text) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a) continue;
    const isAlphabet =
      (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte === 0x2b || byte === 0x2f;
    if (byte === 0x3d) padding++;
    else if (!isAlphabet || padding > 0) return undefined;
    compact[length++] = byte;
  }
  if (padding > 2) return undefined;
  const dataLength = length - padding;
  if (padding > 0 ? length % 4 !== 0 : dataLength % 4 === 1) return undefined;
  return Buffer.from(compact.subarray(0, length).toString('latin1'), 'base64');
}
