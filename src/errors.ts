/**
 * The error catalogue. Use cases raise a ServiceError of a protocol-neutral kind; the HTTP layer answers with the
 * code of the API area its route declares: biometry (the published API's "Biometry" section, at /v1/face/pattern,
 * BPE-… codes), liveness (/v1/face/liveness, LDE-…), or the service's own routes (SVC-…).
 * Codes marked "extension" are ours: the published API has no code for these situations.
 */
export type ApiArea = 'biometry' | 'liveness' | 'service';

export type ErrorKind =
  | 'content-type'
  | 'method'
  | 'sample-unreadable'
  | 'template-unreadable'
  | 'part-content-type'
  | 'template-not-extracted'
  | 'no-face'
  | 'multiple-faces'
  | 'internal'
  | 'model-runtime'
  | 'too-large'
  | 'malformed-request'
  | 'invalid-payload'
  | 'overloaded'
  | 'timeout'
  | 'client-closed'
  | 'not-found';

export interface CatalogueEntry {
  code: string;
  status: number;
  message: string;
  extension: boolean;
}

type AreaCatalogue = Partial<Record<ErrorKind, CatalogueEntry>>;

const spec = (code: string, status: number, message: string): CatalogueEntry => ({ code, status, message, extension: false });
const ext = (code: string, status: number, message: string): CatalogueEntry => ({ code, status, message, extension: true });

export const errorCatalogue: Record<ApiArea, AreaCatalogue> = {
  biometry: {
    'content-type': spec('BPE-002001', 400, 'Invalid Content-Type of HTTP request'),
    method: spec('BPE-002002', 400, 'Invalid HTTP request method'),
    'sample-unreadable': spec('BPE-002003', 400, 'Failed to read the biometric sample'),
    'template-unreadable': spec('BPE-002004', 400, 'Failed to read the biometric template'),
    'part-content-type': spec('BPE-002005', 400, 'Invalid Content-Type of the multiparted HTTP request part'),
    'template-not-extracted': spec('BPE-003001', 400, 'Failed to retrieve the biometric template'),
    'no-face': spec('BPE-003002', 400, 'The biometric sample is missing face'),
    'multiple-faces': spec('BPE-003003', 400, 'More than one person is present on the biometric sample'),
    internal: spec('BPE-001001', 500, 'Internal bioprocessor error'),
    'model-runtime': spec('BPE-001002', 400, 'TFSS error. Call the biometry health method.'),
    'too-large': ext('BPE-002006', 413, 'Request or part exceeds a size or count limit'),
    'malformed-request': ext('BPE-002007', 400, 'Malformed request body'),
    overloaded: ext('BPE-001003', 503, 'Service is at capacity, retry later'),
    timeout: ext('BPE-002008', 408, 'Request body was not received in time'),
  },
  liveness: {
    'content-type': spec('LDE-002001', 400, 'Invalid Content-Type of HTTP request'),
    method: spec('LDE-002002', 400, 'Invalid HTTP request method'),
    'sample-unreadable': spec('LDE-002004', 400, 'Failed to extract the biometric sample'),
    'part-content-type': spec('LDE-002005', 400, 'Invalid Content-Type of the multiparted HTTP request part'),
    internal: spec('LDE-001001', 500, 'Liveness detection processor internal error'),
    'model-runtime': spec('LDE-001002', 400, 'TFSS error. Call the Liveness health method.'),
    'too-large': ext('LDE-002006', 413, 'Request or part exceeds a size or count limit'),
    'malformed-request': ext('LDE-002007', 400, 'Malformed request body'),
    'invalid-payload': ext('LDE-002008', 400, 'Invalid payload'),
    overloaded: ext('LDE-001003', 503, 'Service is at capacity, retry later'),
    timeout: ext('LDE-002009', 408, 'Request body was not received in time'),
  },
  service: {
    method: ext('SVC-002002', 400, 'Invalid HTTP request method'),
    'malformed-request': ext('SVC-002007', 400, 'Malformed request'),
    'not-found': ext('SVC-004004', 404, 'No such route'),
    internal: ext('SVC-001001', 500, 'Internal error'),
    overloaded: ext('SVC-001003', 503, 'Service is not ready, retry later'),
    'client-closed': ext('SVC-004099', 499, 'Client closed the request before the answer'),
  },
};

