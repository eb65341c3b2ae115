// The foundation as a marketer meets it over HTTP: keys and scopes, topics, subscribers, import, GDPR.
import { createHash } from 'node:crypto';
import { startTestApp, TestApp } from '../support/app';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
  for (const key of ['trade-fairs', 'offers']) {
    const res = await t.api('POST', '/v1/topics', { body: { key, nameDe: `Thema ${key}`, nameEn: `Topic ${key}` } });
    expect(res.status).toBe(201);
  }
});

afterAll(() => t.close());

const sql = (text: string, params: unknown[] = []) => t.sql(text, params);

function csv(rows: string[][]): string {
  return rows.map((r) => r.join(',')).join('\n') + '\n';
}

describe('API keys and scopes', () => {
  it('refuses a request without a key with 401 problem+json', async () => {
    const res = await t.api('GET', '/v1/topics', { key: null });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('lets a narrow key do its job and answers 403 everywhere else', async () => {
    const created = await t.api('POST', '/v1/api-keys', { body: { name: 'topic editor', scopes: ['topics:write'] } });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^tk_/);
    const key = created.body.key as string;

    expect((await t.api('POST', '/v1/topics', { key, body: { key: 'markets', nameDe: 'Märkte', nameEn: 'Markets' } })).status).toBe(201);
    const forbidden = await t.api('POST', '/v1/subscribers', { key, body: { email: 'x@example.com' } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.requiredScopes).toEqual(['subscribers:write']);
    expect((await t.api('GET', '/v1/api-keys', { key })).status).toBe(403);
  });

  it('never lists the key itself and stops accepting a revoked key at once', async () => {
    const created = await t.api('POST', '/v1/api-keys', { body: { name: 'reader', scopes: ['read'] } });
    const list = await t.api('GET', '/v1/api-keys');
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);
    expect((await t.api('GET', '/v1/topics', { key: created.body.key })).status).toBe(200);
    expect((await t.api('DELETE', `/v1/api-keys/${created.body.id}`)).status).toBe(204);
    expect((await t.api('GET', '/v1/topics', { key: created.body.key })).status).toBe(401);
  });
});

describe('topics', () => {
  it('creates, reads, renames and archives a topic', async () => {
    const created = await t.api('POST', '/v1/topics', {
      body: { key: 'payment-terms', nameDe: 'Zahlungsziele', nameEn: 'Payment terms', descriptionEn: 'When we extend payment terms.' },
    });
    expect(created.status).toBe(201);
    const patched = await t.api('PATCH', '/v1/topics/payment-terms', { body: { nameEn: 'Payment terms and vouchers', archived: true } });
    expect(patched.body).toMatchObject({ key: 'payment-terms', nameEn: 'Payment terms and vouchers', archived: true });
    const list = await t.api('GET', '/v1/topics');
    expect(list.body.map((topic: { key: string }) => topic.key)).not.toContain('payment-terms');
    const all = await t.api('GET', '/v1/topics?includeArchived=true');
    expect(all.body.map((topic: { key: string }) => topic.key)).toContain('payment-terms');
  });

  it('answers 409 naming the field for a taken key', async () => {
    const res = await t.api('POST', '/v1/topics', { body: { key: 'offers', nameDe: 'A', nameEn: 'B' } });
    expect(res.status).toBe(409);
    expect(res.body.errors).toEqual([{ field: 'key', message: 'is taken' }]);
  });

  it('rejects an unknown field and a bad slug with 400 naming both', async () => {
    const res = await t.api('POST', '/v1/topics', { body: { key: 'Bad Key!', nameDe: 'A', nameEn: 'B', colour: 'red' } });
    expect(res.status).toBe(400);
    const fields = res.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['key', 'colour']));
    expect((await t.api('GET', '/v1/topics/bad-key')).status).toBe(404);
  });

  it('refuses to delete a topic that holds consent records, and deletes an unused one', async () => {
    await t.api('POST', '/v1/subscribers', { body: { email: 'holder@example.com', topics: ['markets'] } });
    expect((await t.api('DELETE', '/v1/topics/markets')).status).toBe(409);
    await t.api('POST', '/v1/topics', { body: { key: 'unused', nameDe: 'A', nameEn: 'B' } });
    expect((await t.api('DELETE', '/v1/topics/unused')).status).toBe(204);
    expect((await t.api('GET', '/v1/topics/unused')).status).toBe(404);
  });
});

