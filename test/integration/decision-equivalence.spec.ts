// One decision, proven equal: random subscriber and item states go through the pure policy
// (decide() in cadence.policy.ts, the reference) and through the SQL that runs in production (the
// dispatch batch, and the audience dry run built from the same CTEs), and each customer must get
// the same action, reason and time from all three. The same for digest composition: the pure
// nextDigestAt / nextSlot / selectEntries against what DigestsService.composeDue() writes.
import fc from 'fast-check';
import { Client } from 'pg';
import { decide, nextDigestAt, SubscriberSnapshot } from '../../src/cadence/cadence.policy';
import { DEFAULT_QUIET_HOURS, NO_QUIET_HOURS, nextSlot, QuietHours } from '../../src/cadence/slots';
import { compileAudience } from '../../src/campaigns/audience-filter';
import { campaignKeyPrefix, DISPATCH_BATCH_SETTINGS, dispatchBatchSql, dryRunSql, FIRST_CURSOR } from '../../src/campaigns/campaign-dispatch.service';
import { Cadence } from '../../src/subscribers/subscriber.entity';
import { connectedTestDatabase } from '../support/database';

const MINUTE = 60_000;
const DAY = 86_400_000;
const SENDER = 'shop';
const CAMPAIGN = '0196f3c0-0000-7000-8000-000000000001';
const AUDIENCE = { attr: 'segment', eq: 'in' };

let client: Client;
let close: () => Promise<void>;
let topicId: string;

beforeAll(async () => {
  ({ client, close } = await connectedTestDatabase());
  const { rows } = await client.query(`INSERT INTO topics (key, name_de, name_en) VALUES ('fairs', 'Messen', 'Trade fairs') RETURNING id`);
  topicId = rows[0].id;
  // One mail of the sender in the last four windows uses its share up.
  await client.query(`INSERT INTO sender_budgets (sender, max_slots, per_slots, updated_at) VALUES ($1, 1, 4, now())`, [SENDER]);
});
afterAll(async () => close?.());

const zones = fc.constantFrom('Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney', 'UTC', 'Asia/Kolkata');
// Whole minutes in 2026, across both daylight-saving changes of every zone above.
const instant = fc.integer({ min: Date.parse('2026-01-01T00:00:00Z') / MINUTE, max: Date.parse('2026-12-31T00:00:00Z') / MINUTE }).map((m) => new Date(m * MINUTE));

interface GeneratedSubscriber {
  status: 'pending' | 'active' | 'paused' | 'unsubscribed' | 'bounced' | 'complained';
  subscriptionStatus: 'pending' | 'confirmed' | 'revoked';
  inAudience: boolean;
  cadence: Cadence;
  timeZone: string;
  digestWeekday: number;
  digestHour: number;
  /** Minutes before now of the last marketing mail; null: never; 'released': a window given back. */
  lastMarketing: number | null | 'released';
  budgetUsed: boolean;
}

const subscriber: fc.Arbitrary<GeneratedSubscriber> = fc.record({
  // Mostly active: the interesting part is the window, not consent.
  status: fc.oneof(
    { weight: 6, arbitrary: fc.constant('active' as const) },
    { weight: 1, arbitrary: fc.constantFrom('pending' as const, 'paused' as const, 'unsubscribed' as const, 'bounced' as const, 'complained' as const) },
  ),
  subscriptionStatus: fc.oneof({ weight: 6, arbitrary: fc.constant('confirmed' as const) }, { weight: 1, arbitrary: fc.constantFrom('pending' as const, 'revoked' as const) }),
  inAudience: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  cadence: fc.constantFrom('weekly' as const, 'biweekly' as const),
  timeZone: zones,
  digestWeekday: fc.integer({ min: 1, max: 7 }),
  digestHour: fc.integer({ min: 0, max: 23 }),
  lastMarketing: fc.oneof(
    { weight: 2, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constant('released' as const) },
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 20 * 24 * 60 }) },
  ),
  budgetUsed: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const quietHours = fc.constantFrom<QuietHours>(DEFAULT_QUIET_HOURS, NO_QUIET_HOURS, { start: 12, end: 14 }, { start: 22, end: 6 });

