// Hostile input in every text field of every endpoint, table-driven from the OpenAPI document:
// SQL, Handlebars, MJML/HTML, header line breaks, NUL bytes, 100 kB strings, wrong types, an
// oversized body and 10,000-deep JSON. Each request is either refused with a problem+json 4xx that
// names the field and changes no row, or accepted with the value stored verbatim as data; where
// stored text ends up in a page or a mail it is escaped, and no mail header gains a line.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { Client } from 'pg';
import { FakeClock } from '../../src/common/clock';
import { signWebhook } from '../../src/common/signatures';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { TokenService } from '../../src/preferences/tokens';
import { startTestApp, TestApp, TEST_SECRETS } from '../support/app';
import { createTopics, importConfirmed } from '../support/seed';

const PAYLOADS: [string, string][] = [
  ['SQL drop', "'; DROP TABLE subscribers;--"],
  ['SQL tautology', "' OR '1'='1"],
  ['Handlebars constructor', "{{constructor.constructor 'return process'}}"],
  ['Handlebars lookup', "{{#with this}}{{lookup this 'x'}}{{/with}}"],
  ['MJML break-out', '</mj-text><mj-raw><script>alert(1)</script></mj-raw>'],
  ['script tag', '<script>alert(1)</script>'],
  ['CR/LF header', 'x\r\nBcc: evil@example.com'],
  ['NUL byte', 'a\u0000b'],
  ['100 kB', 'A'.repeat(100_000)],
];

const DEEP = '__deep__';
/** `{"a":{"a":…1…}}`, `levels` deep. */
const deepJson = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

const clock = new FakeClock('2026-03-02T09:00:00Z'); // Monday
let t: TestApp;
let db: Client;

type Body = Record<string, any>;
interface Ctx {
  topic: string;
  subscriberId: string;
  campaignId: string;
  scheduleCampaignId: string;
  webinarId: string;
  pastWebinarId: string;
  orderNumber: string;
  shipmentId: string;
  trackingNumber: string;
  now: string;
  later: string;
  evenLater: string;
}
let ctx: Ctx;

interface Route {
  method: 'POST' | 'PATCH' | 'PUT';
  /** As the OpenAPI document names it. */
  path: string;
  url: (c: Ctx) => string;
  /** A valid body; `i` makes unique keys unique per request. */
  body: (c: Ctx, i: number) => Body;
  /** Signed like a shop or carrier system signs it. */
  signed?: boolean;
  /** Extra text fields the OpenAPI schema cannot name (free attribute maps). */
  extraFields?: string[];
}

const consent = (c: Ctx) => ({ source: 'form', confirmedAt: c.now, ip: '203.0.113.7', userAgent: 'Mozilla/5.0', textVersion: 'form-v3' });
const subscriber = (c: Ctx, i: number) => ({
  email: `s${i}@example.com`,
  locale: 'en',
  timeZone: 'Europe/Berlin',
  cadence: 'weekly',
  attributes: { company: 'Acme' },
  topics: [c.topic],
  consent: consent(c),
});
const localized = (de: string, en: string) => ({ de, en });

