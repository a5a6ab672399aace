/**
 * docs/openapi.json against the real service: the document is valid OpenAPI 3.1, lists exactly the routes and error
 * codes the app has, and every real answer (success and errors, on every route) is documented for its route: status,
 * content type, headers and body schema. Schemas are strict (no undocumented field passes), so a field, status,
 * content type or route missing from the document fails here. The Postman collection generated from it is checked
 * to be up to date.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { METHODS } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import busboy from 'busboy';
import type { Express } from 'express';
import { createApp } from '../../src/app.js';
import { composeApp } from '../../src/compose.js';
import { errorCatalogue } from '../../src/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  type HeaderObject,
  type HttpMethod,
  httpMethods,
  type JsonSchema,
  type MediaTypeObject,
  openApiPath,
  operationsOf,
  postmanCollectionPath,
  readOpenApiDocument,
  renderPostmanCollection,
  resolveRef,
  type ResponseObject,
} from '../../tools/postman.js';
import { needsData, readData } from '../helpers/data.js';
import { postMultipart, type RawPart } from '../helpers/multipart.js';
import { postImage, type TestService, startService } from '../helpers/service.js';
import { zip } from '../helpers/zip.js';

const document = readOpenApiDocument();

// ---------------------------------------------------------------- schemas of the document, compiled by pointer

const DOCUMENT_ID = 'openapi.json';
const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true, strictTypes: true });
addFormats.default(ajv);
// OpenAPI's marker for bytes: there is nothing to check in a string that stands for them.
ajv.addFormat('binary', true);
// The whole document is the root that the $refs of its schemas resolve against: its top-level fields are no keywords.
for (const field of Object.keys(document)) ajv.addKeyword(field);
ajv.addSchema({ ...document }, DOCUMENT_ID);

const unescapePointer = (segment: string): string => segment.replaceAll('~1', '/').replaceAll('~0', '~');
const pointer = (at: readonly string[]): string =>
  `${DOCUMENT_ID}#/${at.map((segment) => encodeURIComponent(segment.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/')}`;

function schemaAt(at: readonly string[]): ValidateFunction {
  const validate = ajv.getSchema(pointer(at));
  assert.ok(validate, `no schema at ${at.join(' › ')}`);
  return validate;
}

function assertValid(at: readonly string[], value: unknown, label: string): void {
  const validate = schemaAt(at);
  assert.ok(validate(value), `${label}: ${ajv.errorsText(validate.errors, { dataVar: 'body' })}\n${JSON.stringify(value).slice(0, 600)}`);
}

interface Located<T> {
  value: T;
  /** Where the value sits in the document, as JSON-pointer segments (after following its $ref). */
  at: string[];
}

function valueAt(at: readonly string[]): unknown {
  let value: unknown = document;
  for (const segment of at) value = (value as Record<string, unknown>)[segment];
  return value;
}

function locate<T extends { $ref?: string }>(value: T, at: string[]): Located<T> {
  if (value.$ref === undefined) return { value, at };
  const target = value.$ref.slice(2).split('/').map(unescapePointer);
  return locate(valueAt(target) as T, target);
}

// ---------------------------------------------------------------- real answers against the document

const isHttpMethod = (method: string): method is HttpMethod => (httpMethods as readonly string[]).includes(method);

/** What the document says an answer to (method, path) with this status looks like. */
function documentedResponse(method: string, path: string, status: number): Located<ResponseObject> {
  const item = document.paths[path];
  const lower = method.toLowerCase();
  let located: Located<ResponseObject>;
  if (!item) {
    located = locate(document['x-unknown-route'], ['x-unknown-route']);
  } else if (isHttpMethod(lower) && item[lower]) {
    const response = item[lower].responses[String(status)];
    assert.ok(response, `${method} ${path} answered ${status}, which the document does not list for it`);
    return locate(response, ['paths', path, lower, 'responses', String(status)]);
  } else {
    assert.ok(item['x-method-not-allowed'], `${path} documents no answer to a wrong method`);
    located = locate(item['x-method-not-allowed'], ['paths', path, 'x-method-not-allowed']);
  }
  assert.equal(status, located.value['x-status'], `${method} ${path}: the document gives status ${located.value['x-status']}`);
  return located;
}

interface ResponsePart {
  name: string;
  filename: string | undefined;
  contentType: string;
  bytes: Buffer;
}