/** Seeds the generated customers inside the open transaction; returns their ids in input order. */
async function seed(now: Date, subscribers: GeneratedSubscriber[]): Promise<string[]> {
  const { rows } = await client.query(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, attributes, digest_weekday, digest_hour, source, confirmed_at, created_at, updated_at)
     SELECT 'd' || n || '@example.com', 'de', tz, cadence, status, jsonb_build_object('segment', CASE WHEN inside THEN 'in' ELSE 'out' END),
            weekday, hour, 'import', $7, $7, $7
     FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::int[], $6::int[]) WITH ORDINALITY
          AS x(tz, cadence, status, inside, weekday, hour, n)
     ORDER BY n
     RETURNING id, email`,
    [
      subscribers.map((s) => s.timeZone),
      subscribers.map((s) => s.cadence),
      subscribers.map((s) => s.status),
      subscribers.map((s) => s.inAudience),
      subscribers.map((s) => s.digestWeekday),
      subscribers.map((s) => s.digestHour),
      new Date(now.getTime() - 60 * DAY),
    ],
  );
  const ids = subscribers.map((_, i) => rows.find((r: { email: string }) => r.email === `d${i + 1}@example.com`).id as string);
  await client.query(
    `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
     SELECT id, $3, status, $4, 'import', CASE WHEN status = 'confirmed' THEN $4::timestamptz END FROM unnest($1::uuid[], $2::text[]) AS x(id, status)`,
    [ids, subscribers.map((s) => s.subscriptionStatus), topicId, new Date(now.getTime() - 60 * DAY)],
  );
  const windows = subscribers.flatMap((s, i) =>
    s.lastMarketing === null ? [] : [{ id: ids[i], at: s.lastMarketing === 'released' ? '-infinity' : new Date(now.getTime() - s.lastMarketing * MINUTE).toISOString(), s }],
  );
  await client.query(
    `INSERT INTO cadence_windows (subscriber_id, last_marketing_at, window_days, time_zone)
     SELECT id, at::timestamptz, days, tz FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[]) AS x(id, at, days, tz)`,
    [windows.map((w) => w.id), windows.map((w) => w.at), windows.map((w) => (w.s.cadence === 'biweekly' ? 14 : 7)), windows.map((w) => w.s.timeZone)],
  );
  const spent = ids.filter((_, i) => subscribers[i].budgetUsed);
  await client.query(
    `INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, sender, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
     SELECT id, 'marketing', 'campaign', $2, 'earlier', $3, 'de', 'queued', 'queued', 'earlier:' || id, $4, $4, $4 FROM unnest($1::uuid[]) AS x(id)`,
    [spent, topicId, SENDER, new Date(now.getTime() - DAY)],
  );
  return ids;
}

function snapshot(s: GeneratedSubscriber, now: Date): SubscriberSnapshot {
  return {
    status: s.status,
    subscriptionStatus: s.subscriptionStatus,
    inAudience: s.inAudience,
    cadence: s.cadence,
    timeZone: s.timeZone,
    digestWeekday: s.digestWeekday,
    digestHour: s.digestHour,
    lastMarketingAt: typeof s.lastMarketing === 'number' ? new Date(now.getTime() - s.lastMarketing * MINUTE) : null,
    senderBudgetLeft: !s.budgetUsed,
  };
}

const STATUS = { send: 'queued', defer: 'deferred', suppress: 'suppressed', expire: 'expired' } as const;

/** decide() in the shape the SQL writes: status, reason, and the time for what goes or waits. */
function expected(s: GeneratedSubscriber, now: Date, expiresAt: Date | null, quiet: QuietHours) {
  const d = decide(snapshot(s, now), { expiresAt }, now, quiet);
  return { status: STATUS[d.action], reason: d.reason, at: d.action === 'send' || d.action === 'defer' ? d.at.toISOString() : null };
}

const shape = (r: { status: string; reason: string; at: Date }) => ({
  status: r.status,
  reason: r.reason,
  at: r.status === 'queued' || r.status === 'deferred' ? r.at.toISOString() : null,
});

describe('decide() and the dispatch SQL', () => {
  it('give every customer the same action, reason and time, in the dispatch and in its dry run', async () => {
    await fc.assert(
      fc.asyncProperty(
        instant,
        fc.option(fc.integer({ min: -2 * 24 * 60, max: 25 * 24 * 60 }), { nil: null }),
        quietHours,
        fc.array(subscriber, { minLength: 1, maxLength: 8 }),
        async (now, expiresIn, quiet, subscribers) => {
          const expiresAt = expiresIn === null ? null : new Date(now.getTime() + expiresIn * MINUTE);
          await client.query('BEGIN');
          try {
            const ids = await seed(now, subscribers);
            const params: unknown[] = [topicId, FIRST_CURSOR, 50_000, now, campaignKeyPrefix(CAMPAIGN), CAMPAIGN, SENDER, 0, expiresAt, quiet.start, quiet.end];
            const audienceSql = compileAudience(AUDIENCE, params, 's');
            const dry = await client.query(`${dryRunSql(audienceSql)} SELECT id, status, reason, at FROM decided`, params);
            for (const setting of DISPATCH_BATCH_SETTINGS) await client.query(setting);
            await client.query(dispatchBatchSql(audienceSql), params);
            const written = await client.query(`SELECT subscriber_id AS id, status, reason, next_attempt_at AS at FROM deliveries WHERE ref_id = $1`, [CAMPAIGN]);
            const byId = (rows: { id: string; status: string; reason: string; at: Date }[]) => new Map(rows.map((r) => [r.id, shape(r)]));
            const dryById = byId(dry.rows);
            const writtenById = byId(written.rows);
            subscribers.forEach((s, i) => {
              const want = { customer: s, ...expected(s, now, expiresAt, quiet) };
              expect({ customer: s, ...dryById.get(ids[i]) }).toEqual(want);
              expect({ customer: s, ...writtenById.get(ids[i]) }).toEqual(want);
            });
            expect(written.rows).toHaveLength(subscribers.length);
          } finally {
            await client.query('ROLLBACK');
          }
        },
      ),
      {
        numRuns: 150,
        examples: [
          // 22:00 in Berlin, the window free, quiet until 08:00, the digest slot tomorrow 07:00 and
          // the item stale at 07:30: too late for the end of quiet hours, in time for the digest.
          [
            new Date('2026-03-02T21:00:00Z'),
            (Date.parse('2026-03-03T06:30:00Z') - Date.parse('2026-03-02T21:00:00Z')) / MINUTE,
            DEFAULT_QUIET_HOURS,
            [{ status: 'active', subscriptionStatus: 'confirmed', inAudience: true, cadence: 'weekly', timeZone: 'Europe/Berlin', digestWeekday: 2, digestHour: 7, lastMarketing: null, budgetUsed: false }],
          ],
        ],
      },
    );
  });
});