const ROUTES: Route[] = [
  { method: 'POST', path: '/v1/api-keys', url: () => '/v1/api-keys', body: () => ({ name: 'key', scopes: ['read'] }) },
  {
    method: 'POST',
    path: '/webhooks/mail-events',
    url: () => '/webhooks/mail-events',
    signed: true,
    body: (c, i) => ({ id: `evt-${i}`, type: 'bounce', bounceType: 'soft', email: 'nobody@example.com', messageId: '<m1@tactful.test>', detail: '450 try later', occurredAt: c.now }),
  },
  {
    method: 'POST',
    path: '/v1/topics',
    url: () => '/v1/topics',
    body: (_c, i) => ({ key: `topic-${i}`, nameDe: 'Messen', nameEn: 'Fairs', descriptionDe: 'Termine', descriptionEn: 'Dates', audienceHint: 'Exhibitors' }),
  },
  {
    method: 'PATCH',
    path: '/v1/topics/{key}',
    url: (c) => `/v1/topics/${c.topic}`,
    body: () => ({ nameDe: 'Messen', nameEn: 'Fairs', descriptionDe: 'Termine', descriptionEn: 'Dates', audienceHint: 'Exhibitors' }),
  },
  { method: 'POST', path: '/v1/subscribers', url: () => '/v1/subscribers', body: subscriber, extraFields: ['attributes.company'] },
  {
    method: 'POST',
    path: '/v1/subscribers/import',
    url: () => '/v1/subscribers/import?atomic=true',
    body: (c, i) => [subscriber(c, i)] as unknown as Body,
    extraFields: ['0.attributes.company'],
  },
  {
    method: 'PATCH',
    path: '/v1/subscribers/{id}',
    url: (c) => `/v1/subscribers/${c.subscriberId}`,
    body: (c) => ({ timeZone: 'Europe/Berlin', attributes: { company: 'Acme' }, topics: [c.topic], consent: consent(c) }),
    extraFields: ['attributes.company'],
  },
  {
    method: 'PATCH',
    path: '/v1/subscribers/{id}/preferences',
    url: (c) => `/v1/subscribers/${c.subscriberId}/preferences`,
    body: (c) => ({ topics: [c.topic], timeZone: 'Europe/Berlin', cadence: 'weekly' }),
  },
  {
    method: 'POST',
    path: '/v1/campaigns',
    url: () => '/v1/campaigns',
    body: (c) => ({
      name: 'Spring',
      topic: c.topic,
      sender: 'marketing',
      subject: localized('Neu', 'New'),
      body: localized('<p>Hallo</p>', '<p>Hello</p>'),
      digestSummary: localized('Kurz', 'Short'),
      sendAt: c.later,
      expiresAt: c.evenLater,
      digestUrl: 'https://shop.example.com/spring',
    }),
  },
  {
    method: 'PATCH',
    path: '/v1/campaigns/{id}',
    url: (c) => `/v1/campaigns/${c.campaignId}`,
    body: (c) => ({
      name: 'Spring',
      topic: c.topic,
      sender: 'marketing',
      subject: localized('Neu', 'New'),
      body: localized('<p>Hallo</p>', '<p>Hello</p>'),
      digestSummary: localized('Kurz', 'Short'),
      sendAt: c.later,
      expiresAt: c.evenLater,
      digestUrl: 'https://shop.example.com/spring',
    }),
  },
  { method: 'POST', path: '/v1/campaigns/{id}/schedule', url: (c) => `/v1/campaigns/${c.scheduleCampaignId}/schedule`, body: (c) => ({ sendAt: c.later }) },
  { method: 'POST', path: '/v1/campaigns/{id}/preview', url: (c) => `/v1/campaigns/${c.campaignId}/preview`, body: (c) => ({ subscriberId: c.subscriberId, locale: 'en' }) },
  { method: 'POST', path: '/v1/campaigns/{id}/test-send', url: (c) => `/v1/campaigns/${c.campaignId}/test-send`, body: () => ({ addresses: ['lead@example.com'], locale: 'en' }) },
  { method: 'PUT', path: '/v1/senders/{sender}/budget', url: () => '/v1/senders/shop/budget', body: () => ({ maxSlots: 1, perSlots: 4 }) },
  {
    method: 'POST',
    path: '/v1/digest-items',
    url: () => '/v1/digest-items',
    body: (c) => ({
      topic: c.topic,
      title: localized('Titel', 'Title'),
      summary: localized('Kurz', 'Short'),
      url: 'https://shop.example.com/item',
      sender: 'marketing',
      publishAt: c.now,
      expiresAt: c.evenLater,
    }),
  },
  {
    method: 'POST',
    path: '/v1/orders',
    url: () => '/v1/orders',
    body: (c, i) => ({ number: `A-${i}`, shop: 'main', email: 'buyer@example.com', locale: 'en', items: [{ sku: 'MUG', name: 'Mug', quantity: 1 }], placedAt: c.now }),
  },
  {
    method: 'POST',
    path: '/v1/shipments',
    url: () => '/v1/shipments',
    body: (c, i) => ({
      orderNumber: c.orderNumber,
      shop: 'main',
      carrier: 'dhl',
      trackingNumber: `TRK-${i}`,
      trackingUrl: `https://track.example.com/TRK-${i}`,
      items: [{ sku: 'MUG', quantity: 1 }],
    }),
  },
  {
    method: 'POST',
    path: '/v1/shipments/{id}/events',
    url: (c) => `/v1/shipments/${c.shipmentId}/events`,
    body: (c, i) => ({ eventId: `ev-${i}`, status: 'in_transit', occurredAt: c.now }),
  },
  {
    method: 'POST',
    path: '/webhooks/carrier',
    url: () => '/webhooks/carrier',
    signed: true,
    body: (c, i) => ({ carrier: 'dhl', trackingNumber: c.trackingNumber, eventId: `cw-${i}`, status: 'in_transit', occurredAt: c.now }),
  },
  {
    method: 'POST',
    path: '/v1/webinars',
    url: () => '/v1/webinars',
    body: (c, i) => ({
      slug: `webinar-${i}`,
      topic: c.topic,
      title: localized('Zahlungsziele', 'Payment terms'),
      description: localized('Was 60 Tage bedeuten.', 'What 60 days mean.'),
      startsAt: c.later,
      endsAt: new Date(Date.parse(c.later) + 3_600_000).toISOString(),
      timeZone: 'Europe/Berlin',
      joinUrl: 'https://meet.example.com/j/1',
      series: { key: `series-${i}`, title: localized('Reihe', 'Series') },
      part: 1,
      invitation: { sendAt: c.now },
    }),
  },
  {
    method: 'PATCH',
    path: '/v1/webinars/{id}',
    url: (c) => `/v1/webinars/${c.webinarId}`,
    body: () => ({
      title: localized('Zahlungsziele', 'Payment terms'),
      description: localized('Was 60 Tage bedeuten.', 'What 60 days mean.'),
      timeZone: 'Europe/Berlin',
      joinUrl: 'https://meet.example.com/j/1',
      recordingUrl: 'https://video.example.com/1',
    }),
  },
  {
    method: 'POST',
    path: '/v1/webinars/{id}/registrations',
    url: (c) => `/v1/webinars/${c.webinarId}/registrations`,
    body: (_c, i) => ({ email: `r${i}@example.com`, locale: 'en', timeZone: 'Europe/Berlin', firstName: 'Anna' }),
  },
  {
    method: 'POST',
    path: '/v1/webinars/{id}/attendance',
    url: (c) => `/v1/webinars/${c.pastWebinarId}/attendance`,
    body: (c) => ({ attended: ['attendee@example.com'], recordingUrl: 'https://video.example.com/2', followUps: false, followUpAt: c.later }),
  },
];

