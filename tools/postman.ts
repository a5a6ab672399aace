/**
 * Generates the Postman collection (v2.1) from the OpenAPI document: a folder per tag, a request per operation (two
 * for the liveness detect method, one per kind of body), the documented JSON examples as saved responses. The output
 * is deterministic, so that a test can keep docs/postman_collection.json in step with docs/openapi.json.
 *
 *   npx tsx tools/postman.ts     writes docs/postman_collection.json
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { fileURLToPath } from 'node:url';

export const openApiPath = fileURLToPath(new URL('../docs/openapi.json', import.meta.url));
export const postmanCollectionPath = fileURLToPath(new URL('../docs/postman_collection.json', import.meta.url));

// ---------------------------------------------------------------- the parts of OpenAPI 3.1 this project uses

export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  description?: string;
  examples?: unknown[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
}

export interface ExampleObject {
  summary?: string;
  value: unknown;
}

export interface EncodingObject {
  /** Comma-separated media types the part may declare. */
  contentType?: string;
  headers?: Record<string, HeaderObject>;
}

export interface MediaTypeObject {
  schema?: JsonSchema;
  encoding?: Record<string, EncodingObject>;
  examples?: Record<string, ExampleObject>;
}

export interface HeaderObject {
  $ref?: string;
  description?: string;
  required?: boolean;
  schema?: JsonSchema;
}

export interface ResponseObject {
  $ref?: string;
  /** The status of an answer that belongs to no operation (unknown route, wrong method). */
  'x-status'?: number;
  description?: string;
  headers?: Record<string, HeaderObject>;
  content?: Record<string, MediaTypeObject>;
}

export interface ParameterObject {
  $ref?: string;
  name?: string;
  in?: string;
  description?: string;
  required?: boolean;
  schema?: JsonSchema;
}

export interface RequestBodyObject {
  description?: string;
  required?: boolean;
  content: Record<string, MediaTypeObject>;
}

export interface Operation {
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  parameters?: ParameterObject[];
  requestBody?: RequestBodyObject;
  responses: Record<string, ResponseObject>;
}

export const httpMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type HttpMethod = (typeof httpMethods)[number];

export type PathItem = Partial<Record<HttpMethod, Operation>> & {
  /** The answer to a method the path does not serve. */
  'x-method-not-allowed'?: ResponseObject;
};


export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  servers: { url: string; description?: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, PathItem>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, ResponseObject>;
    parameters: Record<string, ParameterObject>;
    headers: Record<string, HeaderObject>;
  };
  /** The answer to any method on a path the document does not list. */
  'x-unknown-route': ResponseObject;
  'x-client-closed': ResponseObject;
  /** The answer to a request framed so that it could smuggle another. */
  'x-bad-framing': ResponseObject;
  /** Catalogue codes that no route answers today. */
}

export function readOpenApiDocument(): OpenApiDocument {
  return JSON.parse(readFileSync(openApiPath, 'utf8')) as OpenApiDocument;
}

/** Follows a local `$ref` (`#/components/…`) to what it points at; anything else is returned as it is. */
export function resolveRef<T extends { $ref?: string }>(document: OpenApiDocument, value: T): T {
  if (value.$ref === undefined) return value;
  if (!value.$ref.startsWith('#/')) throw new Error(`only local references are supported: ${value.$ref}`);
  let target: unknown = document;
  for (const segment of value.$ref.slice(2).split('/')) {
    const key = segment.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof target !== 'object' || target === null || !(key in target)) throw new Error(`unresolved reference ${value.$ref}`);
    target = (target as Record<string, unknown>)[key];
  }
  return resolveRef(document, target as T);
}

export function operationsOf(document: OpenApiDocument): { path: string; method: HttpMethod; operation: Operation }[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    httpMethods.flatMap((method) => {
      const operation = item[method];
      return operation ? [{ path, method, operation }] : [];
    }),
  );
}

// ---------------------------------------------------------------- Postman collection v2.1

interface PostmanHeader {
  key: string;
  value: string;
  disabled?: boolean;
  description?: string;
}

type PostmanFormField =
  | { key: string; type: 'file'; src: string[]; contentType?: string; description?: string }
  | { key: string; type: 'text'; value: string; contentType?: string; description?: string };

type PostmanBody = { mode: 'file'; file: { src: string } } | { mode: 'formdata'; formdata: PostmanFormField[] };

interface PostmanRequest {
  method: string;
  header: PostmanHeader[];
  body?: PostmanBody;
  url: { raw: string; host: string[]; path: string[] };
  description: string;
}

interface PostmanResponse {
  name: string;
  status: string;
  code: number;
  _postman_previewlanguage: 'json';
  header: PostmanHeader[];
  body: string;
}

interface PostmanRequestItem {
  name: string;
  request: PostmanRequest;
  response: PostmanResponse[];
}

interface PostmanFolder {
  name: string;
  description: string;
  item: PostmanRequestItem[];
}

export interface PostmanCollection {
  info: { _postman_id: string; name: string; description: string; schema: string };
  item: PostmanFolder[];
  variable: { key: string; value: string; type: 'string' }[];
}

const SCHEMA = 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json';
const BASE_URL = 'baseUrl';