/** Characters a message never shows as they are: controls (CR, LF, ESC, NUL, BEL…), format characters (bidirectional
 * overrides), lone surrogates, private-use and unassigned code points, line and paragraph separators, and U+FFFD,
 * which stands for bytes that were not UTF-8. */
const UNPRINTABLE = /[\p{C}\p{Zl}\p{Zp}\uFFFD]/u;

/** One code point as a \u escape: \u001B, or \u{E0001} beyond the first plane. */
const escaped = (character: string): string => {
  const code = character.codePointAt(0)!;
  return code > 0xffff ? `\\u{${code.toString(16).toUpperCase()}}` : `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
};

/** Text with every unprintable character shown as its \u escape. */
export const printable = (text: string): string => text.replace(new RegExp(UNPRINTABLE.source, 'gu'), escaped);

/** How many characters of a client-supplied name a message shows at most. */
export const SHOWN_NAME_LENGTH = 64;

/**
 * A name the client chose — part name, filename, media key, payload key, declared type — as an error message shows
 * it: unprintable characters as \u escapes, cut to SHOWN_NAME_LENGTH characters as shown (an escape counts its
 * length), between code points so that a surrogate pair is never split, and marked with … when cut.
 */
export function clientName(name: string): string {
  let shown = '';
  let length = 0;
  for (const character of name) {
    const piece = UNPRINTABLE.test(character) ? escaped(character) : character;
    const pieceLength = [...piece].length;
    if (length + pieceLength > SHOWN_NAME_LENGTH) return `${shown}…`;
    shown += piece;
    length += pieceLength;
  }
  return shown;
}

/** Which input of a use case a failure is about, and what caused it. */
export interface FailureContext {
  /**
   * The input's position among the use case's inputs, in the order of its parameters, a list counting one per
   * element (compareN(probe, candidates): the probe is 0, candidate k is k). The HTTP layer names it as the client
   * sent it: a part name, or a 1:N candidate's position and filename.
   */
  item?: number;
  cause?: unknown;
}

/**
 * A failure a client can be told about. `detail` is ours, never client bytes or server paths; a name the client
 * chose appears in it only through clientName().
 */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly item: number | undefined;
  constructor(
    readonly kind: ErrorKind,
    readonly detail?: string,
    context: FailureContext = {},
  ) {
    super(detail ? `${kind}: ${detail}` : kind, context.cause === undefined ? undefined : { cause: context.cause });
    this.item = context.item;
  }
}

/** The same failure, as about input `item` of a use case; other errors, and failures placed already, unchanged. */
export function aboutItem(error: unknown, item: number): unknown {
  if (!(error instanceof ServiceError) || error.item !== undefined) return error;
  return new ServiceError(error.kind, error.detail, { item, cause: error.cause });
}

/** Model inference failed; reported as the area's model-runtime error and counted by health. */
export class ModelRuntimeError extends ServiceError {
  constructor(
    readonly modelId: string,
    override readonly cause: unknown,
  ) {
    super('model-runtime', `model ${modelId} failed to run`);
  }
}

export interface ErrorResponse {
  status: number;
  body: { code: string; message: string };
}

/**
 * The response for an error in an area. A kind the area does not list takes the service-wide entry (an unknown
 * route is a 404 everywhere), else the area's internal error.
 */
export function errorResponse(area: ApiArea, kind: ErrorKind, detail?: string): ErrorResponse {
  const entry = errorCatalogue[area][kind] ?? errorCatalogue.service[kind] ?? errorCatalogue[area].internal ?? errorCatalogue.service.internal!;
  // printable() again: a name that reached a detail without clientName() still cannot put a control character on the wire.
  const message = detail ? `${entry.message.replace(/\.$/, '')}: ${printable(detail)}` : entry.message;
  return { status: entry.status, body: { code: entry.code, message } };
}