function parseMultipart(contentType: string, body: Buffer): Promise<ResponsePart[]> {
  return new Promise((resolve, reject) => {
    const parts: ResponsePart[] = [];
    const parser = busboy({ headers: { 'content-type': contentType } });
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => parts.push({ name, filename: info.filename, contentType: info.mimeType, bytes: Buffer.concat(chunks) }));
    });
    parser.on('field', (name, value, info) => parts.push({ name, filename: undefined, contentType: info.mimeType, bytes: Buffer.from(value) }));
    parser.on('close', () => resolve(parts));
    parser.on('error', reject);
    parser.end(body);
  });
}

const mediaTypeOf = (contentType: string | null): string => (contentType ?? '').split(';')[0]!.trim().toLowerCase();

/** A media type against an encoding's list, which may hold ranges such as video/*. */
const allows = (list: string, type: string): boolean =>
  list.split(',').some((entry) => {
    const allowed = entry.trim();
    return allowed === type || (allowed.endsWith('/*') && type.startsWith(allowed.slice(0, -1)));
  });

function headerValue(header: HeaderObject, raw: string): unknown {
  const type = header.schema?.type;
  return type === 'integer' || type === 'number' ? Number(raw) : raw;
}

interface Sent {
  method: string;
  path: string;
  response: Response;
}

interface Answer {
  json: unknown;
  bytes: Buffer;
  headers: Headers;
  parts: Map<string, ResponsePart>;
}

/** (operation, status) pairs seen in real answers. */
const exercised = new Set<string>();

async function expectAnswer(sending: Promise<Sent>, status: number, code?: string): Promise<Answer> {
  const { method, path, response } = await sending;
  const bytes = Buffer.from(await response.arrayBuffer());
  const label = `${method} ${path} → ${response.status}`;
  assert.equal(response.status, status, `${label}: ${bytes.toString('utf8', 0, 400)}`);
  const { value: documented, at } = documentedResponse(method, path, response.status);
  if (document.paths[path]?.[method.toLowerCase() as HttpMethod]) exercised.add(`${method} ${path} ${status}`);

  assert.ok(documented.headers?.['X-Request-Id'], `${label}: the document does not give this answer X-Request-Id`);
  for (const [name, declared] of Object.entries(documented.headers ?? {})) {
    const { value: header, at: headerAt } = locate(declared, [...at, 'headers', name]);
    const actual = response.headers.get(name);
    if (actual === null) {
      assert.ok(!header.required, `${label}: the required header ${name} is missing`);
      continue;
    }
    assertValid([...headerAt, 'schema'], headerValue(header, actual), `${label}: header ${name}`);
  }

  const contentType = response.headers.get('content-type');
  const mediaType = mediaTypeOf(contentType);
  const content: MediaTypeObject | undefined = documented.content?.[mediaType];
  assert.ok(content, `${label}: ${mediaType} is not documented (documented: ${Object.keys(documented.content ?? {}).join(', ')})`);
  if (code !== undefined) assert.equal(mediaType, 'application/json', `${label}: an error is JSON`);
  const schema = [...at, 'content', mediaType, 'schema'];
  const answer: Answer = { json: undefined, bytes, headers: response.headers, parts: new Map() };
  if (mediaType === 'application/json') {
    answer.json = JSON.parse(bytes.toString('utf8'));
    assertValid(schema, answer.json, label);
    if (code !== undefined) assert.equal((answer.json as { code?: unknown }).code, code, label);
  } else if (mediaType === 'multipart/form-data') {
    const fields: Record<string, unknown> = {};
    for (const part of await parseMultipart(contentType!, bytes)) {
      const allowed = content.encoding?.[part.name]?.contentType;
      assert.ok(allowed && allows(allowed, part.contentType), `${label}: part ${part.name} is ${part.contentType}; documented: ${allowed}`);
      answer.parts.set(part.name, part);
      fields[part.name] = part.contentType === 'application/json' ? JSON.parse(part.bytes.toString('utf8')) : part.bytes.toString('latin1');
    }
    assertValid(schema, fields, label);
  } else {
    assertValid(schema, bytes.toString('latin1'), label);
  }
  return answer;
}

/** A template as documented (TemplateBase64 is its text); returns its bytes. */
function assertTemplate(bytes: Buffer, base64: boolean): Buffer {
  const text = base64 ? bytes.toString('latin1') : bytes.toString('base64');
  assertValid(['components', 'schemas', 'TemplateBase64'], text, 'template');
  return base64 ? Buffer.from(text, 'base64') : bytes;
}

// ---------------------------------------------------------------- requests

