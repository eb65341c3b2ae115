// One decision, proven equal: random subscriber and item states go through the pure policy
// (decide() in cadence.policy.ts, the reference) and through the SQL that runs in production (the
// dispatch batch, and the audience dry run built from the same CTEs), and each customer must get
// the same action, reason and time from all three. The same for digest composition: the pure
// nextDigestAt / nextSlot / selectEntries against what DigestsService.composeDue() writes.
import fc from 'fast-check';
import { Client } from 'pg';
import { decide, nextDigestAt, SubscriberSnapshot, windowOpensAt } from '../../src/cadence/cadence.policy';
import { Cadence, nextSlot } from '../../src/cadence/slots';
import { DEFAULT_QUIET_HOURS, NO_QUIET_HOURS, QuietHours } from '../../src/config/quiet-hours';
import type { AudienceFilter } from '../../src/campaigns/audience-filter';
import { campaignKeyPrefix, FIRST_CURSOR } from '../../src/campaigns/campaign-dispatch.service';
import { CampaignQueries, compileAudience, DecisionParams, dryRunSql, withAudience } from '../../src/campaigns/campaigns.queries';
import { Reason } from '../../src/reasons/reason-codes';
import { FakeClock } from '../../src/common/clock';
import { DigestCandidate, selectEntries } from '../../src/digests/digest-compose.policy';
import { DigestsService } from '../../src/digests/digests.service';
import { startTestApp, TestApp } from '../support/app';
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
const instant = fc
  .integer({ min: Date.parse('2026-01-01T00:00:00Z') / MINUTE, max: Date.parse('2026-12-31T00:00:00Z') / MINUTE })
  .map((m) => new Date(m * MINUTE));

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
  subscriptionStatus: fc.oneof(
    { weight: 6, arbitrary: fc.constant('confirmed' as const) },
    { weight: 1, arbitrary: fc.constantFrom('pending' as const, 'revoked' as const) },
  ),
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
    s.lastMarketing === null
      ? []
      : [{ id: ids[i], at: s.lastMarketing === 'released' ? '-infinity' : new Date(now.getTime() - s.lastMarketing * MINUTE).toISOString(), s }],
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
            await client.query(CampaignQueries.batchSettings.text);
            // The statement the dispatch runs for this audience (campaign-dispatch.service.ts).
            await client.query(withAudience(CampaignQueries.dispatchBatch, audienceSql).text, params);
            const written = await client.query(`SELECT subscriber_id AS id, status, reason, next_attempt_at AS at FROM deliveries WHERE ref_id = $1`, [
              CAMPAIGN,
            ]);
            const byId = (rows: { id: string; status: string; reason: string; at: Date }[]) => new Map(rows.map((r) => [r.id, shape(r)]));
            const dryById = byId(dry.rows);
            const writtenById = byId(written.rows);
            let outside = 0;
            subscribers.forEach((s, i) => {
              const want = { customer: s, ...expected(s, now, expiresAt, quiet) };
              expect({ customer: s, ...dryById.get(ids[i]) }).toEqual(want);
              // Outside the audience: counted, not a row (issue 21).
              if (want.reason === Reason.SuppressedAudience) {
                outside++;
                expect(writtenById.has(ids[i])).toBe(false);
              } else expect({ customer: s, ...writtenById.get(ids[i]) }).toEqual(want);
            });
            expect(written.rows).toHaveLength(subscribers.length - outside);
            const counted = await client.query(`SELECT coalesce(sum(n), 0)::int AS n FROM campaign_count_deltas WHERE campaign_id = $1 AND reason = $2`, [
              CAMPAIGN,
              Reason.SuppressedAudience,
            ]);
            expect(counted.rows[0].n).toBe(outside);
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
            [
              {
                status: 'active',
                subscriptionStatus: 'confirmed',
                inAudience: true,
                cadence: 'weekly',
                timeZone: 'Europe/Berlin',
                digestWeekday: 2,
                digestHour: 7,
                lastMarketing: null,
                budgetUsed: false,
              },
            ],
          ],
        ],
      },
    );
  });
});

