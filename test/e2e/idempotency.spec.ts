// Idempotency-Key under races (issue 11, scenario 11): identical POSTs at the same instant make one
// campaign and all get its answer; a different body under the same key is refused; a failed
// first attempt gives the key back; a replay answers with the status the first request got.
// Stored responses are kept for a retention, then pruned, and never hold customer tokens (issue 17).
import { FakeClock } from '../../src/common/clock';
import { withoutCustomerTokens } from '../../src/common/idempotency.interceptor';
import { JobsService } from '../../src/scheduler/jobs.service';
import { startTestApp, TestApp } from '../support/app';
import { createTopics } from '../support/seed';

const HOUR = 3_600_000;

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
  await createTopics(t, ['offers']);
});
afterAll(() => t?.close());

function post(path: string, key: string, body: unknown): Promise<Response> {
  return fetch(`${t.baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
}

const campaign = (name: string) => ({ name, topic: 'offers', subject: { en: name }, body: { en: `<p>${name}</p>` } });
const countCampaigns = async (name: string) => (await t.sql(`SELECT count(*)::int AS n FROM campaigns WHERE name = $1`, [name]))[0].n;

it('makes one campaign from ten identical POSTs sent at once, and answers all ten with it', async () => {
  const responses = await Promise.all(Array.from({ length: 10 }, () => post('/v1/campaigns', 'race-1', campaign('raced'))));
  const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ id: string }>));

  expect(responses.map((r) => r.status)).toEqual(Array(10).fill(201));
  expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
  // One ran; nine waited for it and got its stored answer.
  expect(responses.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);
  expect(await countCampaigns('raced')).toBe(1);
});

it('lets one of two different bodies sent at once under the same key through and refuses the other with 422', async () => {
  const [a, b] = await Promise.all([post('/v1/campaigns', 'race-2', campaign('first')), post('/v1/campaigns', 'race-2', campaign('second'))]);
  const statuses = [a.status, b.status].sort();
  expect(statuses).toEqual([201, 422]);
  const refused = [a, b].find((r) => r.status === 422)!;
  expect(refused.headers.get('content-type')).toContain('application/problem+json');
  expect(((await refused.json()) as { errors: { field: string }[] }).errors).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);
  expect((await countCampaigns('first')) + (await countCampaigns('second'))).toBe(1);
});

it('gives the key back when the first attempt fails, so a corrected retry under the same key runs', async () => {
  const invalid = await post('/v1/campaigns', 'fix-then-retry', { ...campaign('fixed'), topic: 'no-such-topic' });
  expect(invalid.status).toBeGreaterThanOrEqual(400);
  expect(invalid.status).toBeLessThan(500);
  expect(await countCampaigns('fixed')).toBe(0);
  const retried = await post('/v1/campaigns', 'fix-then-retry', campaign('fixed'));
  expect(retried.status).toBe(201);
  expect(await countCampaigns('fixed')).toBe(1);
});

it('replays an upsert that answered 200 as 200, not as the route’s default 201', async () => {
  const order = { number: 'IDEM-1', email: 'idem@example.com', items: [{ sku: 'MUG', name: 'Mug', quantity: 1 }], placedAt: '2026-01-05T07:00:00Z' };
  expect((await post('/v1/orders', 'order-create', order)).status).toBe(201);
  const again = await post('/v1/orders', 'order-again', order);
  expect(again.status).toBe(200);
  const replayed = await post('/v1/orders', 'order-again', order);
  expect(replayed.status).toBe(200);
  expect(replayed.headers.get('idempotent-replayed')).toBe('true');
  expect(((await replayed.json()) as { id: string }).id).toBe(((await again.json()) as { id: string }).id);
});

it('refuses a malformed key with 400 naming the header, and stores nothing', async () => {
  const res = await post('/v1/campaigns', 'has spaces in it', campaign('malformed-key'));
  expect(res.status).toBe(400);
  expect(((await res.json()) as { errors: { field: string }[] }).errors).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);
  expect(await countCampaigns('malformed-key')).toBe(0);
});

describe('retention and what is stored', () => {
  const storedFor = async (key: string) => (await t.sql(`SELECT response::text AS response, created_at FROM idempotency_keys WHERE key = $1`, [key]))[0];

  it('treats a key older than IDEMPOTENCY_RETENTION_HOURS as new, and the prune job deletes such rows', async () => {
    expect((await post('/v1/campaigns', 'kept-a-day', campaign('retained'))).status).toBe(201);
    const replay = await post('/v1/campaigns', 'kept-a-day', campaign('retained'));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await countCampaigns('retained')).toBe(1);

    (t.clock as FakeClock).advance(25 * HOUR);
    const fresh = await post('/v1/campaigns', 'kept-a-day', campaign('retained'));
    expect(fresh.status).toBe(201);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    expect(await countCampaigns('retained')).toBe(2);

    // Every key stored before the clock moved is past the retention now; 'kept-a-day' was just renewed.
    const old = (await t.sql(`SELECT count(*)::int AS n FROM idempotency_keys WHERE created_at < $1`, [new Date(t.clock.now().getTime() - 24 * HOUR)]))[0].n;
    expect(old).toBeGreaterThan(0);
    // The scheduler's job, run once by an instance that has the scheduler on.
    const scheduler = await startTestApp({ clock: t.clock, env: { DATABASE_URL: t.db.url, SCHEDULER_ENABLED: 'true' } });
    try {
      expect(await scheduler.app.get(JobsService).pruneIdempotencyKeys()).toEqual({ pruned: old });
    } finally {
      await scheduler.close();
    }
    expect((await t.sql(`SELECT key FROM idempotency_keys`)).map((r) => r.key)).toEqual(['kept-a-day']);
    expect((await t.sql(`SELECT counts FROM scheduler_runs WHERE job = 'prune-idempotency-keys'`))[0].counts).toEqual({ pruned: old });
  });

  it('stores a response without the customer tokens in it, and a replay answers it so', async () => {
    const [{ id: subscriberId }] = await t.sql(
      `INSERT INTO subscribers (email, locale, time_zone, cadence, status, source, created_at, updated_at)
       VALUES ('previewed@example.com', 'en', 'Europe/Berlin', 'weekly', 'active', 'api', now(), now()) RETURNING id`,
    );
    const campaignId = ((await (await post('/v1/campaigns', 'preview-campaign', campaign('previewed'))).json()) as { id: string }).id;
    const first = await post(`/v1/campaigns/${campaignId}/preview`, 'preview-1', { subscriberId });
    expect(first.status).toBe(200);
    const firstBody = (await first.json()) as Record<string, unknown>;

    const stored = await storedFor('preview-1');
    expect(stored.response).not.toMatch(/[A-Za-z0-9_-]{4}\.[A-Za-z0-9_-]{22,}\.[A-Za-z0-9_-]{27}/);
    const replay = await post(`/v1/campaigns/${campaignId}/preview`, 'preview-1', { subscriberId });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.json()).toEqual(withoutCustomerTokens(firstBody));
  });
});
