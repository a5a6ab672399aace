import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../../src/errors.js';
import { boundaryOf, parseMultipart } from '../../src/http/multipart-parser.js';

const limits = { maxParts: 10, maxPartBytes: 1024 };
const body = (text: string): Buffer => Buffer.from(text.replaceAll('\n', '\r\n'), 'utf8');

function refusal(kind: string, detail: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof ServiceError && error.kind === kind && detail.test(error.message);
}

describe('boundaryOf', () => {
  it('reads a token or a quoted boundary, among other parameters', () => {
    assert.equal(boundaryOf('multipart/form-data; boundary=abc123'), 'abc123');
    assert.equal(boundaryOf('multipart/form-data; charset=utf-8; boundary="a b:c"'), 'a b:c');
    assert.equal(boundaryOf('multipart/form-data;BOUNDARY=X'), 'X');
  });

  it('has none when it is missing, empty or longer than 70 characters', () => {
    assert.equal(boundaryOf('multipart/form-data'), undefined);
    assert.equal(boundaryOf('multipart/form-data; boundary='), undefined);
    assert.equal(boundaryOf('multipart/form-data; boundary=""'), undefined);
    assert.equal(boundaryOf(`multipart/form-data; boundary=${'b'.repeat(71)}`), undefined);
    assert.equal(boundaryOf(undefined), undefined);
  });
});

describe('parseMultipart', () => {
  it('returns the parts in order, with names, filenames, types and exact bytes', () => {
    const parts = parseMultipart(
      body(
        '--B\nContent-Disposition: form-data; name="template_1"\nContent-Type: application/octet-stream\n\none\n' +
          '--B\nContent-Disposition: form-data; name="templates_n"; filename="a.bin"\n\ntwo\n--B--\n',
      ),
      'B',
      limits,
    );
    assert.deepEqual(
      parts.map((p) => [p.name, p.filename, p.declaredType, p.bytes.toString()]),
      [
        ['template_1', undefined, 'application/octet-stream', 'one'],
        ['templates_n', 'a.bin', undefined, 'two'],
      ],
    );
  });

  it('keeps binary content with CR, LF and near-boundaries intact', () => {
    const content = Buffer.from([0x0d, 0x0a, 0x2d, 0x2d, 0x42, 0x00, 0xff, 0x0d, 0x0a, 0x2d]);
    const raw = Buffer.concat([body('--BB\nContent-Disposition: form-data; name="x"\n\n'), content, body('\n--BB--')]);
    assert.deepEqual(parseMultipart(raw, 'BB', limits)[0]!.bytes, content);
  });

  it('ignores a preamble and an epilogue, and accepts whitespace after a boundary', () => {
    const parts = parseMultipart(body('preamble text\n--B  \nContent-Disposition: form-data; name="a"\n\nA\n--B--\nepilogue'), 'B', limits);
    assert.deepEqual(parts.map((p) => p.bytes.toString()), ['A']);
  });

  it('accepts an empty part', () => {
    const [part] = parseMultipart(body('--B\nContent-Disposition: form-data; name="a"\n\n\n--B--'), 'B', limits);
    assert.equal(part!.bytes.length, 0);
  });

  it('reads quoted parameters with escapes, unquoted ones, and filename* over filename', () => {
    const [quoted, token, extended] = parseMultipart(
      body(
        '--B\nContent-Disposition: form-data; name="a\\"b"; filename="x;y.jpg"\n\n1\n' +
          '--B\ncontent-disposition: FORM-DATA; name=plain; filename=p.png\n\n2\n' +
          "--B\nContent-Disposition: form-data; name=\"e\"; filename=\"fallback.jpg\"; filename*=UTF-8''%C3%A9t%C3%A9.jpg\n\n3\n--B--",
      ),
      'B',
      limits,
    );
    assert.deepEqual([quoted!.name, quoted!.filename], ['a"b', 'x;y.jpg']);
    assert.deepEqual([token!.name, token!.filename], ['plain', 'p.png']);
    assert.equal(extended!.filename, 'été.jpg');
  });

  it('keeps only the last path segment of a filename', () => {
    const parts = parseMultipart(
      body('--B\nContent-Disposition: form-data; name="a"; filename="../../etc/passwd"\n\n1\n--B\nContent-Disposition: form-data; name="b"; filename="C:\\\\x\\\\y.jpg"\n\n2\n--B--'),
      'B',
      limits,
    );
    assert.deepEqual(parts.map((p) => p.filename), ['passwd', 'y.jpg']);
  });

  it('counts a Content-Type that is not type/subtype as none, and drops its parameters', () => {
    const parts = parseMultipart(
      body('--B\nContent-Disposition: form-data; name="a"\nContent-Type: nonsense\n\n1\n--B\nContent-Disposition: form-data; name="b"\nContent-Type: Image/JPEG; q=1\n\n2\n--B--'),
      'B',
      limits,
    );
    assert.deepEqual(parts.map((p) => p.declaredType), [undefined, 'image/jpeg']);
  });

  it('skips a part that is not form-data, and refuses one without a name', () => {
    assert.deepEqual(parseMultipart(body('--B\nContent-Type: text/plain\n\nx\n--B\nContent-Disposition: attachment; name="a"\n\ny\n--B--'), 'B', limits), []);
    assert.throws(() => parseMultipart(body('--B\nContent-Disposition: form-data; filename="a"\n\nx\n--B--'), 'B', limits), refusal('malformed-request', /no name/));
  });

  it('refuses bodies that end too early or never start', () => {
    assert.throws(() => parseMultipart(body('no boundary here'), 'B', limits), refusal('malformed-request', /no part/));
    assert.throws(() => parseMultipart(body('--B\nContent-Disposition: form-data; name="a"\n\nunterminated'), 'B', limits), refusal('malformed-request', /closing boundary/));
    assert.throws(() => parseMultipart(body('--B\nContent-Disposition: form-data; name="a"'), 'B', limits), refusal('malformed-request', /inside the headers/));
    assert.throws(() => parseMultipart(body('--Bjunk\nContent-Disposition: form-data; name="a"\n\nx\n--B--'), 'B', limits), refusal('malformed-request', /boundary line/));
  });

  it('refuses headers over 16 KiB', () => {
    const raw = body(`--B\nContent-Disposition: form-data; name="a"\nX-Padding: ${'p'.repeat(17 * 1024)}\n\nx\n--B--`);
    assert.throws(() => parseMultipart(raw, 'B', limits), refusal('malformed-request', /headers of a part are too long/));
  });

  it('enforces the part count and part size limits', () => {
    const part = (i: number, size: number): string => `--B\nContent-Disposition: form-data; name="p${i}"\n\n${'x'.repeat(size)}\n`;
    const eleven = Array.from({ length: 11 }, (_, i) => part(i, 1)).join('') + '--B--';
    assert.throws(() => parseMultipart(body(eleven), 'B', limits), refusal('too-large', /more than 10 parts/));
    assert.equal(parseMultipart(body(part(0, 1024) + '--B--'), 'B', limits).length, 1);
    assert.throws(() => parseMultipart(body(part(0, 1025) + '--B--'), 'B', limits), refusal('too-large', /exceeds 1024 bytes/));
  });

  it('returns part bytes as views of the body, not copies', () => {
    const raw = body('--B\nContent-Disposition: form-data; name="a"\n\nABC\n--B--');
    const [part] = parseMultipart(raw, 'B', limits);
    assert.equal(part!.bytes.buffer, raw.buffer);
  });
});