describe('the dispatch statements with an audience filter', () => {
  // The start-up check prepares them without a filter; withAudience() puts a compiled one in.
  // Every form of the filter language, once: the statements must run with it and decide by it.
  const WEBINAR = '0196f3c0-0000-7000-8000-0000000000aa';
  const FILTER: AudienceFilter = {
    and: [
      {
        or: [
          { attr: 'segment', eq: 'retail' },
          { attr: 'segment', in: ['a', 'b'] },
        ],
      },
      { attr: 'tier', ne: null },
      { attr: 'employees', gte: 10 },
      { attr: 'since', lte: '2026-01-01' },
      { attr: 'vip', exists: true },
      { locale: 'de' },
      { not: { webinar: WEBINAR, attended: true } },
      { not: { webinar: WEBINAR } },
    ],
  };

  it('runs the dispatch batch and its dry run with every form of the filter, and suppresses whoever it leaves out', async () => {
    const now = new Date('2026-03-03T10:00:00Z');
    await client.query('BEGIN');
    try {
      const { rows } = await client.query(
        `INSERT INTO subscribers (email, locale, time_zone, cadence, status, attributes, source, confirmed_at, created_at, updated_at)
         SELECT 'audience-' || n || '@example.com', 'de', 'Europe/Berlin', 'weekly', 'active',
                jsonb_build_object('segment', 'retail', 'tier', 'gold', 'employees', employees, 'since', '2025-05-01', 'vip', true), 'import', $2, $2, $2
         FROM unnest($1::int[]) WITH ORDINALITY AS x(employees, n) ORDER BY n RETURNING id`,
        [[12, 5], new Date(now.getTime() - 60 * DAY)],
      );
      const [inside, outside] = rows.map((r) => r.id as string);
      await client.query(
        `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at)
         SELECT id, $2, 'confirmed', $3, 'import', $3 FROM unnest($1::uuid[]) AS x(id)`,
        [[inside, outside], topicId, now],
      );
      const params: DecisionParams = [topicId, FIRST_CURSOR, 50_000, now, campaignKeyPrefix(CAMPAIGN), CAMPAIGN, SENDER, 0, null, 0, 0];
      const audienceSql = compileAudience(FILTER, params, 's');
      const dry = await client.query(withAudience(CampaignQueries.audienceDryRun, audienceSql).text, params);
      expect(dry.rows.map((r) => [r.status, r.reason, r.count])).toEqual([
        ['queued', Reason.Queued, 1],
        ['suppressed', Reason.SuppressedAudience, 1],
      ]);
      await client.query(CampaignQueries.batchSettings.text);
      const batch = await client.query(withAudience(CampaignQueries.dispatchBatch, audienceSql).text, params);
      expect(batch.rows[0]).toMatchObject({ candidates: 2, inserted: 2 });
      const written = await client.query(`SELECT subscriber_id, reason FROM deliveries WHERE ref_id = $1 ORDER BY reason`, [CAMPAIGN]);
      // Whoever the filter leaves out is counted, not written as a row (issue 21): the campaign's
      // counts and the decision counts say so; their timeline does not.
      expect(written.rows).toEqual([{ subscriber_id: inside, reason: Reason.Queued }]);
      expect(written.rows.map((r) => r.subscriber_id)).not.toContain(outside);
      const counted = await client.query(`SELECT status, reason, via_digest, n::int FROM campaign_count_deltas WHERE campaign_id = $1 ORDER BY reason`, [
        CAMPAIGN,
      ]);
      expect(counted.rows).toEqual([
        { status: 'queued', reason: Reason.Queued, via_digest: false, n: 1 },
        { status: 'suppressed', reason: Reason.SuppressedAudience, via_digest: false, n: 1 },
      ]);
      const totals = await client.query(`SELECT class, sum(n)::int AS n FROM delivery_count_deltas WHERE reason = $1 GROUP BY class`, [
        Reason.SuppressedAudience,
      ]);
      expect(totals.rows).toEqual([{ class: 'marketing', n: 1 }]);
    } finally {
      await client.query('ROLLBACK');
    }
  });
});

// ---- digest composition ------------------------------------------------------------------------

interface GeneratedReader {
  cadence: Cadence;
  timeZone: string;
  digestWeekday: number;
  digestHour: number;
  /** Minutes the slot is overdue (0: due this minute). */
  overdue: number;
  /** Minutes before now of the last marketing mail, or null. */
  lastMarketing: number | null;
  /** Per topic: confirmed that many days ago, or not confirmed (pending). */
  topics: (number | null)[];
  campaigns: { topic: number; priority: number; ageMinutes: number; expiresIn: number | null }[];
}

interface GeneratedItem {
  topic: number;
  priority: number;
  /** Minutes before now it was published (negative: not yet). */
  publishedAgo: number;
  /** Minutes after publishing it expires, or null. */
  lifetime: number | null;
}

const TOPICS = 2;
const CAP = 3;