const EXTRACT = '/v1/face/pattern/extract';
const COMPARE = '/v1/face/pattern/compare';
const VERIFY = '/v1/face/pattern/verify';
const EXTRACT_AND_COMPARE = '/v1/face/pattern/extract_and_compare';
const COMPARE_N = '/v1/face/pattern/compare_n';
const VERIFY_N = '/v1/face/pattern/verify_n';
const EXTRACT_AND_COMPARE_N = '/v1/face/pattern/extract_and_compare_n';
const DETECT = '/v1/face/liveness/detect';
const BASE64 = { 'content-transfer-encoding': 'base64' };

const photos = {
  obama: await readData('faces/face_recognition_examples/barack_obama/obama.jpg'),
  obama2: await readData('faces/face_recognition_examples/barack_obama/obama2.jpg'),
  biden: await readData('faces/face_recognition_examples/joe_biden/biden.jpg'),
  group: await readData('multi_face/face_recognition/two_people.jpg'),
  coffee: await readData('no_face/skimage/coffee.png'),
  live: await readData('spoof/silent_face/real/image_T1.jpg'),
  attack: await readData('spoof/silent_face/spoof/image_F1.jpg'),
  selfie: await readData('video/selfie_6s.mp4'),
};

const sendImage = async (service: TestService, path: string, body: Buffer | string, contentType: string, headers: Record<string, string> = {}): Promise<Sent> => ({
  method: 'POST',
  path,
  response: await postImage(`${service.url}${path}`, body, contentType, headers),
});

const sendParts = async (service: TestService, path: string, parts: RawPart[], headers: Record<string, string> = {}): Promise<Sent> => ({
  method: 'POST',
  path,
  response: await postMultipart(`${service.url}${path}`, parts, headers),
});

const send = async (service: TestService, method: string, path: string, init: RequestInit = {}): Promise<Sent> => ({
  method,
  path,
  response: await fetch(`${service.url}${path}`, { ...init, method }),
});

const template = (name: string, body: Buffer | string, filename?: string): RawPart => ({
  name,
  body,
  contentType: 'application/octet-stream',
  ...(filename ? { filename } : {}),
});
const image = (name: string, body: Buffer, filename?: string): RawPart => ({ name, body, contentType: 'image/jpeg', ...(filename ? { filename } : {}) });