// ---------------------------------------------------------------- helpers

type PathPart = string | number;
const parsePath = (path: string): PathPart[] => path.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));

function setPath(target: any, path: PathPart[], value: unknown): void {
  let node = target;
  for (let k = 0; k < path.length - 1; k++) {
    if (node[path[k]] === undefined || node[path[k]] === null || typeof node[path[k]] !== 'object') node[path[k]] = typeof path[k + 1] === 'number' ? [] : {};
    node = node[path[k]];
  }
  node[path[path.length - 1]] = value;
}

/** The field name as problem+json reports it: `subject.en`, `items[0].name`, `topics[0]`. */
const fieldName = (path: PathPart[]): string =>
  path.reduce<string>((out, p) => (typeof p === 'number' ? `${out}[${p}]` : out === '' ? p : `${out}.${p}`), '');

function resolve(doc: any, schema: any): any {
  if (!schema) return schema;
  if (schema.$ref) return resolve(doc, doc.components.schemas[schema.$ref.split('/').pop()]);
  if (schema.allOf?.length === 1) return resolve(doc, schema.allOf[0]);
  return schema;
}

/** Paths of every string in the schema (arrays as their first element). */
function schemaStringPaths(doc: any, schema: any, prefix: PathPart[] = [], depth = 0): PathPart[][] {
  const s = resolve(doc, schema);
  if (!s || depth > 6) return [];
  if (s.type === 'string') return [prefix];
  if (s.type === 'array') return schemaStringPaths(doc, s.items, [...prefix, 0], depth + 1);
  if (s.properties) return Object.entries<any>(s.properties).flatMap(([k, v]) => schemaStringPaths(doc, v, [...prefix, k], depth + 1));
  return [];
}