const reader: fc.Arbitrary<GeneratedReader> = fc.record({
  cadence: fc.constantFrom('weekly' as const, 'biweekly' as const),
  timeZone: zones,
  digestWeekday: fc.integer({ min: 1, max: 7 }),
  digestHour: fc.integer({ min: 0, max: 23 }),
  overdue: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 * 24 * 60 })),
  lastMarketing: fc.option(fc.integer({ min: 0, max: 20 * 24 * 60 }), { nil: null }),
  topics: fc.array(fc.option(fc.integer({ min: 0, max: 30 }), { nil: null }), { minLength: TOPICS, maxLength: TOPICS }),
  campaigns: fc.array(
    fc.record({
      topic: fc.integer({ min: 0, max: TOPICS - 1 }),
      priority: fc.integer({ min: 0, max: 3 }),
      ageMinutes: fc.integer({ min: 1, max: 10 * 24 * 60 }),
      expiresIn: fc.option(fc.integer({ min: -24 * 60, max: 10 * 24 * 60 }), { nil: null }),
    }),
    { maxLength: 3 },
  ),
});

const item: fc.Arbitrary<GeneratedItem> = fc.record({
  topic: fc.integer({ min: 0, max: TOPICS - 1 }),
  priority: fc.integer({ min: 0, max: 3 }),
  publishedAgo: fc.integer({ min: -24 * 60, max: 40 * 24 * 60 }),
  lifetime: fc.option(fc.integer({ min: 1, max: 20 * 24 * 60 }), { nil: null }),
});