/** A request whose head and first body bytes are sent, and the rest never: it resolves with the answer once the connection closes. */
function slowRequest(service: TestService, path: string, contentType: string, body: Buffer): Promise<Sent> {
  const { port } = new URL(service.url);
  const socket = connect(Number(port), '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`);
  socket.write(body.subarray(0, 100));
  return new Promise((resolve) => {
    socket.on('close', () => {
      const raw = Buffer.concat(received);
      const headEnd = raw.indexOf('\r\n\r\n');
      const [statusLine, ...headerLines] = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
      const headers = new Headers(headerLines.map((line): [string, string] => [line.slice(0, line.indexOf(':')).trim(), line.slice(line.indexOf(':') + 1).trim()]));
      const status = Number(statusLine?.split(' ')[1]);
      resolve({ method: 'POST', path, response: new Response(raw.subarray(headEnd + 4), { status, headers }) });
    });
  });
}

// ---------------------------------------------------------------- the document itself

/** Where every schema of the document sits, for compiling each of them. */
function schemaLocations(): string[][] {
  const locations: string[][] = [];
  const components = document.components;
  for (const name of Object.keys(components.schemas)) locations.push(['components', 'schemas', name]);
  for (const kind of ['parameters', 'headers'] as const) {
    for (const [name, entry] of Object.entries(components[kind])) if (entry.schema) locations.push(['components', kind, name, 'schema']);
  }
  const contents = (at: string[], content: Record<string, MediaTypeObject> | undefined): void => {
    for (const [mediaType, media] of Object.entries(content ?? {})) if (media.schema) locations.push([...at, 'content', mediaType, 'schema']);
  };
  const responses: [string[], ResponseObject][] = Object.entries(components.responses).map(([name, response]) => [['components', 'responses', name], response]);
  for (const { path, method, operation } of operationsOf(document)) {
    const at = ['paths', path, method];
    if (operation.requestBody) contents([...at, 'requestBody'], operation.requestBody.content);
    for (const [status, response] of Object.entries(operation.responses)) responses.push([[...at, 'responses', status], response]);
  }
  for (const [at, response] of responses) {
    if (response.$ref) continue;
    contents(at, response.content);
    for (const [name, header] of Object.entries(response.headers ?? {})) if (!header.$ref && header.schema) locations.push([...at, 'headers', name, 'schema']);
  }
  return locations;
}

function errorCodesOf(response: ResponseObject): string[] {
  const schema = response.content?.['application/json']?.schema;
  if (schema?.$ref !== '#/components/schemas/Error') return [];
  const code = schema.properties?.code;
  return code?.const !== undefined ? [String(code.const)] : (code?.enum ?? []).map(String);
}

/** Every error code the document lists, with the statuses it lists it under. */
function documentedErrorCodes(): Map<string, Set<number>> {
  const codes = new Map<string, Set<number>>();
  const add = (status: number | undefined, response: ResponseObject): void => {
    assert.ok(status !== undefined);
    for (const code of errorCodesOf(resolveRef(document, response))) codes.set(code, (codes.get(code) ?? new Set()).add(status));
  };
  for (const { operation } of operationsOf(document)) {
    for (const [status, response] of Object.entries(operation.responses)) add(Number(status), response);
  }
  const methodAnswers = Object.values(document.paths).flatMap((item) => (item['x-method-not-allowed'] ? [item['x-method-not-allowed']] : []));
  for (const response of [document['x-unknown-route'], document['x-client-closed'], document['x-bad-framing'], ...methodAnswers]) {
    add(resolveRef(document, response)['x-status'], response);
  }
  return codes;
}

/** The (method, path) pairs an express app serves, read from its router. */
function registeredRoutes(app: Express): string[] {
  const routes = new Set<string>();
  for (const layer of app.router.stack) {
    if (!layer.route) continue;
    const methods = new Set(layer.route.stack.map((handler) => handler.method));
    // app.all() registers its handler for every method: that is the wrong-method answer, not a route.
    if (methods.size === METHODS.length) continue;
    for (const method of methods) routes.add(`${method.toUpperCase()} ${layer.route.path}`);
  }
  return [...routes].sort();
}

describe('docs/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(openApiPath);
    assert.equal(document.openapi, '3.1.0');
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
  });

  it('has schemas that compile as strict JSON Schema 2020-12, and examples that fit them', () => {
    const locations = schemaLocations();
    assert.ok(locations.length > 50);
    for (const at of locations) schemaAt(at);
    for (const at of locations.filter((location) => location.at(-3) === 'content')) {
      const media = valueAt(at.slice(0, -1)) as MediaTypeObject;
      for (const [name, example] of Object.entries(media.examples ?? {})) assertValid(at, example.value, `example ${name} at ${at.join(' › ')}`);
      // JSON carried in a part (the liveness payload): its examples against the schema of the JSON.
      for (const [name, property] of Object.entries(media.schema?.properties ?? {})) {
        const { contentMediaType, contentSchema, examples } = property as JsonSchema & { contentMediaType?: string; contentSchema?: JsonSchema };
        if (contentMediaType !== 'application/json' || !contentSchema) continue;
        for (const example of examples ?? []) assertValid([...at, 'properties', name, 'contentSchema'], JSON.parse(String(example)), `example of part ${name}`);
      }
    }
  });

  it('lists every code of the error catalogue under its status, and no other code', () => {
    const catalogue = Object.values(errorCatalogue).flatMap((area) => Object.values(area).map((entry) => [entry.code, [entry.status]] as const));
    const documented = [...documentedErrorCodes()].map(([code, statuses]) => [code, [...statuses]] as const);
    assert.deepEqual(documented.sort(), [...new Map(catalogue)].sort());
  });

  it('has an up-to-date Postman collection', async () => {
    const committed = await readFile(postmanCollectionPath, 'utf8');
    assert.ok(committed === renderPostmanCollection(document), 'docs/postman_collection.json is out of date: run npx tsx tools/postman.ts');
  });
});

