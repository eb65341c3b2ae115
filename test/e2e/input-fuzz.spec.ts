// A property-based fuzz of every operation in the LIVE OpenAPI document (GET /docs/openapi.json):
// every field of every request body, every path, query and header parameter, and the body as a
// whole, with the classes of bad input that once answered 500 (issue 17) and random values.
// Operations and fields are enumerated from the document, so a new route or field is fuzzed the
// day it appears. For every request:
//   - no 5xx, ever;
//   - every 4xx is application/problem+json, or the HTML page the document declares for that status
//     of a customer page (the invalid-link page, say);
//   - a value that must be refused (lone surrogate, NUL, null, a missing required field, a wrong
//     type, a prototype key, a non-RFC 3339 date-time, a time zone PostgreSQL does not know, …) is
//     refused with a 4xx, and a validation problem names the mutated field (or its parent);
//   - a refused request changes no row of any table.
// Signed webhooks are signed correctly, so their body validation is what answers. Most requests
// carry the admin key; a share of them carry none.
import fc from 'fast-check';
import { Client } from 'pg';
import { FakeClock } from '../../src/common/clock';
import { signWebhook } from '../../src/common/signatures';
import { TokenService } from '../../src/links/tokens';
import { startTestApp, TestApp, TEST_SECRETS } from '../support/app';
import { createTopics, importConfirmed } from '../support/seed';

const clock = new FakeClock('2026-03-02T09:00:00Z'); // Monday
let t: TestApp;
let db: Client;
let doc: any;

// ---------------------------------------------------------------- the values

/** Strings ISO 8601 (or Date.parse) may accept but RFC 3339 does not. */
const ODD_INSTANTS = ['2030-W10-1', '20300301T101500Z', '2030-03-01T10:15:00,5Z', '2030-03-01T10:15:00+01', '2030-03-01T10:15:00', '2030-02-30T10:15:00Z'];
/** Names Node's Intl knows and PostgreSQL does not, or neither knows. */
const BAD_TIME_ZONES = ['US/Pacific-New', 'Canada/East-Saskatchewan', 'Mars/Olympus', 'posix/CET'];
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];
const UNSAFE_STRINGS: [string, string][] = [
  ['a lone high surrogate', '\ud800'],
  ['a lone low surrogate inside text', 'a\udc00b'],
  ['a NUL byte', 'a\u0000b'],
];

type PathPart = string | number;
type Path = PathPart[];

interface Mutation {
  label: string;
  /** Where: a body path, or a parameter. */
  target: { in: 'body'; path: Path } | { in: 'path' | 'query' | 'header'; name: string } | { in: 'whole' };
  /** The new value at the target; with `addKey`, a key of that name holding it is added to the object there. */
  value?: unknown;
  addKey?: string;
  /** The field is left out instead. */
  remove?: boolean;
  /** Raw body and content type instead of JSON (whole-body mutations). */
  raw?: { contentType?: string; body: string | FormData };
  /** The value is invalid whatever else the request holds: it must be refused, naming the field. */
  mustRefuse: boolean;
}

// ---------------------------------------------------------------- the document

const resolve = (schema: any): any => {
  if (!schema) return schema;
  if (schema.$ref) return resolve(doc.components.schemas[schema.$ref.split('/').pop()]);
  if (schema.allOf?.length === 1) return resolve({ ...schema.allOf[0], ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== 'allOf')) });
  return schema;
};

interface Field {
  path: Path;
  schema: any;
  required: boolean;
}

/** Every field of a body schema: nested objects, array elements (the first) and their fields included. */
function fieldsOf(schema: any, prefix: Path = [], depth = 0): Field[] {
  const s = resolve(schema);
  if (!s || depth > 6) return [];
  const out: Field[] = [];
  const add = (child: any, path: Path, required: boolean) => {
    out.push({ path, schema: resolve(child), required });
    out.push(...fieldsOf(child, path, depth + 1));
  };
  if (s.type === 'array') {
    add(s.items, [...prefix, 0], false);
  } else if (s.properties) {
    const required: string[] = s.required ?? [];
    for (const [name, child] of Object.entries<any>(s.properties)) add(child, [...prefix, name], required.includes(name));
  } else if (s.type === 'object' && s.example && typeof s.example === 'object') {
    // A free map (attributes): its example's keys are fields too, taking any scalar.
    for (const [name, value] of Object.entries(s.example)) {
      out.push({
        path: [...prefix, name],
        schema: Array.isArray(value)
          ? { type: 'array' }
          : typeof value === 'object' && value !== null
            ? { type: 'object' }
            : { type: 'scalar', nullable: true },
        required: false,
      });
    }
  }
  return out;
}

interface Operation {
  method: string;
  path: string;
  op: any;
  params: any[];
  bodySchema: any | null;
  contentTypes: string[];
  signed: boolean;
}