describe('the pure digest policy and DigestsService.composeDue()', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-03-02T09:00:00Z');
  let topics: string[];

  beforeAll(async () => {
    t = await startTestApp({ clock, env: { DIGEST_MAX_ENTRIES: String(CAP), DIGEST_CATCHUP_SPREAD_MINUTES: '0' } });
    topics = (
      await t.sql(`INSERT INTO topics (key, name_de, name_en) SELECT 'topic-' || i, 'T' || i, 'T' || i FROM generate_series(1, ${TOPICS}) i RETURNING id`)
    ).map((r) => r.id);
  });
  afterAll(async () => t?.close());

  it('postpone, compose or record nothing new as the pure policy says, with the same entries and the same next slot', async () => {
    await fc.assert(
      fc.asyncProperty(instant, fc.array(reader, { minLength: 1, maxLength: 5 }), fc.array(item, { maxLength: 6 }), async (now, readers, items) => {
        await t.sql(`DELETE FROM deliveries`);
        await t.sql(`DELETE FROM digest_items`);
        await t.sql(`DELETE FROM subscribers`);
        clock.set(now);
        const ago = (minutes: number) => new Date(now.getTime() - minutes * MINUTE);
        const itemIds: string[] = [];
        for (const i of items) {
          const publish = ago(i.publishedAgo);
          const [row] = await t.sql(
            `INSERT INTO digest_items (topic_id, sender, priority, title_de, publish_at, expires_at, created_at) VALUES ($1, 'shop', $2, 'Titel', $3, $4, $3) RETURNING id`,
            [topics[i.topic], i.priority, publish, i.lifetime === null ? null : new Date(publish.getTime() + i.lifetime * MINUTE)],
          );
          itemIds.push(row.id);
        }
        const candidatesOf: DigestCandidate[][] = [];
        const ids: string[] = [];
        for (const [n, r] of readers.entries()) {
          const [s] = await t.sql(
            `INSERT INTO subscribers (email, locale, time_zone, cadence, status, digest_weekday, digest_hour, source, confirmed_at)
             VALUES ($1, 'de', $2, $3, 'active', $4, $5, 'import', $6) RETURNING id`,
            [`r${n}@example.com`, r.timeZone, r.cadence, r.digestWeekday, r.digestHour, ago(60 * 24 * 60)],
          );
          ids.push(s.id);
          await t.sql(`UPDATE subscribers SET next_digest_at = $2 WHERE id = $1`, [s.id, ago(r.overdue)]);
          if (r.lastMarketing !== null) {
            await t.sql(`INSERT INTO cadence_windows (subscriber_id, last_marketing_at, window_days, time_zone) VALUES ($1, $2, $3, $4)`, [
              s.id,
              ago(r.lastMarketing),
              r.cadence === 'biweekly' ? 14 : 7,
              r.timeZone,
            ]);
          }
          for (const [k, days] of r.topics.entries()) {
            await t.sql(
              `INSERT INTO topic_subscriptions (subscriber_id, topic_id, status, consented_at, consent_source, confirmed_at) VALUES ($1, $2, $3, $4, 'import', $5)`,
              [s.id, topics[k], days === null ? 'pending' : 'confirmed', ago(40 * 24 * 60), days === null ? null : ago(days * 24 * 60)],
            );
          }
          // The reference model of the candidates: what the SQL may offer this reader, by the rules in the docs.
          const confirmedAt = (topic: number) => (r.topics[topic] === null ? null : ago(r.topics[topic]! * 24 * 60));
          const candidates: DigestCandidate[] = [];
          items.forEach((i, k) => {
            const publish = ago(i.publishedAgo);
            const expires = i.lifetime === null ? null : new Date(publish.getTime() + i.lifetime * MINUTE);
            const since = confirmedAt(i.topic);
            if (since === null || publish > now || (expires && expires <= now) || publish.getTime() < since.getTime() - 7 * DAY) return;
            candidates.push({ type: 'item', ref: itemIds[k], topicId: topics[i.topic], priority: i.priority, expiresAt: expires, freshness: publish });
          });
          for (const [k, c] of r.campaigns.entries()) {
            const created = ago(c.ageMinutes);
            const expires = c.expiresIn === null ? null : new Date(now.getTime() + c.expiresIn * MINUTE);
            const [d] = await t.sql(
              `INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, sender, locale, status, reason, idempotency_key, priority, next_attempt_at, expires_at, created_at, updated_at)
               VALUES ($1, 'marketing', 'campaign', $2, 'c', 'shop', 'de', 'deferred', 'deferred_cadence', $3, $4, $5, $6, $5, $5) RETURNING id`,
              [s.id, topics[c.topic], `c:${n}:${k}`, c.priority, created, expires],
            );
            if (confirmedAt(c.topic) !== null && !(expires && expires <= now)) {
              candidates.push({ type: 'campaign', ref: String(d.id), topicId: topics[c.topic], priority: c.priority, expiresAt: expires, freshness: created });
            }
          }
          candidatesOf.push(candidates);
        }

        await t.app.get(DigestsService).composeDue();

        for (const [n, r] of readers.entries()) {
          const slot = ago(r.overdue);
          const s = { cadence: r.cadence, timeZone: r.timeZone, digestWeekday: r.digestWeekday, digestHour: r.digestHour };
          const opens = windowOpensAt({ ...s, lastMarketingAt: r.lastMarketing === null ? null : ago(r.lastMarketing) });
          const { included, left } = selectEntries(candidatesOf[n], CAP);
          const later = new Date(Math.max(slot.getTime(), now.getTime()));
          const want =
            opens && opens > now
              ? {
                  digest: null,
                  entries: [],
                  nextDigestAt: nextDigestAt({ ...s, lastMarketingAt: r.lastMarketing === null ? null : ago(r.lastMarketing) }, now).toISOString(),
                  full: [],
                }
              : included.length === 0
                ? {
                    digest: 'suppressed:suppressed_empty',
                    entries: [],
                    nextDigestAt: nextSlot(new Date(later.getTime() + MINUTE), r.timeZone, r.digestWeekday, r.digestHour).toISOString(),
                    full: [],
                  }
                : {
                    digest: 'queued:queued',
                    entries: included.map((c) => ({ type: c.type, ref: c.ref })),
                    nextDigestAt: nextDigestAt({ ...s, lastMarketingAt: later }, now).toISOString(),
                    full: left
                      .filter((c) => c.type === 'campaign')
                      .map((c) => c.ref)
                      .sort(),
                  };
          const digests = await t.sql(`SELECT status, reason, payload FROM deliveries WHERE subscriber_id = $1 AND kind = 'digest'`, [ids[n]]);
          const [{ next_digest_at: next }] = await t.sql(`SELECT next_digest_at FROM subscribers WHERE id = $1`, [ids[n]]);
          const full = await t.sql(`SELECT id::text FROM deliveries WHERE subscriber_id = $1 AND reason = 'deferred_digest_full' ORDER BY id::text`, [ids[n]]);
          expect({
            reader: r,
            digest: digests[0] ? `${digests[0].status}:${digests[0].reason}` : null,
            entries: digests[0]?.payload?.entries ?? [],
            nextDigestAt: next.toISOString(),
            full: full.map((f) => f.id).sort(),
          }).toEqual({ reader: r, ...want });
          expect(digests.length).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 40 },
    );
  }, 240_000);
});