describe('subscribers', () => {
  it('creates a pending subscriber with a consent record per topic and a normalised address', async () => {
    const res = await t.api('POST', '/v1/subscribers', {
      body: {
        email: '  Anna.Schmidt@Example.DE ',
        locale: 'de',
        timeZone: 'Europe/Berlin',
        cadence: 'biweekly',
        attributes: { company: 'Bäckerei Kunz', employees: 12 },
        topics: ['trade-fairs'],
        consent: { source: 'form', ip: '203.0.113.7', userAgent: 'Mozilla/5.0', textVersion: 'v3' },
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ email: 'anna.schmidt@example.de', status: 'pending', cadence: 'biweekly', confirmedAt: null });
    expect(res.body.topics).toEqual([
      expect.objectContaining({ topic: 'trade-fairs', status: 'pending', source: 'form', ip: '203.0.113.7', textVersion: 'v3' }),
    ]);
    const again = await t.api('POST', '/v1/subscribers', { body: { email: 'anna.schmidt@example.de' } });
    expect(again.status).toBe(409);
  });

  it('rejects a bad time zone, a bad e-mail and an unknown field with 400 naming each', async () => {
    const res = await t.api('POST', '/v1/subscribers', { body: { email: 'not-an-address', timeZone: 'Mars/Olympus', shoeSize: 44 } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['email', 'shoeSize', 'timeZone']);
    const list = await t.api('GET', '/v1/subscribers?email=not-an-address');
    expect(list.body.items).toHaveLength(0);
  });

  it('requires a source for confirmed consent and refuses unknown topics', async () => {
    const res = await t.api('POST', '/v1/subscribers', {
      body: { email: 'b@example.com', topics: ['nope'], consent: { confirmedAt: '2026-01-01T00:00:00Z' } },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['consent.source', 'topics[0]']);
  });

  it('pages through subscribers with a keyset cursor and filters by topic', async () => {
    const first = await t.api('GET', '/v1/subscribers?limit=1');
    expect(first.body.items).toHaveLength(1);
    expect(first.body.nextCursor).toBe(first.body.items[0].id);
    const second = await t.api('GET', `/v1/subscribers?limit=1&after=${first.body.nextCursor}`);
    expect(second.body.items[0].id > first.body.items[0].id).toBe(true);
    const bad = await t.api('GET', '/v1/subscribers?limit=9999&colour=red');
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['colour', 'limit']);
  });

  it('pauses and unsubscribes, but never activates an unconfirmed subscriber', async () => {
    const created = await t.api('POST', '/v1/subscribers', { body: { email: 'pause@example.com', topics: ['offers'] } });
    const activate = await t.api('PATCH', `/v1/subscribers/${created.body.id}`, { body: { status: 'active' } });
    expect(activate.status).toBe(422);
    const revoked = await t.api('PATCH', `/v1/subscribers/${created.body.id}`, { body: { topics: [], cadence: 'biweekly' } });
    expect(revoked.body.topics[0]).toMatchObject({ topic: 'offers', status: 'revoked' });
    expect(revoked.body.cadence).toBe('biweekly');
  });
});

describe('import', () => {
  it('stores 997 of 1,000 CSV rows and reports exactly the 3 bad ones', async () => {
    const rows = [['email', 'locale', 'time_zone', 'cadence', 'topics', 'attr.company']];
    for (let i = 0; i < 1000; i++) rows.push([`csv${i}@example.com`, i % 2 ? 'de' : 'en', 'Europe/Berlin', 'weekly', 'trade-fairs;offers', `Firma ${i}`]);
    rows[101][0] = 'broken-address';
    rows[501][2] = 'Nowhere/City';
    rows[901][4] = 'trade-fairs;no-such-topic';
    const res = await t.api('POST', '/v1/subscribers/import', { raw: csv(rows), contentType: 'text/csv' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ received: 1000, created: 997, rejected: 3, applied: true });
    expect(res.body.errors).toEqual([
      expect.objectContaining({ row: 101, field: 'email' }),
      expect.objectContaining({ row: 501, field: 'timeZone' }),
      expect.objectContaining({ row: 901, field: 'topics[1]' }),
    ]);
    const [{ count }] = await sql(`SELECT count(*)::int AS count FROM subscribers WHERE email LIKE 'csv%'`);
    expect(count).toBe(997);
    const page = await t.api('GET', '/v1/subscribers?topic=offers&limit=500');
    expect(page.body.items).toHaveLength(0); // unconfirmed rows are pending, not confirmed for the topic
    const one = await t.api('GET', '/v1/subscribers?email=csv5@example.com');
    expect(one.body.items[0]).toMatchObject({ status: 'pending', locale: 'de', attributes: { company: 'Firma 5' } });
  });

  it('with atomic=true stores nothing when one row is bad', async () => {
    const body = [{ email: 'atomic1@example.com', topics: ['offers'] }, { email: 'atomic2@example.com', cadence: 'daily' }, { email: 'atomic3@example.com' }];
    const res = await t.api('POST', '/v1/subscribers/import?atomic=true', { body });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([expect.objectContaining({ row: 2, field: 'cadence' })]);
    const check = await t.api('GET', '/v1/subscribers?email=atomic1@example.com');
    expect(check.body.items).toHaveLength(0);
  });

  it('upserts by e-mail and confirms with consent evidence, never re-activating an unsubscribed person', async () => {
    const first = await t.api('POST', '/v1/subscribers/import', {
      raw: [
        JSON.stringify({ email: 'up@example.com', topics: ['offers'], consent: { source: 'form', confirmedAt: '2026-01-02T09:00:00Z' } }),
        JSON.stringify({ email: 'gone@example.com', topics: ['offers'], consent: { source: 'form', confirmedAt: '2026-01-02T09:00:00Z' } }),
      ].join('\n'),
      contentType: 'application/x-ndjson',
    });
    expect(first.body).toMatchObject({ created: 2, rejected: 0 });
    const gone = await t.api('GET', '/v1/subscribers?email=gone@example.com');
    await t.api('PATCH', `/v1/subscribers/${gone.body.items[0].id}`, { body: { status: 'unsubscribed' } });

    const second = await t.api('POST', '/v1/subscribers/import', {
      body: [
        { email: 'UP@example.com', cadence: 'biweekly' },
        { email: 'gone@example.com', topics: ['offers'], consent: { source: 'import', confirmedAt: '2026-01-03T09:00:00Z' } },
      ],
    });
    expect(second.body).toMatchObject({ created: 0, updated: 2 });
    const up = await t.api('GET', '/v1/subscribers?email=up@example.com');
    expect(up.body.items[0]).toMatchObject({ status: 'active', cadence: 'biweekly' });
    expect(up.body.items[0].topics[0]).toMatchObject({ topic: 'offers', status: 'confirmed' });
    const still = await t.api('GET', '/v1/subscribers?email=gone@example.com');
    expect(still.body.items[0].status).toBe('unsubscribed');
  });

  it('rejects an unknown CSV column before touching anything', async () => {
    const res = await t.api('POST', '/v1/subscribers/import', { raw: 'email,favourite_colour\na@b.de,red\n', contentType: 'text/csv' });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'columns.favourite_colour', message: 'is not a known column' }]);
  });
});