function operations(): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      const params: any[] = op.parameters ?? [];
      const content = op.requestBody?.content ?? {};
      if (params.length === 0 && !op.requestBody) continue;
      out.push({
        method: method.toUpperCase(),
        path,
        op,
        params,
        bodySchema: content['application/json']?.schema ?? null,
        contentTypes: Object.keys(content),
        signed: params.some((p) => p.in === 'header' && p.name.toLowerCase() === 'x-tactful-signature'),
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------- valid values

interface Ctx {
  topic: string;
  ids: Record<string, string>;
  subscriberId: string;
  shipmentId: string;
  orderNumber: string;
  now: string;
  later: string;
  evenLater: string;
}
let ctx: Ctx;
let seq = 0;

/** A value that satisfies the field's own rules (example, enum, format), with the test's entities where one is named. */
function validValue(name: string, schema: any): unknown {
  const s = resolve(schema) ?? {};
  if (name === 'topic') return ctx.topic;
  if (name === 'topics') return [ctx.topic];
  if (name === 'orderNumber' && ctx.orderNumber) return ctx.orderNumber;
  if (name === 'subscriberId') return ctx.subscriberId;
  if (name === 'shipmentId') return ctx.shipmentId;
  if (name === 'email') return `fuzz${++seq}@example.com`;
  // Instants that happened, and dispatch times, are now; starts lie ahead, ends and expiries after them.
  if (s.format === 'date-time') return /^(starts)At$/.test(name) ? ctx.later : /^(ends|expires)At$/.test(name) ? ctx.evenLater : ctx.now;
  if (s.format === 'time-zone') return 'Europe/Berlin';
  if (s.enum) return s.enum[0];
  if (s.example !== undefined) return JSON.parse(JSON.stringify(s.example));
  if (s.type === 'array') return [validValue(name, s.items)];
  if (s.properties) return validObject(s);
  if (s.type === 'object') return undefined; // a free object without an example (an audience filter): left out
  if (s.type === 'boolean') return false;
  if (s.type === 'number' || s.type === 'integer') return 1;
  if (s.format === 'uuid') return '00000000-0000-4000-8000-000000000001';
  if (/url$/i.test(name)) return 'https://example.com/fuzz';
  return 'fuzz';
}

function validObject(schema: any): Record<string, unknown> {
  const s = resolve(schema);
  const out: Record<string, unknown> = {};
  for (const [name, child] of Object.entries<any>(s.properties ?? {})) {
    const value = validValue(name, child);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function validBody(operation: Operation): unknown {
  if (!operation.bodySchema) return undefined;
  const s = resolve(operation.bodySchema);
  return s.type === 'array' ? [validObject(s.items)] : validObject(s);
}

/** Path parameters name the entity of the segment before them: /v1/campaigns/{id} → a campaign. */
function validParam(operation: Operation, param: any): string | undefined {
  if (param.in === 'path') {
    const segments = operation.path.split('/');
    const before = segments[segments.indexOf(`{${param.name}}`) - 1];
    if (param.name === 'key') return ctx.topic;
    if (param.name === 'sender') return 'shop';
    return ctx.ids[before] ?? '00000000-0000-4000-8000-000000000001';
  }
  if (param.in === 'header') return undefined; // optional headers (Idempotency-Key) are left out; the signature is computed
  const s = resolve(param.schema) ?? {};
  if (!param.required) {
    if (s.type === 'boolean') return 'true';
    return undefined;
  }
  return String(validValue(param.name, s));
}

// ---------------------------------------------------------------- mutations

const typeOf = (schema: any): string => {
  const s = resolve(schema) ?? {};
  if (s.enum && !s.type) return typeof s.enum[0];
  if (s.properties) return 'object';
  return s.type ?? 'unknown';
};

/** Values of the wrong JSON type for a field of this schema. */
function wrongTypes(schema: any): unknown[] {
  switch (typeOf(schema)) {
    case 'string':
      return [42, { a: 1 }, ['x']];
    case 'number':
    case 'integer':
      return ['1', true, 1.5];
    case 'boolean':
      return ['true', 1];
    case 'array':
      return [{ a: 1 }, 'x'];
    case 'object':
      return [[], 'x', 7];
    case 'scalar':
      return [{ a: 1 }, [1]];
    default:
      return [];
  }
}

const key = (p: Path) => p.map(String).join('.');

function fieldMutations(field: Field): Mutation[] {
  const target = { in: 'body' as const, path: field.path };
  const at = key(field.path);
  const type = typeOf(field.schema);
  const out: Mutation[] = [];
  for (const [name, value] of UNSAFE_STRINGS) out.push({ label: `${name} in ${at}`, target, value, mustRefuse: true });
  if (!field.schema?.nullable) out.push({ label: `null for ${at}`, target, value: null, mustRefuse: true });
  if (field.required) out.push({ label: `${at} missing`, target, remove: true, mustRefuse: true });
  for (const value of wrongTypes(field.schema)) out.push({ label: `${JSON.stringify(value)} (wrong type) for ${at}`, target, value, mustRefuse: true });
  if (type === 'object') {
    for (const name of PROTOTYPE_KEYS) out.push({ label: `a ${name} key in ${at}`, target, addKey: name, value: { polluted: true }, mustRefuse: true });
  }
  if (type === 'string' || type === 'unknown') {
    const dateTime = field.schema?.format === 'date-time';
    const timeZone = field.schema?.format === 'time-zone';
    for (const value of dateTime ? ODD_INSTANTS : ODD_INSTANTS.slice(0, 2)) out.push({ label: `${value} in ${at}`, target, value, mustRefuse: dateTime });
    for (const value of timeZone ? BAD_TIME_ZONES : BAD_TIME_ZONES.slice(0, 1)) out.push({ label: `${value} in ${at}`, target, value, mustRefuse: timeZone });
    out.push({ label: `100,000 characters in ${at}`, target, value: 'A'.repeat(100_000), mustRefuse: false });
  }
  return out;
}

function paramMutations(param: any): Mutation[] {
  const target = { in: param.in, name: param.name };
  const s = resolve(param.schema) ?? {};
  const out: Mutation[] = [{ label: `a NUL byte in ${param.in} ${param.name}`, target, value: 'a\u0000b', mustRefuse: param.in !== 'header' }];
  if (param.in === 'header') {
    // fetch refuses control characters in headers; what a client can send is printable nonsense.
    return [{ label: `nonsense in header ${param.name}`, target, value: 'x'.repeat(300), mustRefuse: false }];
  }
  if (param.in === 'path') {
    out.push({ label: `600 characters in ${param.name}`, target, value: 'A'.repeat(600), mustRefuse: true });
    out.push({ label: `broken percent-encoding in ${param.name}`, target, value: { raw: '%E0%A4%A' }, mustRefuse: true });
  }
  if (param.in === 'query') {
    if (s.format === 'date-time') for (const value of ODD_INSTANTS) out.push({ label: `${value} in ${param.name}`, target, value, mustRefuse: true });
    if (s.type === 'boolean') out.push({ label: `maybe for ${param.name}`, target, value: 'maybe', mustRefuse: true });
    if (s.type === 'number' || s.type === 'integer')
      for (const value of ['abc', '1.5', '-1', '99999999999999999999']) out.push({ label: `${value} for ${param.name}`, target, value, mustRefuse: true });
    if (s.enum) out.push({ label: `an unknown ${param.name}`, target, value: 'not-one-of-them', mustRefuse: true });
    out.push({ label: `2,000 characters in ${param.name}`, target, value: 'A'.repeat(2_000), mustRefuse: false });
  }
  return out;
}

const boundary = 'fuzzboundary';
function wholeBodyMutations(operation: Operation): Mutation[] {
  const whole = { in: 'whole' as const };
  const takes = (type: string) => operation.contentTypes.includes(type);
  const out: Mutation[] = [];
  const refused = (label: string, contentType: string | undefined, body: string | FormData) =>
    out.push({ label, target: whole, raw: { contentType, body }, mustRefuse: true });
  const form = new FormData();
  form.append('List-Unsubscribe', 'One-Click');
  refused('a well-formed multipart/form-data body', undefined, form);
  refused('multipart/form-data without a boundary', 'multipart/form-data', 'x');
  refused('malformed multipart/form-data', `multipart/form-data; boundary=${boundary}`, `--${boundary}\r\nContent-Disposition: form-data\r\n\r\n`);
  refused(
    'multipart/form-data with a NUL field',
    `multipart/form-data; boundary=${boundary}`,
    `--${boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\na\u0000b\r\n--${boundary}--\r\n`,
  );
  refused('a form-encoded body', 'application/x-www-form-urlencoded', 'a=1&__proto__=2');
  refused('text/plain', 'text/plain', '{}');
  refused('application/xml', 'application/xml', '<a/>');
  refused('an unknown media type', 'application/x-fuzz', '{}');
  if (!takes('text/csv')) refused('text/csv', 'text/csv', 'email\nx@example.com\n');
  if (!takes('application/x-ndjson')) refused('NDJSON', 'application/x-ndjson', '{}\n');
  if (operation.bodySchema) {
    refused('invalid JSON', 'application/json', '{"a":');
    refused('JSON with a raw lone surrogate escape', 'application/json', '{"x":"\\ud800"}');
    refused('JSON nested 100 levels deep', 'application/json', '{"a":'.repeat(100) + '1' + '}'.repeat(100));
    // No body at all is no body (a request shape of optional fields only takes it); with required fields it is refused.
    out.push({
      label: 'an empty JSON body',
      target: whole,
      raw: { contentType: 'application/json', body: '' },
      mustRefuse: (resolve(operation.bodySchema).required ?? []).length > 0,
    });
    refused('a JSON body over the limit', 'application/json', JSON.stringify({ x: 'A'.repeat(1024 * 1024 + 10) }));
    const rootIsArray = resolve(operation.bodySchema).type === 'array';
    for (const value of rootIsArray ? ['{}', '"x"', '7', 'null'] : ['[]', '"x"', '7', 'null', 'true'])
      refused(`the JSON body ${value}`, 'application/json', value);
    for (const name of PROTOTYPE_KEYS)
      out.push({
        label: `a top-level ${name} key`,
        target: { in: 'body', path: rootIsArray ? [0] : [] },
        addKey: name,
        value: { polluted: true },
        mustRefuse: true,
      });
  }
  return out;
}

// ---------------------------------------------------------------- sending and judging

interface Sent {
  status: number;
  contentType: string;
  body: any;
  text: string;
}

let tables: string[] = [];
async function rowCounts(): Promise<Record<string, number>> {
  const { rows } = await db.query(tables.map((name) => `SELECT '${name}' AS name, count(*)::int AS n FROM "${name}"`).join(' UNION ALL '));
  return Object.fromEntries(rows.map((r: any) => [r.name, r.n]));
}
const changed = (a: Record<string, number>, b: Record<string, number>) =>
  Object.keys(b)
    .filter((k) => a[k] !== b[k])
    .map((k) => `${k} ${a[k]}→${b[k]}`);

function setPath(target: any, path: Path, value: unknown, remove: boolean): void {
  let node = target;
  for (const part of path.slice(0, -1)) {
    if (node[part] === null || typeof node[part] !== 'object') node[part] = {};
    node = node[part];
  }
  const last = path[path.length - 1];
  if (remove) delete node[last];
  else node[last] = value;
}

function nodeAt(target: any, path: Path): any {
  let node = target;
  for (const part of path) {
    if (node[part] === null || typeof node[part] !== 'object') node[part] = {};
    node = node[part];
  }
  return node;
}

interface Request {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | FormData;
}

function build(operation: Operation, mutation: Mutation | null, anonymous: boolean, ndjson = false): Request {
  let body: unknown = validBody(operation);
  const params = new Map<string, { in: string; value: string | { raw: string } | undefined }>();
  for (const param of operation.params) params.set(`${param.in}:${param.name}`, { in: param.in, value: validParam(operation, param) });
  if (mutation?.target.in === 'body') {
    body = JSON.parse(JSON.stringify(body ?? {}));
    if (mutation.addKey) {
      const holder = mutation.target.path.length === 0 ? body : nodeAt(body, mutation.target.path);
      // defineProperty, so `__proto__` is an own key that JSON.stringify writes out.
      Object.defineProperty(holder, mutation.addKey, { value: mutation.value, enumerable: true, writable: true, configurable: true });
    } else setPath(body, mutation.target.path, mutation.value, mutation.remove === true);
  } else if (mutation && mutation.target.in !== 'whole') {
    params.set(`${mutation.target.in}:${mutation.target.name}`, { in: mutation.target.in, value: mutation.value as string });
  }

  let url = operation.path;
  const query: string[] = [];
  const headers: Record<string, string> = {};
  for (const [id, { in: where, value }] of params) {
    const name = id.slice(id.indexOf(':') + 1);
    if (value === undefined) continue;
    const encoded = typeof value === 'object' ? value.raw : encodeURIComponent(value);
    if (where === 'path') url = url.replace(`{${name}}`, encoded);
    else if (where === 'query') query.push(`${encodeURIComponent(name)}=${encoded}`);
    else if (where === 'header' && name.toLowerCase() !== 'x-tactful-signature') headers[name] = value as string;
  }
  if (query.length > 0) url += `?${query.join('&')}`;

  let raw: string | FormData | undefined;
  if (mutation?.raw) {
    raw = mutation.raw.body;
    if (mutation.raw.contentType) headers['content-type'] = mutation.raw.contentType;
  } else if (body !== undefined) {
    if (ndjson && Array.isArray(body)) {
      raw = body.map((row) => JSON.stringify(row)).join('\n') + '\n';
      headers['content-type'] = 'application/x-ndjson';
    } else {
      raw = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
  }
  if (operation.signed && !anonymous) {
    headers['x-tactful-signature'] = signWebhook(TEST_SECRETS.WEBHOOK_SECRET, typeof raw === 'string' ? raw : '', Math.floor(clock.now().getTime() / 1000));
  }
  if (!operation.signed && !anonymous && operation.path.startsWith('/v1/')) headers.authorization = `Bearer ${t.adminKey}`;
  return { method: operation.method, url, headers, body: operation.method === 'GET' ? undefined : raw };
}

async function send(request: Request): Promise<Sent> {
  const response = await fetch(t.baseUrl + request.url, { method: request.method, headers: request.headers, body: request.body });
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  let body: any = text;
  if (contentType.includes('json') && text !== '') body = JSON.parse(text);
  return { status: response.status, contentType, body, text };
}

/** The field name of a mutation as problem+json names fields: `items[0].name`, `[0].email`, `id`. */
function fieldName(mutation: Mutation): string | null {
  const target = mutation.target;
  if (target.in === 'whole') return null;
  if (target.in !== 'body') return target.name;
  const path = mutation.addKey ? [...target.path, mutation.addKey] : target.path;
  return path.reduce<string>((out, p) => (typeof p === 'number' ? `${out}[${p}]` : out === '' ? p : `${out}.${p}`), '');
}

/** Does this problem name the field, or a parent of it? A row-level import error names `[row - 1].field`. */
function names(problem: any, field: string): boolean {
  return (problem?.errors ?? []).some((e: any) => {
    const named = e.row !== undefined && !String(e.field).startsWith('[') ? `[${e.row - 1}].${e.field}` : String(e.field);
    return named === field || field.startsWith(`${named}.`) || field.startsWith(`${named}[`) || named.startsWith(`${field}.`) || named.startsWith(`${field}[`);
  });
}

/** A 4xx is a Problem, or a page where the document says this status of this operation is one. */
function refusedAsDocumented(operation: Operation, status: number, contentType: string): boolean {
  if (contentType.startsWith('application/problem+json')) return true;
  const declared = Object.keys(operation.op.responses?.[String(status)]?.content ?? {});
  return declared.includes('text/html') && contentType.startsWith('text/html');
}

let before: Record<string, number> = {};
const failures: string[] = [];
let sent = 0;

/** Sends one request and returns what is wrong with the answer (null: nothing). */
async function check(operation: Operation, mutation: Mutation | null, anonymous: boolean, ndjson = false): Promise<string | null> {
  const request = build(operation, mutation, anonymous, ndjson);
  const label = `${operation.method} ${operation.path}${ndjson ? ' (NDJSON)' : ''}${anonymous ? ' without credentials' : ''}: ${mutation?.label ?? 'random'}`;
  const response = await send(request);
  sent++;
  const after = await rowCounts();
  const previous = before;
  before = after;
  if (response.status >= 500) return `${label}: ${response.status} ${response.text.slice(0, 300)}`;
  if (response.status >= 400) {
    if (!refusedAsDocumented(operation, response.status, response.contentType)) return `${label}: ${response.status} with ${response.contentType}`;
    const stored = changed(previous, after);
    if (stored.length > 0) return `${label}: ${response.status} but ${stored.join(', ')}`;
    const field = mutation && fieldName(mutation);
    if (
      mutation?.mustRefuse &&
      !anonymous &&
      field !== null &&
      response.status === 400 &&
      response.body.code === 'validation' &&
      !names(response.body, field)
    ) {
      return `${label}: the problem does not name ${field}: ${JSON.stringify(response.body.errors ?? response.body.detail).slice(0, 400)}`;
    }
    return null;
  }
  if (mutation?.mustRefuse) return `${label}: accepted with ${response.status} ${response.text.slice(0, 200)}`;
  return null;
}

// ---------------------------------------------------------------- set-up

beforeAll(async () => {
  t = await startTestApp({ clock, env: { CUSTOMER_RATE_LIMIT_PER_TOKEN: '1000000', CUSTOMER_RATE_LIMIT_PER_IP: '1000000' } });
  db = new Client({ connectionString: t.db.url });
  await db.connect();
  await createTopics(t, ['fz', 'other']);
  const subscribers = await importConfirmed(t, [{ email: 'anna@example.com', locale: 'en', topics: ['fz'] }]);
  const iso = (days: number) => new Date(clock.now().getTime() + days * 86_400_000).toISOString();
  const ok = (res: { status: number; body: any }, what: string) => {
    if (res.status >= 300) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const localized = { de: 'Hallo', en: 'Hello' };
  const campaign = ok(
    await t.api('POST', '/v1/campaigns', { body: { name: 'fuzz', topic: 'fz', subject: localized, body: { de: '<p>Hallo</p>', en: '<p>Hello</p>' } } }),
    'campaign',
  );
  const webinar = ok(
    await t.api('POST', '/v1/webinars', {
      body: { topic: 'fz', title: localized, startsAt: iso(30), endsAt: iso(30.05), joinUrl: 'https://meet.example.com/f' },
    }),
    'webinar',
  );
  const key = ok(await t.api('POST', '/v1/api-keys', { body: { name: 'spare', scopes: ['read'] } }), 'api key');
  doc = (await t.api('GET', '/docs/openapi.json', { key: null })).body;
  const subscriberId = subscribers.get('anna@example.com')!;
  ctx = { topic: 'fz', subscriberId, shipmentId: '', orderNumber: '', now: iso(0), later: iso(20), evenLater: iso(21), ids: {} };
  // The order and the parcel are the document's own examples, so the fuzzed shipment and carrier
  // requests name an order and a parcel that exist.
  const writeOf = (path: string) => operations().find((o) => o.method === 'POST' && o.path === path)!;
  const order = ok(await t.api('POST', '/v1/orders', { body: validBody(writeOf('/v1/orders')) }), 'order');
  ctx.orderNumber = order.number;
  const shipment = ok(await t.api('POST', '/v1/shipments', { body: validBody(writeOf('/v1/shipments')) }), 'shipment');
  ctx.shipmentId = shipment.id;
  ctx.ids = { campaigns: campaign.id, webinars: webinar.id, orders: order.id, shipments: shipment.id, subscribers: subscriberId, 'api-keys': key.id };
  tables = (await db.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r: any) => r.tablename);
  before = await rowCounts();
}, 60_000);

afterAll(async () => {
  await db?.end();
  await t?.close();
});

// A DELETE with its valid parameters would delete; only refused requests are sent to it.
const safe = (operation: Operation, mutation: Mutation) => operation.method !== 'DELETE' || mutation.mustRefuse;

function mutationsOf(operation: Operation): { mutation: Mutation; ndjson: boolean }[] {
  const out: { mutation: Mutation; ndjson: boolean }[] = [];
  const fields = operation.bodySchema ? fieldsOf(operation.bodySchema) : [];
  const ndjson = operation.contentTypes.includes('application/x-ndjson');
  for (const field of fields) {
    for (const mutation of fieldMutations(field)) {
      out.push({ mutation, ndjson: false });
      if (ndjson) out.push({ mutation, ndjson: true });
    }
  }
  for (const param of operation.params) for (const mutation of paramMutations(param)) out.push({ mutation, ndjson: false });
  for (const name of PROTOTYPE_KEYS)
    out.push({ mutation: { label: `a ${name} query parameter`, target: { in: 'query', name }, value: '1', mustRefuse: true }, ndjson: false });
  if (operation.method !== 'GET') for (const mutation of wholeBodyMutations(operation)) out.push({ mutation, ndjson: false });
  return out.filter(({ mutation }) => safe(operation, mutation));
}

describe('every operation of the live OpenAPI document', () => {
  it('is enumerated from the document: every write operation and every parameter is fuzzed', () => {
    const ops = operations();
    const writes = ops.filter((o) => o.method !== 'GET').map((o) => `${o.method} ${o.path}`);
    expect(writes).toEqual(
      expect.arrayContaining([
        'POST /v1/campaigns',
        'POST /webhooks/carrier',
        'POST /webhooks/mail-events',
        'POST /v1/subscribers/import',
        'PATCH /v1/webinars/{id}',
      ]),
    );
    expect(
      ops.some((o) => o.path === '/v1/campaigns/{id}/audience' && o.params.some((p: any) => p.name === 'at' && resolve(p.schema).format === 'date-time')),
    ).toBe(true);
    // The document names the formats the fuzz relies on: every instant is a date-time, every zone a time-zone.
    const formats = ops.flatMap((o) => (o.bodySchema ? fieldsOf(o.bodySchema) : [])).map((f) => `${key(f.path)}:${f.schema?.format ?? ''}`);
    for (const entry of formats.filter((f) => /(At|^at|\.at)\b/.test(f.split(':')[0]) || /[Tt]imeZone$/.test(f.split(':')[0]))) {
      expect(entry).toMatch(/:(date-time|time-zone)$/);
    }
  });

  it('answers every class of bad input in every field and parameter with a problem+json 4xx naming it (or a documented page), and stores nothing', async () => {
    failures.length = 0;
    const ops = operations();
    for (const operation of ops) {
      for (const { mutation, ndjson } of mutationsOf(operation)) {
        const failure = await check(operation, mutation, false, ndjson);
        if (failure) failures.push(failure);
      }
    }
    expect(sent).toBeGreaterThan(2_000);
    expect(failures).toEqual([]);
  }, 600_000);

  it('answers requests without credentials with a problem+json 4xx (or a documented page), whatever they carry, and stores nothing', async () => {
    failures.length = 0;
    for (const operation of operations()) {
      const sample = mutationsOf(operation)
        .filter((_, i) => i % 7 === 0)
        .slice(0, 6);
      const unmutated = operation.method === 'DELETE' ? [] : [null];
      for (const mutation of [...unmutated, ...sample.map((s) => s.mutation)]) {
        const failure = await check(operation, mutation, true);
        if (failure) failures.push(failure);
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it('holds for random values and random combinations (fast-check)', async () => {
    failures.length = 0;
    const ops = operations().filter((o) => o.method !== 'DELETE');
    const codeUnits = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 }).map((units) => String.fromCharCode(...units));
    const randomValue = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      codeUnits,
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom(...ODD_INSTANTS, ...BAD_TIME_ZONES, ...PROTOTYPE_KEYS, '', ' ', '\r\n', '0', '-1', 'true', 'null', '{{x}}', '<script>'),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    );
    const operation = fc.constantFrom(...ops);
    interface Drawn {
      op: Operation;
      mutations: Mutation[];
      anonymous: boolean;
    }
    const request: fc.Arbitrary<Drawn> = operation.chain((op): fc.Arbitrary<Drawn> => {
      const fields = op.bodySchema ? fieldsOf(op.bodySchema) : [];
      const targets: Mutation['target'][] = [
        ...fields.map((f) => ({ in: 'body' as const, path: f.path })),
        ...op.params.filter((p: any) => p.in !== 'header').map((p: any) => ({ in: p.in, name: p.name })),
      ];
      if (targets.length === 0) return fc.constant({ op, mutations: [], anonymous: false });
      const one = fc.record({ target: fc.constantFrom(...targets), value: randomValue });
      return fc.record({
        op: fc.constant(op),
        mutations: fc.array(one, { minLength: 1, maxLength: 3 }).map((list) =>
          list.map(({ target, value }): Mutation => ({
            label: `${JSON.stringify(value)?.slice(0, 60)} at ${JSON.stringify(target)}`,
            target,
            value,
            mustRefuse: false,
          })),
        ),
        anonymous: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
      });
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ op, mutations, anonymous }) => {
        if (op.method === 'POST' && mutations.length === 0) return true;
        // Several mutations at once: applied to one request, judged as one.
        const combined: Mutation = mutations.reduce<Mutation>((acc, m) => ({ ...acc, label: `${acc.label}; ${m.label}` }), {
          label: 'random',
          target: { in: 'whole' },
          mustRefuse: false,
        });
        const requestBuilt = build(op, null, anonymous);
        let body = requestBuilt.body === undefined ? undefined : JSON.parse(requestBuilt.body as string);
        let url = requestBuilt.url;
        for (const m of mutations) {
          if (m.target.in === 'body') {
            body = body ?? {};
            if (m.target.path.length === 0) body = m.value;
            else if (body !== null && typeof body === 'object') setPath(body, m.target.path, m.value, false);
          } else if (m.target.in === 'query' || m.target.in === 'path') {
            const value = typeof m.value === 'string' ? m.value : (JSON.stringify(m.value) ?? '');
            let encoded: string;
            try {
              encoded = encodeURIComponent(value);
            } catch {
              encoded = '%ED%A0%80'; // a lone surrogate has no UTF-8 form: send its CESU-8 bytes
            }
            if (m.target.in === 'query') url += `${url.includes('?') ? '&' : '?'}${encodeURIComponent(m.target.name)}=${encoded}`;
            else url = url.replace(encodeURIComponent(validParam(op, { in: 'path', name: m.target.name }) ?? ''), encoded || 'x');
          }
        }
        const raw = body === undefined ? undefined : JSON.stringify(body);
        const headers = { ...requestBuilt.headers };
        if (op.signed && !anonymous)
          headers['x-tactful-signature'] = signWebhook(TEST_SECRETS.WEBHOOK_SECRET, raw ?? '', Math.floor(clock.now().getTime() / 1000));
        const response = await send({ method: op.method, url, headers, body: op.method === 'GET' ? undefined : raw });
        sent++;
        const after = await rowCounts();
        const previous = before;
        before = after;
        const label = `${op.method} ${op.path}${anonymous ? ' without credentials' : ''}: ${combined.label}`;
        if (response.status >= 500) failures.push(`${label}: ${response.status} ${response.text.slice(0, 300)}`);
        else if (response.status >= 400) {
          if (!refusedAsDocumented(op, response.status, response.contentType)) failures.push(`${label}: ${response.status} with ${response.contentType}`);
          const stored = changed(previous, after);
          if (stored.length > 0) failures.push(`${label}: ${response.status} but ${stored.join(', ')}`);
        }
        return failures.length === 0;
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 600), seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined, endOnFailure: true },
    );
    expect(failures).toEqual([]);
  }, 300_000);
});

// ---------------------------------------------------------------- what the document does not list

describe('multipart/form-data', () => {
  const framed = { 'content-type': `multipart/form-data; boundary=${boundary}` };

  it('is read on the one-click unsubscribe (RFC 8058) and refused with 400 when malformed, NUL-carrying or carrying a file', async () => {
    // Its own subscriber: the fuzz above may have changed anna's status.
    const id = (await importConfirmed(t, [{ email: 'one-click@example.com', topics: [ctx.topic] }])).get('one-click@example.com')!;
    const url = new URL(t.app.get(TokenService).url('unsubscribe', id)).pathname;
    const cases: [string, Record<string, string>, string | FormData][] = [
      ['malformed', framed, `--${boundary}\r\nContent-Disposition: form-data\r\n\r\n`],
      ['without a boundary', { 'content-type': 'multipart/form-data' }, 'List-Unsubscribe=One-Click'],
      ['with a NUL byte', framed, `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne\u0000Click\r\n--${boundary}--\r\n`],
      [
        'with a lone surrogate (UTF-16 part)',
        framed,
        `--${boundary}\r\nContent-Disposition: form-data; name="x"\r\nContent-Type: text/plain; charset=utf-16le\r\n\r\n\u0000\u00d8\r\n--${boundary}--\r\n`,
      ],
      ['with a __proto__ field', framed, `--${boundary}\r\nContent-Disposition: form-data; name="__proto__"\r\n\r\nx\r\n--${boundary}--\r\n`],
      [
        'with a file',
        framed,
        `--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--${boundary}--\r\n`,
      ],
      ['with a field over 1 kB', framed, `--${boundary}\r\nContent-Disposition: form-data; name="x"\r\n\r\n${'A'.repeat(2000)}\r\n--${boundary}--\r\n`],
    ];
    for (const [name, headers, body] of cases) {
      const rows = await rowCounts();
      const response = await fetch(t.baseUrl + url, { method: 'POST', headers, body: typeof body === 'string' ? Buffer.from(body, 'latin1') : body });
      expect(`${name}: ${response.status} ${response.headers.get('content-type')}`).toMatch(/: 400 application\/problem\+json/);
      expect(changed(rows, await rowCounts())).toEqual([]);
    }
    const [{ status }] = await t.sql(`SELECT status FROM subscribers WHERE id = $1`, [id]);
    expect(status).toBe('active');
    const form = new FormData();
    form.append('List-Unsubscribe', 'One-Click');
    const done = await fetch(t.baseUrl + url, { method: 'POST', body: form });
    expect(done.status).toBe(200);
    expect((await t.sql(`SELECT status FROM subscribers WHERE id = $1`, [id]))[0].status).toBe('unsubscribed');
  });

  it('is refused with 415 by every other route, before the body is read and before authentication', async () => {
    const form = new FormData();
    form.append('a', 'b');
    const preferences = new URL(t.app.get(TokenService).url('preferences', ctx.subscriberId)).pathname;
    for (const path of [preferences, `${preferences}/suggest`, '/v1/topics', '/webhooks/carrier', '/webinars/x/register']) {
      const response = await fetch(t.baseUrl + path, { method: 'POST', body: form });
      expect(`${path}: ${response.status} ${response.headers.get('content-type')}`).toBe(`${path}: 415 application/problem+json; charset=utf-8`);
    }
  });
});

describe('form bodies on the customer pages', () => {
  it('refuse prototype field names and NUL bytes with a 400 naming the field, and change nothing', async () => {
    const id = (await importConfirmed(t, [{ email: 'forms@example.com', topics: [ctx.topic] }])).get('forms@example.com')!;
    const path = new URL(t.app.get(TokenService).url('preferences', id)).pathname;
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await fetch(t.baseUrl + path)).text())![1];
    for (const [field, form] of [
      ['__proto__', `csrf=${csrf}&cadence=biweekly&__proto__=x`],
      ['constructor', `csrf=${csrf}&cadence=biweekly&constructor=x`],
      ['cadence', `csrf=${csrf}&cadence=bi%00weekly`],
      ['topics', `csrf=${csrf}&topics=${ctx.topic}%00`],
    ]) {
      const rows = await rowCounts();
      const response = await send({ method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
      expect(`${field}: ${response.status} ${response.contentType}`).toMatch(/: 400 application\/problem\+json/);
      expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      expect(changed(rows, await rowCounts())).toEqual([]);
    }
    expect((await t.sql(`SELECT cadence FROM subscribers WHERE id = $1`, [id]))[0].cadence).toBe('weekly');
  });
});

describe('CSV imports', () => {
  const importOp = () => operations().find((o) => o.path === '/v1/subscribers/import' && o.method === 'POST')!;
  /** The CSV columns, as the operation's description lists them. */
  const columns = () =>
    /CSV columns: ([^.]*(?:\.<name>)?[^.]*)\./
      .exec(importOp().op.description)![1]
      .split(',')
      .map((c) => c.trim().split(' ')[0])
      .filter((c) => !c.includes('<'));

  async function csv(text: string): Promise<Sent> {
    return send({
      method: 'POST',
      url: '/v1/subscribers/import?atomic=true',
      headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'text/csv' },
      body: text,
    });
  }

  it('refuses prototype and unknown column names as unknown columns, naming them, and stores nothing', async () => {
    expect(columns()).toEqual(expect.arrayContaining(['email', 'time_zone', 'consent_confirmed_at']));
    for (const header of [...PROTOTYPE_KEYS, 'toString', 'hasOwnProperty', 'attr.__proto__', 'attr.constructor', 'valueOf']) {
      const rows = await rowCounts();
      const response = await csv(`email,${header}\nc${++seq}@example.com,x\n`);
      expect(`${header}: ${response.status}`).toBe(`${header}: 400`);
      expect(response.contentType).toMatch(/^application\/problem\+json/);
      expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: `columns.${header}` })]));
      expect(changed(rows, await rowCounts())).toEqual([]);
    }
  });

  it('refuses a bad cell in any column with the row and field named (atomic: nothing stored)', async () => {
    const valid: Record<string, string> = {
      email: '',
      time_zone: 'Europe/Berlin',
      consent_source: 'form',
      consent_confirmed_at: '2026-01-01T10:00:00Z',
      topics: ctx.topic,
    };
    const bad: [string, string, string][] = [
      ...ODD_INSTANTS.map((v) => ['consent_confirmed_at', v, 'consent.confirmedAt'] as [string, string, string]),
      ...BAD_TIME_ZONES.map((v) => ['time_zone', v, 'timeZone'] as [string, string, string]),
      ...columns()
        .filter((c) => c !== 'topics')
        .map((c) => [c, 'a\u0000b', ''] as [string, string, string]),
    ];
    for (const [column, value, field] of bad) {
      const rows = await rowCounts();
      const row = { ...valid, email: `csv${++seq}@example.com`, [column]: value };
      const header = Object.keys(row).join(',');
      const response = await csv(
        `${header}\n${Object.values(row)
          .map((v) => `"${v.replace(/"/g, '""')}"`)
          .join(',')}\n`,
      );
      const label = `${column}=${JSON.stringify(value)}`;
      expect(`${label}: ${response.status}`).toMatch(/: 4\d\d$/);
      expect(response.contentType).toMatch(/^application\/problem\+json/);
      if (field) expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ row: 1, field })]));
      else expect(response.body.errors?.[0]?.row ?? 1).toBe(1);
      expect(changed(rows, await rowCounts())).toEqual([]);
    }
  });
});

describe('time zones on the public pages', () => {
  it('the webinar form and the preferences page refuse a zone PostgreSQL does not know, without a 500 and without storing anything', async () => {
    // Its own webinar and subscriber: the fuzz above may have changed the shared ones.
    const starts = new Date(clock.now().getTime() + 40 * 86_400_000);
    const created = await t.api('POST', '/v1/webinars', {
      body: {
        slug: 'zones',
        topic: ctx.topic,
        title: { en: 'Zones' },
        startsAt: starts.toISOString(),
        endsAt: new Date(starts.getTime() + 3_600_000).toISOString(),
        joinUrl: 'https://meet.example.com/z',
      },
    });
    expect(created.status).toBe(201);
    const webinar = created.body;
    const subscriberId = (await importConfirmed(t, [{ email: 'zones@example.com', topics: [ctx.topic] }])).get('zones@example.com')!;
    const shown = await fetch(`${t.baseUrl}/webinars/${webinar.slug}/register`);
    const cookie = (shown.headers.get('set-cookie') ?? '').split(';')[0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(await shown.text())![1];
    const tokens = t.app.get(TokenService);
    const prefsPath = new URL(tokens.url('preferences', subscriberId)).pathname;
    const prefsPage = await (await fetch(t.baseUrl + prefsPath)).text();
    const prefsCsrf = /name="csrf" value="([^"]+)"/.exec(prefsPage)![1];
    for (const zone of BAD_TIME_ZONES) {
      const rows = await rowCounts();
      const form = new URLSearchParams({ csrf, email: `zone${++seq}@example.com`, timeZone: zone, lang: 'en' });
      const registered = await fetch(`${t.baseUrl}/webinars/${webinar.slug}/register`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      expect(`${zone}: ${registered.status}`).toBe(`${zone}: 422`);
      const saved = await fetch(t.baseUrl + prefsPath, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: prefsCsrf, timeZone: zone, cadence: 'weekly' }).toString(),
      });
      expect(`${zone}: ${saved.status} ${saved.headers.get('content-type')}`).toMatch(/: 400 application\/problem\+json/);
      expect(changed(rows, await rowCounts())).toEqual([]);
    }
    const [{ time_zone }] = await t.sql(`SELECT time_zone FROM subscribers WHERE id = $1`, [subscriberId]);
    expect(time_zone).toBe('Europe/Berlin');
  });
});

describe('validation before any write (issue 17, item 12)', () => {
  const webinarBody = (slug: string, invitation: unknown) => {
    const starts = new Date(clock.now().getTime() + 50 * 86_400_000);
    return {
      slug,
      topic: ctx.topic,
      title: { en: 'Late' },
      startsAt: starts.toISOString(),
      endsAt: new Date(starts.getTime() + 3_600_000).toISOString(),
      joinUrl: 'https://meet.example.com/l',
      invitation,
    };
  };

  it('a webinar with an invalid invitation is refused whole, however often it is retried: no webinar, no draft campaign', async () => {
    for (const invitation of [
      { sendAt: '2030-W10-1' },
      { sendAt: '20300301T101500Z' },
      { audience: { attr: '__proto__', eq: 1, constructor: 1 } },
      { priority: null },
      [],
    ]) {
      const rows = await rowCounts();
      for (let attempt = 0; attempt < 2; attempt++) {
        const response = await t.api('POST', '/v1/webinars', { body: webinarBody('late-invitation', invitation) });
        expect(`${JSON.stringify(invitation)}: ${response.status}`).toBe(`${JSON.stringify(invitation)}: 400`);
        expect(response.body.errors.some((e: any) => String(e.field).startsWith('invitation'))).toBe(true);
      }
      expect(changed(rows, await rowCounts())).toEqual([]);
    }
  });

  it('a webinar change with an invitation that went out already is refused before the webinar changes', async () => {
    const created = await t.api('POST', '/v1/webinars', { body: webinarBody('gone-invitation', { sendAt: ctx.now }) });
    expect(created.status).toBe(201);
    expect((await t.api('POST', `/v1/campaigns/${created.body.invitationCampaignId}/cancel`)).status).toBe(200);
    const changedTitle = await t.api('PATCH', `/v1/webinars/${created.body.id}`, { body: { title: { en: 'Renamed' }, invitation: { sendAt: ctx.now } } });
    expect(changedTitle.status).toBe(409);
    expect(changedTitle.body.errors).toEqual([{ field: 'invitation', message: 'went out already' }]);
    expect((await t.api('GET', `/v1/webinars/${created.body.id}`)).body.title).toEqual({ en: 'Late' });
  });
});