/** Paths of every string and every object in a value. */
function valuePaths(value: unknown, prefix: PathPart[] = []): { strings: PathPart[][]; objects: PathPart[][] } {
  const out = { strings: [] as PathPart[][], objects: [] as PathPart[][] };
  if (typeof value === 'string') out.strings.push(prefix);
  else if (Array.isArray(value)) value.forEach((v, k) => mergePaths(out, valuePaths(v, [...prefix, k])));
  else if (value && typeof value === 'object') {
    if (prefix.length > 0) out.objects.push(prefix);
    for (const [k, v] of Object.entries(value)) mergePaths(out, valuePaths(v, [...prefix, k]));
  }
  return out;
}
function mergePaths(into: { strings: PathPart[][]; objects: PathPart[][] }, from: { strings: PathPart[][]; objects: PathPart[][] }): void {
  into.strings.push(...from.strings);
  into.objects.push(...from.objects);
}

const key = (p: PathPart[]) => p.join('.');
function uniquePaths(paths: PathPart[][]): PathPart[][] {
  const seen = new Map<string, PathPart[]>();
  for (const p of paths) seen.set(key(p), p);
  return [...seen.values()];
}

let tableList: string[] = [];
/** Row counts of every table the app writes (an audit of "nothing stored half-way"). */
async function rowCounts(): Promise<Record<string, number>> {
  const rows = (await db.query(tableList.map((name) => `SELECT '${name}' AS name, count(*)::int AS n FROM "${name}"`).join(' UNION ALL '))).rows;
  return Object.fromEntries(rows.map((r: any) => [r.name, r.n]));
}
const diff = (a: Record<string, number>, b: Record<string, number>) => Object.keys(b).filter((k) => a[k] !== b[k]).map((k) => `${k} ${a[k]}→${b[k]}`);

/** Is `text` stored verbatim as a string value in some row of some table (jsonb columns included)? */
async function storedVerbatim(text: string): Promise<boolean> {
  if (text.includes('\u0000')) return false; // PostgreSQL text cannot hold NUL: it was changed on the way
  for (const name of tableList) {
    const rows = (await db.query(`SELECT 1 FROM "${name}" r WHERE jsonb_path_exists(to_jsonb(r), 'strict $.** ? (@ == $v)', jsonb_build_object('v', $1::text)) LIMIT 1`, [text])).rows;
    if (rows.length > 0) return true;
  }
  return false;
}

interface Sent {
  status: number;
  contentType: string;
  body: any;
  text: string;
}

async function send(method: string, url: string, raw: string, signed = false, headers: Record<string, string> = {}): Promise<Sent> {
  const h: Record<string, string> = { 'content-type': 'application/json', ...headers };
  if (signed) h['x-tactful-signature'] = signWebhook(TEST_SECRETS.WEBHOOK_SECRET, raw, Math.floor(clock.now().getTime() / 1000));
  else if (!url.startsWith('/webhooks/')) h.authorization = `Bearer ${t.adminKey}`;
  const response = await fetch(t.baseUrl + url, { method, headers: h, body: raw });
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  let body: any = text;
  if (contentType.includes('json') && text !== '') body = JSON.parse(text);
  return { status: response.status, contentType, body, text };
}