describe('the real service answers as documented', needsData, () => {
  let service: TestService;
  const templates: Record<'obama' | 'obama2' | 'biden', Buffer> = { obama: Buffer.alloc(0), obama2: Buffer.alloc(0), biden: Buffer.alloc(0) };

  before(async () => {
    service = await startService();
    for (const name of ['obama', 'obama2', 'biden'] as const) {
      templates[name] = assertTemplate((await expectAnswer(sendImage(service, EXTRACT, photos[name], 'image/jpeg'), 200)).bytes, false);
    }
  });
  after(() => service.close());

  it('registers exactly the routes the document lists', () => {
    const app = createApp(composeApp(service.config, service.registry, createLogger('silent'), () => ({ status: 0, message: '' })));
    const documented = operationsOf(document).map(({ path, method }) => `${method.toUpperCase()} ${path}`);
    assert.deepEqual(registeredRoutes(app.express), documented.sort());
  });

  it('GET /version, /metrics and /openapi.json', async () => {
    const version = await expectAnswer(send(service, 'GET', '/version', { headers: { 'x-request-id': 'openapi-test:1' } }), 200);
    assert.equal(version.headers.get('x-request-id'), 'openapi-test:1');
    assert.equal(document.info.version, (version.json as { core: string }).core, 'the document describes this version of the service');
    const metrics = await expectAnswer(send(service, 'GET', '/metrics'), 200);
    assert.match(metrics.bytes.toString(), /^# TYPE http_request_duration_seconds histogram$/m);
    const served = await expectAnswer(send(service, 'GET', '/openapi.json'), 200);
    assert.deepEqual(served.json, document, 'GET /openapi.json serves docs/openapi.json');

    await expectAnswer(send(service, 'POST', '/version'), 400, 'SVC-002002');
    await expectAnswer(send(service, 'PUT', '/metrics'), 400, 'SVC-002002');
    await expectAnswer(send(service, 'DELETE', '/openapi.json'), 400, 'SVC-002002');
  });

  it('GET the two health methods', async () => {
    await expectAnswer(send(service, 'GET', '/v1/face/pattern/health'), 200);
    await expectAnswer(send(service, 'GET', '/v1/face/liveness/health'), 200);
    await expectAnswer(send(service, 'POST', '/v1/face/pattern/health'), 400, 'BPE-002002');
    await expectAnswer(send(service, 'DELETE', '/v1/face/liveness/health'), 400, 'LDE-002002');
  });

  it('POST extract', async () => {
    const base64 = await expectAnswer(sendImage(service, EXTRACT, photos.obama.toString('base64'), 'image/jpeg', BASE64), 200);
    assert.equal(base64.headers.get('content-transfer-encoding'), 'base64');
    assert.deepEqual(assertTemplate(base64.bytes, true), templates.obama);

    await expectAnswer(sendImage(service, EXTRACT, photos.obama, 'text/plain'), 400, 'BPE-002001');
    await expectAnswer(sendImage(service, EXTRACT, photos.coffee, 'image/jpeg'), 400, 'BPE-002003');
    await expectAnswer(sendImage(service, EXTRACT, '@@not base64@@', 'image/jpeg', BASE64), 400, 'BPE-002003');
    await expectAnswer(sendImage(service, EXTRACT, photos.coffee, 'image/png'), 400, 'BPE-003002');
    await expectAnswer(sendImage(service, EXTRACT, photos.group, 'image/jpeg'), 400, 'BPE-003003');
    await expectAnswer(sendImage(service, EXTRACT, Buffer.alloc(service.config.maxImageBytes + 1), 'image/jpeg'), 413, 'BPE-002006');
    await expectAnswer(send(service, 'GET', EXTRACT), 400, 'BPE-002002');
  });

  it('POST compare', async () => {
    const same = await expectAnswer(sendParts(service, COMPARE, [template('bio_feature', templates.obama), template('bio_template', templates.obama2)]), 200);
    assert.equal((same.json as { decision: string }).decision, 'approved');
    const other = await expectAnswer(sendParts(service, COMPARE, [template('bio_feature', templates.obama), template('bio_template', templates.biden)]), 200);
    assert.equal((other.json as { decision: string }).decision, 'declined');
    const base64Parts = [template('bio_feature', templates.obama.toString('base64')), template('bio_template', templates.obama.toString('base64'))];
    assert.deepEqual((await expectAnswer(sendParts(service, COMPARE, base64Parts, BASE64), 200)).json, { score: 1, decision: 'approved' });

    await expectAnswer(sendImage(service, COMPARE, templates.obama, 'application/octet-stream'), 400, 'BPE-002001');
    await expectAnswer(sendParts(service, COMPARE, [template('bio_feature', templates.obama), template('bio_template', templates.obama.subarray(0, 100))]), 400, 'BPE-002004');
    await expectAnswer(sendParts(service, COMPARE, [image('bio_feature', templates.obama), template('bio_template', templates.obama)]), 400, 'BPE-002005');
    const extra = [template('bio_feature', templates.obama), template('bio_template', templates.obama), template('extra', templates.obama)];
    await expectAnswer(sendParts(service, COMPARE, extra), 400, 'BPE-002007');
    await expectAnswer(send(service, 'PUT', COMPARE), 400, 'BPE-002002');
  });

  it('POST verify answers multipart: the score and the sample template, raw or base64', async () => {
    const raw = await expectAnswer(sendParts(service, VERIFY, [image('sample', photos.obama2), template('bio_template', templates.obama)]), 200);
    assert.equal(JSON.parse(raw.parts.get('score')!.bytes.toString()).decision, 'approved');
    assert.equal(raw.parts.get('bio_feature')!.filename, 'bio_feature');
    assert.deepEqual(assertTemplate(raw.parts.get('bio_feature')!.bytes, false), templates.obama2);

    const base64Parts = [image('sample', Buffer.from(photos.obama2.toString('base64'))), template('bio_template', templates.obama.toString('base64'))];
    const base64 = await expectAnswer(sendParts(service, VERIFY, base64Parts, BASE64), 200);
    assert.deepEqual(assertTemplate(base64.parts.get('bio_feature')!.bytes, true), templates.obama2);

    await expectAnswer(sendParts(service, VERIFY, [template('bio_template', templates.obama)]), 400, 'BPE-002003');
    await expectAnswer(sendParts(service, VERIFY, [{ name: 'sample', body: photos.coffee }, template('bio_template', templates.obama)]), 400, 'BPE-003002');
    await expectAnswer(sendParts(service, VERIFY, [image('sample', photos.obama), template('bio_template', 'not a template')]), 400, 'BPE-002004');
    await expectAnswer(send(service, 'GET', VERIFY), 400, 'BPE-002002');
  });

  it('POST extract_and_compare', async () => {
    await expectAnswer(sendParts(service, EXTRACT_AND_COMPARE, [image('sample_1', photos.obama), image('sample_2', photos.obama2)]), 200);
    await expectAnswer(sendParts(service, EXTRACT_AND_COMPARE, [image('sample_1', photos.obama)]), 400, 'BPE-002003');
    await expectAnswer(sendParts(service, EXTRACT_AND_COMPARE, [image('sample_1', photos.obama), image('sample_1', photos.obama), image('sample_2', photos.biden)]), 400, 'BPE-002007');
    await expectAnswer(sendParts(service, EXTRACT_AND_COMPARE, [image('sample_1', photos.obama), image('sample_2', photos.group)]), 400, 'BPE-003003');
    await expectAnswer(send(service, 'GET', EXTRACT_AND_COMPARE), 400, 'BPE-002002');
  });

  it('POST compare_n', async () => {
    const candidates = [template('templates_n', templates.obama2, '1.template'), template('templates_n', templates.biden, '2.template')];
    const answer = await expectAnswer(sendParts(service, COMPARE_N, [template('template_1', templates.obama), ...candidates]), 200);
    assert.deepEqual(
      (answer.json as { results: { filename: string; decision: string }[] }).results.map((r) => [r.filename, r.decision]),
      [['1.template', 'approved'], ['2.template', 'declined']],
    );
    await expectAnswer(sendParts(service, COMPARE_N, [template('template_1', templates.obama), template('templates_n', templates.obama2)]), 400, 'BPE-002007');
    const unreadable = [template('template_1', templates.obama), candidates[0]!, template('templates_n', templates.biden.subarray(1), 'bad.template')];
    const error = await expectAnswer(sendParts(service, COMPARE_N, unreadable), 400, 'BPE-002004');
    assert.match((error.json as { message: string }).message, /template 2 \("bad\.template"\)/);
    await expectAnswer(send(service, 'GET', COMPARE_N), 400, 'BPE-002002');
  });

  it('POST verify_n', async () => {
    const candidates = [template('templates_n', templates.obama2, '1.template'), template('templates_n', templates.biden, '2.template')];
    await expectAnswer(sendParts(service, VERIFY_N, [image('sample_1', photos.obama), ...candidates]), 200);
    await expectAnswer(sendParts(service, VERIFY_N, [image('sample_1', photos.group), ...candidates]), 400, 'BPE-003003');
    await expectAnswer(sendParts(service, VERIFY_N, [image('sample_1', photos.obama), candidates[0]!, image('extra', photos.obama)]), 400, 'BPE-002007');
    await expectAnswer(send(service, 'GET', VERIFY_N), 400, 'BPE-002002');
  });

  it('POST extract_and_compare_n', async () => {
    const candidates = [image('samples_n', photos.obama2, '1.jpeg'), image('samples_n', photos.biden, '2.jpeg')];
    await expectAnswer(sendParts(service, EXTRACT_AND_COMPARE_N, [image('sample_1', photos.obama), ...candidates]), 200);
    await expectAnswer(sendParts(service, EXTRACT_AND_COMPARE_N, [{ name: 'sample_1', body: photos.obama, contentType: 'text/html' }, ...candidates]), 400, 'BPE-002005');
    await expectAnswer(sendParts(service, EXTRACT_AND_COMPARE_N, [image('sample_1', photos.obama), image('samples_n', photos.coffee, 'coffee.jpeg')]), 400, 'BPE-002003');
    await expectAnswer(send(service, 'GET', EXTRACT_AND_COMPARE_N), 400, 'BPE-002002');
  });

  it('POST liveness detect: a single image', async () => {
    const attack = await expectAnswer(sendImage(service, DETECT, photos.attack, 'image/jpeg'), 200);
    assert.equal((attack.json as { passed: boolean }).passed, false);
    const live = await expectAnswer(sendImage(service, DETECT, photos.live.toString('base64'), 'image/jpeg', BASE64), 200);
    assert.equal((live.json as { passed: boolean }).passed, true);

    await expectAnswer(sendImage(service, DETECT, photos.live, 'text/plain'), 400, 'LDE-002001');
    await expectAnswer(sendImage(service, DETECT, photos.coffee, 'image/png'), 400, 'LDE-002004');
    await expectAnswer(sendImage(service, DETECT, Buffer.alloc(service.config.maxImageBytes + 1), 'image/png'), 413, 'LDE-002006');
    await expectAnswer(send(service, 'GET', DETECT), 400, 'LDE-002002');
  });

  it('POST liveness detect: folders of a video, images, an archive and capture objects', async () => {
    const payload = (value: unknown): RawPart => ({ name: 'payload', contentType: 'application/json', body: JSON.stringify(value) });
    const bestShot = { analyses: [{ type: 'quality', meta_data: { k: 'v' }, params: { threshold_spoofing: 0.5, extract_best_shot: true } }] };
    const video = await expectAnswer(
      sendParts(service, DETECT, [{ name: 'media_key1', filename: 'selfie.mp4', contentType: 'multipart/form-data', body: photos.selfie }, payload({ ...bestShot, 'media:tags': { media_key1: ['video_selfie'] }, 'folder:meta_data': { id: 'p-1' } })]),
      200,
    );
    assert.equal((video.json as { system_resolution: string }).system_resolution, 'SUCCESS');

    const frames = zip([photos.live, photos.live].map((data, i) => ({ name: `frame_${i}.jpg`, data })));
    const images = await expectAnswer(
      sendParts(service, DETECT, [image('live', photos.live, 'live.jpg'), image('attack', photos.attack), { name: 'frames', filename: 'frames.zip', contentType: 'application/zip', body: frames }, payload(bestShot)]),
      200,
    );
    assert.equal((images.json as { system_resolution: string }).system_resolution, 'DECLINED');

    const dataUrl = `data:image/jpeg;base64,${photos.live.toString('base64')}`;
    const virtualCamera = { action: 'photo_selfie', best_frame: null, frame_list: null, from_virtual_camera: { best_frame: dataUrl, frame_list: [dataUrl] } };
    await expectAnswer(sendParts(service, DETECT, [{ name: 'capture', contentType: 'application/json', body: JSON.stringify(virtualCamera) }]), 200);

    const failed = await expectAnswer(sendParts(service, DETECT, [{ name: 'clip', filename: 'clip.mp4', contentType: 'video/mp4', body: 'not a video' }, image('blank', photos.coffee)]), 200);
    assert.equal((failed.json as { system_resolution: string }).system_resolution, 'FAILED');
    const none = await expectAnswer(sendParts(service, DETECT, [image('live', photos.live), payload({ analyses: [] })]), 200);
    assert.equal((none.json as { resolution_status: string }).resolution_status, 'INITIAL');

    await expectAnswer(sendParts(service, DETECT, [payload({})]), 400, 'LDE-002004');
    await expectAnswer(sendParts(service, DETECT, [{ name: 'live', contentType: 'text/html', body: photos.live }]), 400, 'LDE-002005');
    await expectAnswer(sendParts(service, DETECT, [image('live', photos.live), image('live', photos.live)]), 400, 'LDE-002007');
    await expectAnswer(sendParts(service, DETECT, [image('live', photos.live), payload({ analyses: [{ type: 'biometry' }] })]), 400, 'LDE-002008');
    const tooMany = Array.from({ length: service.config.maxImagesPerRequest + 2 }, (_, i) => image(`media_${i}`, photos.live));
    await expectAnswer(sendParts(service, DETECT, tooMany), 413, 'LDE-002006');
  });

  it('answers 404 SVC-004004 on unknown routes, whatever the method', async () => {
    await expectAnswer(send(service, 'GET', '/'), 404, 'SVC-004004');
    await expectAnswer(send(service, 'POST', '/v1/face/pattern/nope'), 404, 'SVC-004004');
    await expectAnswer(send(service, 'GET', '/v1/face/liveness/nope'), 404, 'SVC-004004');
    await expectAnswer(send(service, 'DELETE', '/v2/face/pattern/extract'), 404, 'SVC-004004');
  });
});

describe('the real service answers as documented when models fail', needsData, () => {
  it('a model runtime error is BPE-001002 / LDE-001002, and health then reports 3 with HTTP 503', async () => {
    const service = await startService({}, { modelId: 'fr_detect', fault: 'runtime-error' });
    try {
      await expectAnswer(sendImage(service, EXTRACT, photos.obama, 'image/jpeg'), 400, 'BPE-001002');
      await expectAnswer(sendParts(service, EXTRACT_AND_COMPARE, [image('sample_1', photos.obama), image('sample_2', photos.obama2)]), 400, 'BPE-001002');
      await expectAnswer(sendImage(service, DETECT, photos.live, 'image/jpeg'), 400, 'LDE-001002');
      await expectAnswer(send(service, 'GET', '/v1/face/pattern/health'), 503);
      await expectAnswer(send(service, 'GET', '/v1/face/liveness/health'), 503);
    } finally {
      await service.close();
    }
  });

  it('a model answering nonsense is an internal error, BPE-001001 / LDE-001001', async () => {
    const embedder = await startService({}, { modelId: 'fr_feature', fault: 'wrong-outputs' });
    try {
      await expectAnswer(sendImage(embedder, EXTRACT, photos.obama, 'image/jpeg'), 500, 'BPE-001001');
      await expectAnswer(sendParts(embedder, EXTRACT_AND_COMPARE, [image('sample_1', photos.obama), image('sample_2', photos.obama2)]), 500, 'BPE-001001');
    } finally {
      await embedder.close();
    }
    const antiSpoof = await startService({}, { modelId: 'fr_liveness', fault: 'wrong-outputs' });
    try {
      await expectAnswer(sendImage(antiSpoof, DETECT, photos.live, 'image/jpeg'), 500, 'LDE-001001');
    } finally {
      await antiSpoof.close();
    }
  });
});

describe('the real service answers as documented under load', needsData, () => {
  it('503 with Retry-After when the body budget is held and the queue is full, 408 when a body does not arrive', async () => {
    // A body that never comes holds the body budget (never an inference slot) until its deadline: with no queue, the
    // requests that do not fit beside it are refused at once.
    const budget = String(photos.obama.length);
    const service = await startService({ MAX_CONCURRENT_REQUESTS: '1', MAX_QUEUED_REQUESTS: '0', BODY_TIMEOUT_MS: '1000', MAX_INFLIGHT_BODY_BYTES: budget });
    try {
      const stalled = slowRequest(service, EXTRACT, 'image/jpeg', photos.obama);
      let refused: Answer | undefined;
      for (let attempt = 0; attempt < 50 && !refused; attempt++) {
        const { method, path, response } = await sendImage(service, EXTRACT, photos.obama, 'image/jpeg');
        if (response.status === 503) refused = await expectAnswer(Promise.resolve({ method, path, response }), 503, 'BPE-001003');
        else await response.arrayBuffer();
      }
      assert.ok(refused, 'the stalled request never held the body budget');
      await expectAnswer(sendImage(service, DETECT, photos.live, 'image/jpeg'), 503, 'LDE-001003');
      await expectAnswer(stalled, 408, 'BPE-002008');
      await expectAnswer(slowRequest(service, DETECT, 'image/jpeg', photos.live), 408, 'LDE-002009');
    } finally {
      await service.close();
    }
  });
});

describe('coverage', needsData, () => {
  it('every operation was seen answering a success and an error', () => {
    for (const { path, method } of operationsOf(document)) {
      const statuses = [...exercised].filter((entry) => entry.startsWith(`${method.toUpperCase()} ${path} `)).map((entry) => Number(entry.split(' ')[2]));
      assert.ok(statuses.some((status) => status < 300), `${method.toUpperCase()} ${path}: no success seen`);
      if (method !== 'get' || path.endsWith('/health')) {
        assert.ok(statuses.some((status) => status >= 400), `${method.toUpperCase()} ${path}: no documented error seen`);
      }
    }
  });
});