describe('GDPR', () => {
  it('exports everything, erases, and refuses a re-import of the erased address without new consent', async () => {
    const created = await t.api('POST', '/v1/subscribers', {
      body: {
        email: 'erase.me@example.com',
        topics: ['offers'],
        attributes: { city: 'Köln' },
        consent: { source: 'form', confirmedAt: '2026-01-01T08:00:00Z' },
      },
    });
    const exported = await t.api('GET', `/v1/subscribers/${created.body.id}/export`);
    expect(exported.status).toBe(200);
    expect(exported.body.subscriber).toMatchObject({ email: 'erase.me@example.com', attributes: { city: 'Köln' } });
    expect(exported.body.subscriber.topics[0]).toMatchObject({ topic: 'offers', status: 'confirmed', source: 'form' });

    expect((await t.api('DELETE', `/v1/subscribers/${created.body.id}`)).status).toBe(204);
    expect((await t.api('GET', `/v1/subscribers/${created.body.id}`)).status).toBe(404);
    const leftovers = await sql(`SELECT count(*)::int AS count FROM subscribers WHERE email = 'erase.me@example.com'`);
    expect(leftovers[0].count).toBe(0);
    const suppressed = await sql(`SELECT encode(email_hash, 'hex') AS hash, reason FROM suppressions`);
    expect(suppressed).toEqual([{ hash: createHash('sha256').update('erase.me@example.com').digest('hex'), reason: 'erased' }]);

    const reimport = await t.api('POST', '/v1/subscribers/import', { body: [{ email: 'Erase.Me@example.com', topics: ['offers'] }] });
    expect(reimport.body).toMatchObject({ created: 0, rejected: 1 });
    expect(reimport.body.errors[0]).toMatchObject({ row: 1, field: 'email' });
    const direct = await t.api('POST', '/v1/subscribers', { body: { email: 'erase.me@example.com' } });
    expect(direct.status).toBe(422);
  });
});

describe('operations', () => {
  it('answers /health and serves the OpenAPI document with every route', async () => {
    expect((await t.api('GET', '/health', { key: null })).body).toEqual({ status: 'ok', database: 'ok', clockOffsetMs: null }); // a test clock: no offset to report
    const doc = await t.api('GET', '/docs/openapi.json', { key: null });
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/topics', '/v1/topics/{key}', '/v1/subscribers', '/v1/subscribers/import', '/v1/subscribers/{id}/export', '/v1/api-keys']),
    );
  });

  it('answers unknown routes and malformed JSON with problem+json', async () => {
    const missing = await t.api('GET', '/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    const malformed = await t.api('POST', '/v1/topics', { raw: '{"key": ', contentType: 'application/json' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([{ field: 'body', message: 'is not valid JSON' }]);
  });
});
