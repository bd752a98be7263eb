/**
 * Apollo's OpenAPI document for the contract tests (test/apollo-contract.test.ts): the replies it
 * documents (status, content type, example body) and validators of request bodies against its
 * request schemas, tightened so that a field the document does not list fails.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

// ---------------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface MediaType {
  schema?: JsonObject;
  examples?: Record<string, { summary?: string; value: Json }>;
}
interface Operation {
  description?: string;
  requestBody?: { content: Record<string, MediaType> };
  parameters?: Array<{ name: string; in: string; schema: JsonObject }>;
  responses: Record<string, { content?: Record<string, MediaType> }>;
}
interface OpenApiDocument {
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, Record<string, Json>>;
}

// Kept in the repository with its provenance (docs/apollo/SOURCE.md).
const DOCUMENT_PATH = path.resolve(__dirname, '../../docs/apollo/apollo-openapi.json');
export const openApi = JSON.parse(fs.readFileSync(DOCUMENT_PATH, 'utf8')) as OpenApiDocument;

export type Endpoint = '/contacts' | '/contacts/search' | '/people/match';
export const ENDPOINTS: readonly Endpoint[] = ['/contacts', '/contacts/search', '/people/match'];
/** The bulk endpoints the client calls; the document has no `/contacts/bulk_update` (see `requestValidators`). */
export type BulkEndpoint = '/contacts/bulk_create' | '/contacts/bulk_update' | '/people/bulk_match';
export type RequestEndpoint = Endpoint | BulkEndpoint;

function operation(document: OpenApiDocument, endpoint: string, method: string): Operation {
  const found = document.paths[endpoint]?.[method];
  if (found === undefined) throw new Error(`the OpenAPI document has no ${method.toUpperCase()} ${endpoint}`);
  return found;
}

export interface DocumentedReply {
  endpoint: string;
  status: number;
  contentType: string;
  example: string;
  /** The reply body as Apollo sends it (some examples are JSON written as a string: sent as is). */
  body: string;
  /** The parsed body when it is JSON. */
  json: unknown;
}

export function documentedReplies(endpoint: string, method = 'post'): DocumentedReply[] {
  const replies: DocumentedReply[] = [];
  for (const [status, response] of Object.entries(operation(openApi, endpoint, method).responses)) {
    for (const [contentType, media] of Object.entries(response.content ?? {})) {
      for (const [example, { value }] of Object.entries(media.examples ?? {})) {
        const body = typeof value === 'string' ? value : JSON.stringify(value);
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        replies.push({ endpoint, status: Number(status), contentType, example, body, json });
      }
    }
  }
  return replies;
}

export function documentedReply(
  endpoint: string,
  status: number,
  example?: string,
  method = 'post',
): DocumentedReply {
  const found = documentedReplies(endpoint, method).find(
    (reply) => reply.status === status && (example === undefined || reply.example === example),
  );
  if (found === undefined) throw new Error(`no documented ${status} example for ${endpoint}`);
  return found;
}

/** The text Apollo puts in an error body: `error` or `message`. */
export function documentedErrorText(reply: DocumentedReply): string | undefined {
  const body = reply.json as { error?: unknown; message?: unknown } | undefined;
  const text = body?.error ?? body?.message;
  return typeof text === 'string' ? text : undefined;
}

// ---------------------------------------------------------------------------------------------
// Request schemas (a test copy of the document, tightened)
// ---------------------------------------------------------------------------------------------

const CONTRACT_ID = 'https://apollo.example/apollo-openapi.json';

/**
 * The document leaves every request schema open (no `additionalProperties`), so a misspelt or
 * invented field would pass. The test copy closes them: any field the document does not list fails.
 * A schema that does set `additionalProperties` is left as the document has it.
 */
function closed(schema: JsonObject): JsonObject {
  return 'additionalProperties' in schema ? schema : { ...schema, additionalProperties: false };
}

/**
 * Request fields an endpoint documents in its description but not in its schema. The single
 * create's "How Apollo picks the match" names the CRM ids it matches on; the schema lists none.
 * Each name must still appear in the description, so the list cannot outlive the document.
 */
const FIELDS_DOCUMENTED_IN_PROSE: Partial<Record<Endpoint, readonly string[]>> = {
  '/contacts': ['salesforce_lead_id', 'salesforce_contact_id', 'hubspot_vid'],
};

function withProseFields(document: OpenApiDocument, endpoint: Endpoint, schema: JsonObject): JsonObject {
  const names = FIELDS_DOCUMENTED_IN_PROSE[endpoint] ?? [];
  const description = operation(document, endpoint, 'post').description ?? '';
  for (const name of names) {
    if (!description.includes(`\`${name}\``)) {
      throw new Error(`POST ${endpoint}'s description no longer names ${name}`);
    }
  }
  const properties = schema.properties as JsonObject;
  return {
    ...schema,
    properties: { ...properties, ...Object.fromEntries(names.map((name) => [name, { type: 'string' }])) },
  };
}

function jsonRequestSchema(document: OpenApiDocument, endpoint: string): JsonObject {
  const schema = operation(document, endpoint, 'post').requestBody?.content['application/json']?.schema;
  if (schema === undefined) throw new Error(`POST ${endpoint} has no application/json request schema`);
  return schema;
}