/** The failure, if any, of one request that carried `value` at `path` (null: fine). */
async function judge(label: string, response: Sent, before: Record<string, number>, field: string | null, value: unknown): Promise<string | null> {
  const after = await rowCounts();
  if (response.status >= 500) return `${label}: ${response.status} ${response.text.slice(0, 300)}`;
  if (response.status >= 400) {
    if (!response.contentType.startsWith('application/problem+json')) return `${label}: ${response.status} with ${response.contentType}`;
    if (response.body.code === 'validation' && field !== null) {
      const named = (response.body.errors ?? []).some((e: any) => e.field === field || e.field.startsWith(`${field}.`) || e.field.startsWith(`${field}[`) || field.startsWith(`${e.field}`));
      if (!named) return `${label}: validation error does not name ${field}: ${JSON.stringify(response.body.errors)}`;
    }
    const changed = diff(before, after);
    if (changed.length > 0) return `${label}: ${response.status} but stored ${changed.join(', ')}`;
    return null;
  }
  if (response.status < 200 || response.status >= 300) return `${label}: unexpected ${response.status}`;
  if (typeof value === 'string' && !(await storedVerbatim(value))) return `${label}: ${response.status} but the value is not stored verbatim`;
  return null;
}

// ---------------------------------------------------------------- set-up