/** A UUID-shaped id derived from a name, so that regenerating the collection changes nothing. */
function stableId(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The Content-Type to declare for a part: only when the document allows one type (text/plain aside, which stands for
 * none). Where several fit, Postman's guess from the chosen file is right and a fixed one would be wrong: a PNG sent
 * as image/jpeg is refused.
 */
function fixedPartType(encoding: EncodingObject | undefined): string | undefined {
  const types = (encoding?.contentType ?? '').split(',').map((type) => type.trim()).filter((type) => type && type !== 'text/plain');
  return types.length === 1 ? types[0] : undefined;
}

const isBinary = (schema: JsonSchema): boolean => schema.type === 'string' && schema.format === 'binary';

function formFields(document: OpenApiDocument, media: MediaTypeObject): PostmanFormField[] {
  const schema = resolveRef(document, media.schema ?? {});
  return Object.entries(schema.properties ?? {}).flatMap(([name, property]): PostmanFormField[] => {
    const declared = resolveRef(document, property);
    const repeated = declared.type === 'array';
    const part = resolveRef(document, repeated ? (declared.items ?? {}) : declared);
    const contentType = fixedPartType(media.encoding?.[name]);
    const description = [property.description ?? declared.description, repeated ? 'Repeat the part for each candidate, each with its own file.' : undefined]
      .filter((text): text is string => !!text)
      .join(' ');
    const field = (): PostmanFormField =>
      isBinary(part)
        ? { key: name, type: 'file', src: [], ...(contentType ? { contentType } : {}), description }
        : { key: name, type: 'text', value: typeof part.examples?.[0] === 'string' ? part.examples[0] : '', ...(contentType ? { contentType } : {}), description };
    return repeated ? [field(), field()] : [field()];
  });
}

/** The request bodies an operation gets in Postman: one per kind (a single image, or a multipart form). */
function bodyVariants(document: OpenApiDocument, operation: Operation): { label: string | undefined; contentType: string | undefined; body: PostmanBody | undefined }[] {
  const content = operation.requestBody?.content;
  if (!content) return [{ label: undefined, contentType: undefined, body: undefined }];
  const mediaTypes = Object.keys(content);
  const image = mediaTypes.find((type) => type.startsWith('image/'));
  const form = content['multipart/form-data'];
  const variants: { label: string | undefined; contentType: string | undefined; body: PostmanBody }[] = [];
  const labelled = image !== undefined && form !== undefined;
  if (image) variants.push({ label: labelled ? 'single image' : undefined, contentType: image, body: { mode: 'file', file: { src: '' } } });
  if (form) variants.push({ label: labelled ? 'folder' : undefined, contentType: undefined, body: { mode: 'formdata', formdata: formFields(document, form) } });
  if (variants.length === 0) throw new Error(`${operation.operationId}: no request body Postman can send (${mediaTypes.join(', ')})`);
  return variants;
}

function headers(document: OpenApiDocument, operation: Operation, contentType: string | undefined): PostmanHeader[] {
  const list: PostmanHeader[] = contentType ? [{ key: 'Content-Type', value: contentType }] : [];
  for (const parameter of (operation.parameters ?? []).map((p) => resolveRef(document, p))) {
    if (parameter.in !== 'header' || !parameter.name) continue;
    const value = parameter.schema?.enum?.[0] ?? (parameter.name === 'X-Request-Id' ? '{{$guid}}' : '');
    list.push({ key: parameter.name, value: String(value), disabled: true, ...(parameter.description ? { description: parameter.description } : {}) });
  }
  return list;
}

function savedResponses(document: OpenApiDocument, operation: Operation): PostmanResponse[] {
  return Object.entries(operation.responses).flatMap(([status, declared]) => {
    const response = resolveRef(document, declared);
    const examples = response.content?.['application/json']?.examples ?? {};
    return Object.entries(examples).map(([key, example]) => ({
      name: `${status} ${example.summary ?? key}`,
      status: STATUS_CODES[Number(status)] ?? status,
      code: Number(status),
      _postman_previewlanguage: 'json' as const,
      header: [{ key: 'Content-Type', value: 'application/json' }],
      body: JSON.stringify(example.value, null, 2),
    }));
  });
}

export function postmanCollection(document: OpenApiDocument): PostmanCollection {
  const baseUrl = document.servers[0]?.url;
  if (!baseUrl) throw new Error('the OpenAPI document names no server');
  const requests = operationsOf(document).flatMap(({ path, method, operation }) =>
    bodyVariants(document, operation).map(({ label, contentType, body }) => {
      const name = path.split('/').at(-1) ?? path;
      const item: PostmanRequestItem = {
        name: label ? `${name} (${label})` : name,
        request: {
          method: method.toUpperCase(),
          header: headers(document, operation, contentType),
          ...(body ? { body } : {}),
          url: { raw: `{{${BASE_URL}}}${path}`, host: [`{{${BASE_URL}}}`], path: path.split('/').filter(Boolean) },
          description: [`**${operation.summary}**`, operation.description].filter((text): text is string => !!text).join('\n\n'),
        },
        response: savedResponses(document, operation),
      };
      return { tag: operation.tags[0], item };
    }),
  );
  return {
    info: { _postman_id: stableId(document.info.title), name: document.info.title, description: document.info.description, schema: SCHEMA },
    item: document.tags.map((tag) => ({
      name: tag.name,
      description: tag.description,
      item: requests.filter((request) => request.tag === tag.name).map((request) => request.item),
    })),
    variable: [{ key: BASE_URL, value: baseUrl, type: 'string' }],
  };
}

export const renderPostmanCollection = (document: OpenApiDocument): string => `${JSON.stringify(postmanCollection(document), null, 2)}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(postmanCollectionPath, renderPostmanCollection(readOpenApiDocument()));
  process.stdout.write(`wrote ${postmanCollectionPath}\n`);
}