/** A JSON pointer into the test copy, as an ajv `$ref`. */
function pointer(...segments: string[]): string {
  return `${CONTRACT_ID}#/${segments.map((segment) => segment.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;
}

/** The schema of an array property's items, closed as well: the bulk bodies list objects. */
function closedItems(schema: JsonObject, property: string): JsonObject {
  const properties = schema.properties as { [key: string]: JsonObject };
  const array = properties[property];
  if (array === undefined) throw new Error(`the request schema has no ${property}`);
  return {
    ...schema,
    properties: { ...properties, [property]: { ...array, items: closed(array.items as JsonObject) } },
  };
}

function compileRequestValidators(): Record<RequestEndpoint, ValidateFunction> {
  const contract = structuredClone(openApi);
  for (const endpoint of ['/contacts', '/contacts/search'] as const) {
    const media = operation(contract, endpoint, 'post').requestBody?.content['application/json'];
    if (media === undefined) throw new Error(`POST ${endpoint} has no application/json request body`);
    media.schema = closed(withProseFields(contract, endpoint, jsonRequestSchema(contract, endpoint)));
  }
  for (const [endpoint, property] of [
    ['/contacts/bulk_create', 'contacts'],
    ['/people/bulk_match', 'details'],
  ] as const) {
    const media = operation(contract, endpoint, 'post').requestBody?.content['application/json'];
    if (media === undefined) throw new Error(`POST ${endpoint} has no application/json request body`);
    media.schema = closed(closedItems(jsonRequestSchema(contract, endpoint), property));
  }
  // The document has no `POST /contacts/bulk_update`. Apollo's reference (docs/apollo/apollo-api.md)
  // says it takes `contact_attributes[]`, each a contact's `id` with the fields of
  // `PATCH /contacts/{contact_id}`, at most 1,000: its body schema is built from PATCH's.
  const patch = operation(contract, '/contacts/{contact_id}', 'patch').requestBody?.content[
    'application/json'
  ]?.schema;
  if (patch === undefined)
    throw new Error('PATCH /contacts/{contact_id} has no application/json request schema');
  const patchProperties = patch.properties as { [key: string]: Json };
  // `POST /people/match` documents its fields as query parameters only; apollo-api.md notes that
  // JSON bodies with the same fields are accepted (the client sends one), so the body schema is
  // built from the query parameters.
  const matchParameters = (operation(contract, '/people/match', 'post').parameters ?? []).filter(
    (parameter) => parameter.in === 'query',
  );
  contract.components.schemas = {
    ...contract.components.schemas,
    PeopleMatchBody: closed({
      type: 'object',
      properties: Object.fromEntries(matchParameters.map((parameter) => [parameter.name, parameter.schema])),
    }),
    BulkUpdateBody: closed({
      type: 'object',
      required: ['contact_attributes'],
      properties: {
        contact_attributes: {
          type: 'array',
          maxItems: 1000,
          items: closed({
            type: 'object',
            required: ['id'],
            properties: { id: { type: 'string', minLength: 1 }, ...patchProperties },
          }),
        },
      },
    }),
  };

  // Draft 2020-12 is OpenAPI 3.1's dialect. strict: false because OpenAPI schemas carry extra
  // keywords (`example`). The whole document is added under an id, so any `$ref` to
  // `#/components/...` inside a request schema resolves against it.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('int32', {
    type: 'number',
    validate: (value: number) => Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31,
  });
  ajv.addFormat('int64', { type: 'number', validate: (value: number) => Number.isInteger(value) });
  ajv.addSchema(contract, CONTRACT_ID);
  const compile = (ref: string) => ajv.compile({ $ref: ref });
  return {
    '/contacts': compile(
      pointer('paths', '/contacts', 'post', 'requestBody', 'content', 'application/json', 'schema'),
    ),
    '/contacts/search': compile(
      pointer('paths', '/contacts/search', 'post', 'requestBody', 'content', 'application/json', 'schema'),
    ),
    '/people/match': compile(pointer('components', 'schemas', 'PeopleMatchBody')),
    '/contacts/bulk_create': compile(
      pointer(
        'paths',
        '/contacts/bulk_create',
        'post',
        'requestBody',
        'content',
        'application/json',
        'schema',
      ),
    ),
    '/people/bulk_match': compile(
      pointer('paths', '/people/bulk_match', 'post', 'requestBody', 'content', 'application/json', 'schema'),
    ),
    '/contacts/bulk_update': compile(pointer('components', 'schemas', 'BulkUpdateBody')),
  };
}

/** A validator of each endpoint's JSON request body against the tightened test copy. */
export const requestValidators = compileRequestValidators();

// ---------------------------------------------------------------------------------------------
// Reply schemas (for the sandbox's replies)
// ---------------------------------------------------------------------------------------------

/**
 * A reply schema as Apollo's replies fill it: every typed value may also be null. The document
 * marks no field nullable, yet its own examples carry nulls for absent values (`twitter_url`,
 * `headline`, the contact objects' CRM ids), and Apollo's contact objects always list every field.
 * Nothing else is loosened: an unknown type, a missing array, a string where a number belongs fail.
 */
function nullable(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(nullable);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy: JsonObject = Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [key, nullable(value)]),
  );
  if (typeof copy.type === 'string') copy.type = [copy.type, 'null'];
  return copy;
}

function compileReplyValidators(): Record<'/contacts/bulk_create' | '/people/bulk_match', ValidateFunction> {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const replySchema = (endpoint: string) => {
    const schema = operation(openApi, endpoint, 'post').responses['200']?.content?.['application/json']
      ?.schema;
    if (schema === undefined) throw new Error(`POST ${endpoint} documents no 200 reply schema`);
    return nullable(schema) as JsonObject;
  };
  return {
    '/contacts/bulk_create': ajv.compile(replySchema('/contacts/bulk_create')),
    // `matches[]` holds null for a person not found (docs/apollo/apollo-api.md), which `nullable` allows.
    '/people/bulk_match': ajv.compile(replySchema('/people/bulk_match')),
  };
}

/** Validators of the 200 replies of the bulk endpoints the document describes, nulls allowed (`nullable`). */
export const replyValidators = compileReplyValidators();