beforeAll(async () => {
  t = await startTestApp({
    clock,
    env: { CUSTOMER_RATE_LIMIT_PER_TOKEN: '100000', CUSTOMER_RATE_LIMIT_PER_IP: '1000000', IMPORT_BODY_LIMIT_BYTES: String(2 * 1024 * 1024) },
  });
  db = new Client({ connectionString: t.db.url });
  await db.connect();
  await createTopics(t, ['inj', 'other']);
  const ids = await importConfirmed(t, [{ email: 'anna@example.com', locale: 'en', topics: ['inj'] }]);
  const iso = (days: number) => new Date(clock.now().getTime() + days * 86_400_000).toISOString();
  const ok = (res: { status: number; body: any }, what: string) => {
    if (res.status >= 300) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const campaign = (name: string) => ({ name, topic: 'inj', subject: localized('Neu', 'New'), body: localized('<p>Hallo</p>', '<p>Hello</p>'), sendAt: iso(10) });
  const pastWebinar = ok(
    await t.api('POST', '/v1/webinars', {
      body: { topic: 'inj', title: localized('Vorbei', 'Past'), startsAt: iso(1), endsAt: iso(1.05), joinUrl: 'https://meet.example.com/p' },
    }),
    'past webinar',
  );
  const order = ok(await t.api('POST', '/v1/orders', { body: { number: 'BIG-1', email: 'buyer@example.com', items: [{ sku: 'MUG', name: 'Mug', quantity: 10000 }], placedAt: iso(-1) } }), 'order');
  const shipment = ok(
    await t.api('POST', '/v1/shipments', {
      body: { orderNumber: 'BIG-1', carrier: 'dhl', trackingNumber: 'TRK-BASE', trackingUrl: 'https://track.example.com/TRK-BASE', items: [{ sku: 'MUG', quantity: 1 }] },
    }),
    'shipment',
  );
  clock.set(iso(2)); // the past webinar is over: attendance can be recorded
  ctx = {
    topic: 'inj',
    subscriberId: ids.get('anna@example.com')!,
    campaignId: ok(await t.api('POST', '/v1/campaigns', { body: campaign('draft') }), 'campaign').id,
    scheduleCampaignId: ok(await t.api('POST', '/v1/campaigns', { body: campaign('to schedule') }), 'campaign').id,
    webinarId: '',
    pastWebinarId: pastWebinar.id,
    orderNumber: order.number,
    shipmentId: shipment.id,
    trackingNumber: 'TRK-BASE',
    now: iso(0),
    later: iso(20),
    evenLater: iso(40),
  };
  ctx.webinarId = ok(
    await t.api('POST', '/v1/webinars', { body: { topic: 'inj', title: localized('Zukunft', 'Future'), startsAt: iso(30), endsAt: iso(30.05), joinUrl: 'https://meet.example.com/f' } }),
    'webinar',
  ).id;
  tableList = (await db.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('migrations', 'typeorm_metadata') ORDER BY 1`)).rows.map((r: any) => r.tablename);
}, 60_000);

afterAll(async () => {
  await db?.end();
  await t?.close();
});

let seq = 0;

describe('every JSON text field of every POST/PATCH/PUT route in the OpenAPI document', () => {
  it('refuses hostile text with a problem+json naming the field and storing nothing, or stores it verbatim', async () => {
    const doc = (await t.api('GET', '/docs/openapi.json', { key: null })).body;
    const documented: string[] = [];
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        if (['post', 'patch', 'put'].includes(method) && op.requestBody?.content?.['application/json']) documented.push(`${method.toUpperCase()} ${path}`);
      }
    }
    // A new route without a row here fails: every route with a JSON body is covered.
    expect(documented.filter((r) => !ROUTES.some((x) => `${x.method} ${x.path}` === r))).toEqual([]);

    const failures: string[] = [];
    let checked = 0;
    let before = await rowCounts();
    for (const route of ROUTES) {
      const op = doc.paths[route.path][route.method.toLowerCase()];
      const schema = op.requestBody.content['application/json'].schema;
      const sample = route.body(ctx, 0);
      const fromValue = valuePaths(sample);
      const strings = uniquePaths([...schemaStringPaths(doc, schema, Array.isArray(sample) ? [] : []), ...fromValue.strings, ...(route.extraFields ?? []).map(parsePath)].map((p) =>
        Array.isArray(sample) && typeof p[0] !== 'number' ? [0, ...p] : p,
      ));
      const cases: { label: string; path: PathPart[]; value: unknown; expect?: number }[] = [];
      for (const path of strings) {
        for (const [name, value] of PAYLOADS) cases.push({ label: `${name} in ${key(path)}`, path, value });
        cases.push({ label: `a number for ${key(path)}`, path, value: 42 });
      }
      for (const path of fromValue.objects) cases.push({ label: `an array for object ${key(path)}`, path, value: [] });
      // One past the body limit (the import's own limit is lowered for this file): 413.
      const limit = route.path === '/v1/subscribers/import' ? t.config.importBodyLimitBytes : t.config.bodyLimitBytes;
      cases.push({ label: 'a body over the limit', path: strings[0] ?? ['note'], value: 'A'.repeat(limit + 1), expect: 413 });
      cases.push({ label: '10,000-deep JSON', path: strings[0] ?? ['note'], value: DEEP, expect: 400 });
      for (const c of cases) {
        const body = route.body(ctx, ++seq);
        setPath(body, c.path, c.value);
        const label = `${route.method} ${route.path}: ${c.label}`;
        const raw = c.value === DEEP ? JSON.stringify(body).replace(JSON.stringify(DEEP), deepJson(10_000)) : JSON.stringify(body);
        const response = await send(route.method, route.url(ctx), raw, route.signed);
        const failure = await judge(label, response, before, c.value === DEEP || c.expect === 413 ? null : fieldName(c.path), c.value);
        if (failure) failures.push(failure);
        else if (c.expect !== undefined && response.status !== c.expect) failures.push(`${label}: ${response.status}, not ${c.expect}`);
        before = await rowCounts();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
    expect(failures).toEqual([]);
  });
});
