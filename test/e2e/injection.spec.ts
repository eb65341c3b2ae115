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
import { TokenService } from '../../src/links/tokens';
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
  webinarSlug: string;
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
  /** Where accepted text is stored (looked up first; then every table). */
  tables?: string[];
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
const campaignBody = (c: Ctx) => ({
  name: 'Spring',
  topic: c.topic,
  sender: 'marketing',
  subject: localized('Neu', 'New'),
  body: localized('<p>Hallo</p>', '<p>Hello</p>'),
  digestSummary: localized('Kurz', 'Short'),
  sendAt: c.later,
  expiresAt: c.evenLater,
  digestUrl: 'https://shop.example.com/spring',
});

const ROUTES: Route[] = [
  { method: 'POST', path: '/v1/api-keys', tables: ['api_keys'], url: () => '/v1/api-keys', body: () => ({ name: 'key', scopes: ['read'] }) },
  {
    method: 'POST',
    path: '/webhooks/mail-events', tables: ['webhook_events'],
    url: () => '/webhooks/mail-events',
    signed: true,
    body: (c, i) => ({ id: `evt-${i}`, type: 'bounce', bounceType: 'soft', email: 'nobody@example.com', messageId: '<m1@tactful.test>', detail: '450 try later', occurredAt: c.now }),
  },
  {
    method: 'POST',
    path: '/v1/topics', tables: ['topics'],
    url: () => '/v1/topics',
    body: (_c, i) => ({ key: `topic-${i}`, nameDe: 'Messen', nameEn: 'Fairs', descriptionDe: 'Termine', descriptionEn: 'Dates', audienceHint: 'Exhibitors' }),
  },
  {
    method: 'PATCH',
    path: '/v1/topics/{key}', tables: ['topics'],
    url: (c) => `/v1/topics/${c.topic}`,
    body: () => ({ nameDe: 'Messen', nameEn: 'Fairs', descriptionDe: 'Termine', descriptionEn: 'Dates', audienceHint: 'Exhibitors' }),
  },
  { method: 'POST', path: '/v1/subscribers', tables: ['subscribers', 'topic_subscriptions'], url: () => '/v1/subscribers', body: subscriber, extraFields: ['attributes.company'] },
  {
    method: 'POST',
    path: '/v1/subscribers/import', tables: ['subscribers', 'topic_subscriptions'],
    url: () => '/v1/subscribers/import?atomic=true',
    body: (c, i) => [subscriber(c, i)] as unknown as Body,
    extraFields: ['0.attributes.company'],
  },
  {
    method: 'PATCH',
    path: '/v1/subscribers/{id}', tables: ['subscribers', 'topic_subscriptions'],
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
    path: '/v1/campaigns', tables: ['campaigns'],
    url: () => '/v1/campaigns',
    body: campaignBody,
  },
  {
    method: 'PATCH',
    path: '/v1/campaigns/{id}', tables: ['campaigns'],
    url: (c) => `/v1/campaigns/${c.campaignId}`,
    body: campaignBody,
  },
  { method: 'POST', path: '/v1/campaigns/{id}/schedule', url: (c) => `/v1/campaigns/${c.scheduleCampaignId}/schedule`, body: (c) => ({ sendAt: c.later }) },
  { method: 'POST', path: '/v1/campaigns/{id}/preview', url: (c) => `/v1/campaigns/${c.campaignId}/preview`, body: (c) => ({ subscriberId: c.subscriberId, locale: 'en' }) },
  { method: 'POST', path: '/v1/campaigns/{id}/test-send', url: (c) => `/v1/campaigns/${c.campaignId}/test-send`, body: () => ({ addresses: ['lead@example.com'], locale: 'en' }) },
  { method: 'PUT', path: '/v1/senders/{sender}/budget', url: () => '/v1/senders/shop/budget', body: () => ({ maxSlots: 1, perSlots: 4 }) },
  {
    method: 'POST',
    path: '/v1/digest-items', tables: ['digest_items'],
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
    path: '/v1/orders', tables: ['orders'],
    url: () => '/v1/orders',
    body: (c, i) => ({ number: `A-${i}`, shop: 'main', email: 'buyer@example.com', locale: 'en', items: [{ sku: 'MUG', name: 'Mug', quantity: 1 }], placedAt: c.now }),
  },
  {
    method: 'POST',
    path: '/v1/shipments', tables: ['shipments'],
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
    path: '/v1/shipments/{id}/events', tables: ['shipment_events'],
    url: (c) => `/v1/shipments/${c.shipmentId}/events`,
    body: (c, i) => ({ eventId: `ev-${i}`, status: 'in_transit', occurredAt: c.now }),
  },
  {
    method: 'POST',
    path: '/webhooks/carrier', tables: ['shipment_events', 'webhook_events'],
    url: () => '/webhooks/carrier',
    signed: true,
    body: (c, i) => ({ carrier: 'dhl', trackingNumber: c.trackingNumber, eventId: `cw-${i}`, status: 'in_transit', occurredAt: c.now }),
  },
  {
    method: 'POST',
    path: '/v1/webinars', tables: ['webinars', 'webinar_series', 'campaigns'],
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
    path: '/v1/webinars/{id}', tables: ['webinars'],
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
    path: '/v1/webinars/{id}/registrations', tables: ['subscribers', 'webinar_registrations'],
    url: (c) => `/v1/webinars/${c.webinarId}/registrations`,
    body: (_c, i) => ({ email: `r${i}@example.com`, locale: 'en', timeZone: 'Europe/Berlin', firstName: 'Anna' }),
  },
  {
    method: 'POST',
    path: '/v1/webinars/{id}/attendance', tables: ['webinars', 'webinar_registrations'],
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

/** Is `text` stored verbatim as a string value in some row (jsonb columns included), in `likely` tables first? */
async function storedVerbatim(text: string, likely: string[] = []): Promise<boolean> {
  if (text.includes('\u0000')) return false; // PostgreSQL text cannot hold NUL: it was changed on the way
  for (const name of [...likely, ...tableList.filter((x) => !likely.includes(x))]) {
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
  const response = await fetch(t.baseUrl + url, { method, headers: h, body: method === 'GET' ? undefined : raw });
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  let body: any = text;
  if (contentType.includes('json') && text !== '') body = JSON.parse(text);
  return { status: response.status, contentType, body, text };
}

/** The failure, if any, of one request that carried `value` at `path` (null: fine). */
async function judge(label: string, response: Sent, before: Record<string, number>, field: string | null, value: unknown, tables: string[] = []): Promise<string | null> {
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
  if (typeof value === 'string' && !(await storedVerbatim(value, tables))) return `${label}: ${response.status} but the value is not stored verbatim`;
  return null;
}

// ---------------------------------------------------------------- set-up

beforeAll(async () => {
  t = await startTestApp({
    clock,
    env: {
      CUSTOMER_RATE_LIMIT_PER_TOKEN: '100000',
      CUSTOMER_RATE_LIMIT_PER_IP: '1000000',
      // Every hostile form is a confirmation mail whose request stores the fields: none withheld here.
      WEBINAR_CONFIRM_MAILS_PER_IP_HOUR: '100000',
      // The parcel mail is handed over by the same drain as the others (its hold is tested in shipments.spec.ts).
      SHIPMENT_SETTLE_SECONDS: '0',
      IMPORT_BODY_LIMIT_BYTES: String(2 * 1024 * 1024),
    },
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
    webinarSlug: 'future-webinar',
    pastWebinarId: pastWebinar.id,
    orderNumber: order.number,
    shipmentId: shipment.id,
    trackingNumber: 'TRK-BASE',
    now: iso(0),
    later: iso(20),
    evenLater: iso(40),
  };
  ctx.webinarId = ok(
    await t.api('POST', '/v1/webinars', { body: { slug: 'future-webinar', topic: 'inj', title: localized('Zukunft', 'Future'), startsAt: iso(30), endsAt: iso(30.05), joinUrl: 'https://meet.example.com/f' } }),
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
        const failure = await judge(label, response, before, c.value === DEEP || c.expect === 413 ? null : fieldName(c.path), c.value, route.tables);
        if (failure) failures.push(failure);
        else if (c.expect !== undefined && response.status !== c.expect) failures.push(`${label}: ${response.status}, not ${c.expect}`);
        before = await rowCounts();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
    expect(failures).toEqual([]);
  }, 240_000);
});

// ---------------------------------------------------------------- customer pages

interface PageResponse {
  status: number;
  contentType: string;
  text: string;
  setCookie: string | null;
}

async function page(method: string, path: string, options: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<PageResponse> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  const response = await fetch(t.baseUrl + path, { method, headers, body });
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text(), setCookie: response.headers.get('set-cookie') };
}

const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)![1];

/** Markup that must never reach a page or a mail from stored data. */
const LIVE_MARKUP = ['<script>alert(1)</script>', '<mj-raw>', '</mj-text>'];
const liveMarkupIn = (html: string) => LIVE_MARKUP.filter((m) => html.includes(m));

interface FormRoute {
  name: string;
  /** GET shows the form (its CSRF field); POST sends it to the same path. */
  path: () => string;
  /** Where the form is shown, when not at `path`. */
  shownAt?: () => string;
  fields: (i: number) => Record<string, string>;
  /** Extra request headers (the webinar form's cookie). */
  headers?: () => Record<string, string>;
  /** How an accepted value is stored, when it is stored: checked verbatim. */
  stored?: Record<string, (value: string) => string>;
  /** Where accepted text is stored (looked up first). */
  tables?: string[];
}

let webinarCookie = '';
const FORM_ROUTES: FormRoute[] = [
  {
    name: 'preferences form',
    path: () => new URL(t.app.get(TokenService).url('preferences', ctx.subscriberId)).pathname,
    fields: () => ({ topics: 'inj', cadence: 'weekly', weekday: '1', hour: '9', timeZone: 'Europe/Berlin', locale: 'en', pause: '0' }),
  },
  {
    name: 'topic suggestion',
    path: () => `${new URL(t.app.get(TokenService).url('preferences', ctx.subscriberId)).pathname}/suggest`,
    shownAt: () => new URL(t.app.get(TokenService).url('preferences', ctx.subscriberId)).pathname,
    fields: () => ({ suggestion: 'More about fairs' }),
    stored: { suggestion: (v) => v.replace(/\r\n?/g, '\n').trim() },
    tables: ['topic_suggestions'],
  },
  {
    name: 'feedback page',
    path: () => new URL(t.app.get(TokenService).itemUrl(ctx.subscriberId, 'campaign', ctx.campaignId)).pathname,
    fields: () => ({ rating: 'useful', comment: 'Helpful' }),
    stored: { comment: (v) => v.replace(/\r\n?/g, '\n').trim() },
    tables: ['feedback'],
  },
  {
    name: 'webinar registration page',
    path: () => `/webinars/${ctx.webinarSlug}/register`,
    fields: (i) => ({ lang: 'en', email: `page${i}@example.com`, firstName: 'Anna', timeZone: 'Europe/Berlin' }),
    headers: () => ({ cookie: webinarCookie }),
    stored: { firstName: (v) => v.replace(/[<>\r\n]/g, '').slice(0, 100) },
    tables: ['webinar_registration_requests', 'subscribers', 'webinar_registrations'],
  },
];

describe('the customer pages', () => {
  it('answer hostile form fields with an error page or a problem, never a 500, store nothing half-way, and echo nothing unescaped', async () => {
    const failures: string[] = [];
    let before = await rowCounts();
    let checked = 0;
    for (const route of FORM_ROUTES) {
      const shown = await page('GET', (route.shownAt ?? route.path)(), { headers: route.headers?.() });
      expect(`${route.name}: ${shown.status}`).toBe(`${route.name}: 200`);
      if (shown.setCookie) webinarCookie = shown.setCookie.split(';')[0];
      const csrf = csrfOf(shown.text);
      for (const field of Object.keys(route.fields(0))) {
        for (const [name, value] of PAYLOADS) {
          const form = { csrf, ...route.fields(++seq), [field]: value };
          const response = await page('POST', route.path(), { form, headers: route.headers?.() });
          const label = `${route.name}: ${name} in ${field}`;
          checked++;
          const after = await rowCounts();
          // A problem+json body may quote the input: it is data, and no browser renders it as a page.
          const live = response.contentType.startsWith('text/html') ? liveMarkupIn(response.text) : [];
          if (response.status >= 500) failures.push(`${label}: ${response.status} ${response.text.slice(0, 200)}`);
          else if (live.length > 0) failures.push(`${label}: the page shows ${live.join(', ')} unescaped (${response.status} ${response.contentType}) ${response.text.slice(0, 400)}`);
          else if (response.status >= 400) {
            if (!/^(application\/problem\+json|text\/html)/.test(response.contentType)) failures.push(`${label}: ${response.status} with ${response.contentType}`);
            const changed = diff(before, after);
            if (changed.length > 0) failures.push(`${label}: ${response.status} but stored ${changed.join(', ')}`);
          } else {
            const storedAs = route.stored?.[field];
            if (storedAs && !(await storedVerbatim(storedAs(value), route.tables))) failures.push(`${label}: accepted but not stored as ${JSON.stringify(storedAs(value).slice(0, 60))}`);
          }
          before = after;
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(failures).toEqual([]);
  }, 120_000);

  it('stores a hostile User-Agent on the confirm page as consent evidence, verbatim', async () => {
    const agents = [...PAYLOADS.filter(([name]) => !['CR/LF header', 'NUL byte', '100 kB'].includes(name)).map(([, v]) => v), 'U'.repeat(8_000)];
    for (const [i, agent] of agents.entries()) {
      const created = await t.api('POST', '/v1/subscribers', { body: { email: `pending${i}@example.com`, topics: ['inj'] } });
      expect(created.status).toBe(201);
      const path = new URL(t.app.get(TokenService).url('confirm', created.body.id)).pathname;
      const confirmed = await page('POST', path, { form: {}, headers: { 'user-agent': agent } });
      expect(confirmed.status).toBe(200);
      expect(liveMarkupIn(confirmed.text)).toEqual([]);
      // The confirmation's evidence, cut to 500 characters.
      const [row] = await t.sql(`SELECT confirmation_user_agent FROM subscribers WHERE id = $1`, [created.body.id]);
      expect(row.confirmation_user_agent).toBe(agent.slice(0, 500));
    }
  });

  it('answers a hostile token in any customer link with the not-found page', async () => {
    const failures: string[] = [];
    const tokens = [...PAYLOADS.filter(([name]) => name !== '100 kB').map(([, v]) => v), 'A'.repeat(400)];
    for (const token of tokens) {
      const encoded = encodeURIComponent(token);
      for (const [method, path] of [
        ['GET', `/p/${encoded}`],
        ['POST', `/p/${encoded}`],
        ['POST', `/p/${encoded}/suggest`],
        ['GET', `/u/${encoded}`],
        ['POST', `/u/${encoded}`],
        ['GET', `/f/${encoded}`],
        ['POST', `/f/${encoded}`],
        ['GET', `/confirm/${encoded}`],
        ['POST', `/confirm/${encoded}`],
        ['GET', `/webinars/${encoded}/register`],
        ['POST', `/webinars/${encoded}/register`],
        ['GET', `/webinars/unregister/${encoded}`],
        ['POST', `/webinars/unregister/${encoded}`],
      ]) {
        const response = await page(method, path, method === 'POST' ? { form: { csrf: 'x', suggestion: 'x', rating: 'useful' } } : {});
        if (![400, 403, 404].includes(response.status)) failures.push(`${method} ${path.slice(0, 60)}: ${response.status}`);
        if (response.contentType.startsWith('text/html') && liveMarkupIn(response.text).length > 0) failures.push(`${method} ${path.slice(0, 60)}: echoes markup`);
      }
    }
    expect(failures).toEqual([]);
  });
});

// ---------------------------------------------------------------- path and query parameters, imports

describe('path and query parameters of every GET route in the OpenAPI document', () => {
  it('answer hostile ids, keys and filters with a 2xx or a problem+json 4xx, never a 500', async () => {
    const doc = (await t.api('GET', '/docs/openapi.json', { key: null })).body;
    const failures: string[] = [];
    let checked = 0;
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      const op = item.get;
      if (!op || !path.startsWith('/v1/')) continue;
      const params: any[] = op.parameters ?? [];
      for (const [name, value] of PAYLOADS.filter(([n]) => n !== '100 kB').concat([['2 kB', 'A'.repeat(2_000)]])) {
        const encoded = encodeURIComponent(value);
        const urls = [path.replace(/\{[^}]+\}/g, encoded), path.replace(/\{[^}]+\}/g, '%E0%A4%A')];
        for (const q of params.filter((p) => p.in === 'query')) urls.push(`${path.replace(/\{[^}]+\}/g, ctx.subscriberId)}?${q.name}=${encoded}`);
        for (const url of urls) {
          const response = await send('GET', url.replace('{key}', ctx.topic), '');
          checked++;
          if (response.status >= 500) failures.push(`GET ${path} with ${name}: ${response.status}`);
          else if (response.status >= 400 && !response.contentType.startsWith('application/problem+json')) failures.push(`GET ${path} with ${name}: ${response.contentType}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(failures).toEqual([]);
  }, 120_000);
});

describe('CSV and NDJSON imports', () => {
  const csvField = (v: string) => `"${v.replace(/"/g, '""')}"`;
  it('refuse a hostile row atomically (422, nothing stored) or store its text verbatim', async () => {
    const failures: string[] = [];
    let before = await rowCounts();
    for (const column of ['email', 'time_zone', 'topics', 'consent_user_agent', 'consent_text_version', 'attr.company']) {
      for (const [name, value] of PAYLOADS) {
        const row: Record<string, string> = {
          email: `csv${++seq}@example.com`,
          time_zone: 'Europe/Berlin',
          topics: 'inj',
          consent_source: 'form',
          consent_confirmed_at: ctx.now,
          consent_user_agent: 'Mozilla/5.0',
          consent_text_version: 'v1',
          'attr.company': 'Acme',
          [column]: value,
        };
        const csv = `${Object.keys(row).join(',')}\n${Object.values(row).map(csvField).join(',')}\n`;
        const ndjson = JSON.stringify({
          email: `nd${seq}@example.com`,
          timeZone: 'Europe/Berlin',
          topics: ['inj'],
          consent: { source: 'form', confirmedAt: ctx.now, userAgent: column === 'consent_user_agent' ? value : 'x', textVersion: column === 'consent_text_version' ? value : 'v1' },
          attributes: { company: column === 'attr.company' ? value : 'Acme' },
        });
        for (const [type, body] of [['text/csv', csv], ['application/x-ndjson', `${ndjson}\n`]]) {
          const response = await send('POST', '/v1/subscribers/import?atomic=true', body, false, { 'content-type': type });
          const label = `${type}: ${name} in ${column}`;
          const after = await rowCounts();
          if (response.status >= 500) failures.push(`${label}: ${response.status} ${response.text.slice(0, 200)}`);
          else if (response.status >= 400) {
            if (!response.contentType.startsWith('application/problem+json')) failures.push(`${label}: ${response.contentType}`);
            const changed = diff(before, after);
            if (changed.length > 0) failures.push(`${label}: ${response.status} but stored ${changed.join(', ')}`);
          } else if (['consent_user_agent', 'consent_text_version', 'attr.company'].includes(column) && !(await storedVerbatim(value, ['subscribers', 'topic_subscriptions']))) {
            failures.push(`${label}: accepted but not stored verbatim`);
          }
          before = after;
        }
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);
});

// ---------------------------------------------------------------- where stored text is shown

/** Every .eml the worker wrote, parsed, with its raw header block unfolded. */
async function outboxMails(): Promise<{ file: string; headers: string; subject: string; html: string; text: string }[]> {
  const dir = t.config.outboxDir;
  const files = readdirSync(dir).filter((f) => f.endsWith('.eml'));
  return Promise.all(
    files.map(async (file) => {
      const raw = readFileSync(join(dir, file), 'utf8');
      const parsed = await simpleParser(raw);
      return {
        file,
        headers: raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' '),
        subject: parsed.subject ?? '',
        html: typeof parsed.html === 'string' ? parsed.html : '',
        text: parsed.text ?? '',
      };
    }),
  );
}

describe('hostile text stored as data', () => {
  const SCRIPT = '<script>alert(1)</script>';
  const BREAKOUT = '</mj-text><mj-raw><script>alert(1)</script></mj-raw>';
  const HBS = "{{constructor.constructor 'return process'}}";
  const CRLF = 'x\r\nBcc: evil@example.com';

  it('is escaped on every page and in every mail, runs no template, and adds no header line', async () => {
    const ok = async (res: Promise<{ status: number; body: any }>, what: string) => {
      const r = await res;
      if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    // A topic, a subscriber, a campaign, a webinar, an order and a parcel, each carrying the payloads.
    await ok(
      t.api('POST', '/v1/topics', { body: { key: 'shown', nameDe: HBS, nameEn: `${SCRIPT} ${HBS}`, descriptionEn: BREAKOUT, descriptionDe: CRLF } }),
      'topic',
    );
    const ids = await importConfirmed(t, [{ email: 'victim@example.com', locale: 'en', topics: ['shown'], attributes: { company: SCRIPT } }]);
    const victim = ids.get('victim@example.com')!;
    const campaign = await ok(
      t.api('POST', '/v1/campaigns', {
        body: {
          name: SCRIPT,
          topic: 'shown',
          subject: { en: `${SCRIPT} ${HBS}` },
          body: { en: `<p>Hello {{#with this}}{{lookup this 'x'}}{{/with}} ${HBS}</p>` },
          digestSummary: { en: SCRIPT },
          sendAt: ctx.later,
        },
      }),
      'campaign',
    );
    const webinar = await ok(
      t.api('POST', '/v1/webinars', {
        body: { slug: 'shown-webinar', topic: 'shown', title: { en: `${SCRIPT} ${HBS}` }, description: { en: `${BREAKOUT}\n\n${HBS}` }, startsAt: ctx.later, endsAt: ctx.evenLater, joinUrl: 'https://meet.example.com/s' },
      }),
      'webinar',
    );
    await ok(t.api('POST', `/v1/webinars/${webinar.id}/registrations`, { body: { email: 'victim@example.com', firstName: `${HBS} '; DROP TABLE subscribers;--` } }), 'registration');
    await ok(t.api('POST', '/v1/orders', { body: { number: 'O-1', email: 'victim@example.com', items: [{ sku: 'X', name: `${SCRIPT} ${HBS}`, quantity: 1 }], placedAt: ctx.now } }), 'order');
    await ok(
      t.api('POST', '/v1/shipments', { body: { orderNumber: 'O-1', carrier: 'dhl', trackingNumber: 'TRK-SHOWN', trackingUrl: `https://track.example.com/1?a='-{{x}}` } }),
      'shipment',
    );
    // The marketer's own HTML body is trusted, but an MJML break-out is refused, not stored.
    const breakout = await t.api('POST', '/v1/campaigns', { body: { name: 'x', topic: 'shown', subject: { en: 'x' }, body: { en: BREAKOUT } } });
    expect(breakout.status).toBe(400);
    expect(breakout.body.errors.map((e: any) => e.field)).toContain('body.en');

    // Pages: the preferences page, the feedback page, the public webinar page.
    const tokens = t.app.get(TokenService);
    const pages = [
      await page('GET', new URL(tokens.url('preferences', victim)).pathname),
      await page('GET', new URL(tokens.itemUrl(victim, 'campaign', campaign.id)).pathname),
      await page('GET', '/webinars/shown-webinar/register?lang=en'),
    ];
    for (const shown of pages) {
      expect(shown.status).toBe(200);
      expect(liveMarkupIn(shown.text)).toEqual([]);
    }
    expect(pages[0].text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(pages[0].text).toContain(HBS.replace(/'/g, '&#x27;'));
    expect(pages[2].text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // A feedback comment comes back escaped on the page that took it.
    const feedbackPath = new URL(tokens.itemUrl(victim, 'campaign', campaign.id)).pathname;
    const answered = await page('POST', feedbackPath, { form: { csrf: csrfOf(pages[1].text), rating: 'useful', comment: BREAKOUT } });
    expect(answered.status).toBe(200);
    expect(liveMarkupIn(answered.text)).toEqual([]);
    expect(answered.text).toContain('&lt;/mj-text&gt;&lt;mj-raw&gt;&lt;script&gt;');

    // The preview: a one-line subject; the marketer's body is not a template, so nothing in it runs.
    const preview = await ok(t.api('POST', `/v1/campaigns/${campaign.id}/preview`, { body: { subscriberId: victim, locale: 'en' } }), 'preview');
    expect(preview.subject).not.toMatch(/[\r\n]/);
    expect(preview.subject).toContain(HBS);
    expect(preview.html).not.toContain(SCRIPT);
    expect(preview.html).toContain(HBS);
    expect(preview.text).toContain("{{#with this}}{{lookup this 'x'}}{{/with}}");

    // Mails: a test send, the webinar registration, the order confirmation and the parcel mail.
    await ok(t.api('POST', `/v1/campaigns/${campaign.id}/test-send`, { body: { addresses: ['lead@example.com'], locale: 'en' } }), 'test-send');
    await t.app.get(DeliveryWorker).drain();
    const mails = await outboxMails();
    const toVictim = mails.filter((m) => /^To: .*victim@example\.com/im.test(m.headers));
    expect(mails.length).toBeGreaterThanOrEqual(4);
    expect(toVictim.length).toBeGreaterThanOrEqual(3);
    for (const mail of mails) {
      expect({ file: mail.file, bcc: /^Bcc:/im.test(mail.headers) }).toEqual({ file: mail.file, bcc: false });
      expect({ file: mail.file, live: liveMarkupIn(mail.html) }).toEqual({ file: mail.file, live: [] });
      expect(mail.subject).not.toMatch(/[\r\n]/);
    }
    expect(mails.some((m) => m.html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'))).toBe(true);
    expect(mails.some((m) => m.text.includes(HBS))).toBe(true);
  });
});
