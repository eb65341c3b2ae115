// What the operations page, /health, the timeline and a bounce read from the decision log goes
// through an index: its cost is what it counts, not the size of the history (issue 21). On a log
// of a year of decisions, PostgreSQL's plan for each of these statements, as the app runs them,
// has no sequential scan of a month of `deliveries` that holds rows; and the counts they read are right.
import { Client } from 'pg';
import type { Statement } from '../../src/database/statements';
import { DeliveryHealthQueries } from '../../src/delivery/delivery-health.queries';
import { MailEventQueries } from '../../src/mail-events/mail-events.queries';
import { SubscriberQueries } from '../../src/subscribers/subscribers.queries';
import { connectedTestDatabase, seqScannedMonths } from '../support/database';

const NOW = new Date('2026-12-01T09:00:00Z');
const ROWS = 40_000;
let client: Client;
let close: () => Promise<void>;
let subscriberId: string;

beforeAll(async () => {
  ({ client, close } = await connectedTestDatabase());
  const {
    rows: [subscriber],
  } = await client.query(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, source, confirmed_at, created_at, updated_at)
     VALUES ('anna@example.de', 'de', 'Europe/Berlin', 'weekly', 'active', 'import', $1, $1, $1) RETURNING id::text`,
    [NOW],
  );
  subscriberId = subscriber.id;
  // A year of decisions, one every ~13 minutes, most of them not sent; every 500th failed on a
  // hard bounce; the last 30 sent within the minute before NOW.
  await client.query(
    `INSERT INTO deliveries (to_address, class, kind, locale, status, reason, idempotency_key, next_attempt_at, message_id, sent_at, created_at, updated_at)
     SELECT 'o' || i || '@shop.example', 'marketing', 'campaign', 'de', st, rs, 'year:' || i, at,
            CASE WHEN st = 'sent' THEN '<y' || i || '@tactful.test>' END, CASE WHEN st = 'sent' THEN at END, at, at
     FROM generate_series(1, $1::int) i,
          LATERAL (SELECT $2::timestamptz - interval '365 days' + (i::float8 / $1::float8) * interval '364 days' AS at) t,
          LATERAL (SELECT CASE WHEN i % 500 = 0 THEN 'failed' WHEN i % 10 = 0 THEN 'sent' ELSE 'expired' END AS st,
                          CASE WHEN i % 500 = 0 THEN 'failed_bounced' WHEN i % 10 = 0 THEN 'sent' ELSE 'expired' END AS rs) s`,
    [ROWS, NOW],
  );
  await client.query(
    `INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, message_id, sent_at, created_at, updated_at)
     SELECT $1, 'marketing', 'campaign', 'de', 'sent', 'sent', 'recent:' || i, at, '<r' || i || '@tactful.test>', at, at, at
     FROM generate_series(1, 30) i, LATERAL (SELECT $2::timestamptz - i * interval '1 second' AS at) t`,
    [subscriberId, NOW],
  );
  await client.query(`ANALYZE deliveries`);
}, 120_000);
afterAll(() => close?.());

/** The months of the decision log holding rows that PostgreSQL would read sequentially for `statement` with `params`. */
async function seqScans<P extends readonly unknown[]>(statement: Statement<P, unknown>, params: P): Promise<string[]> {
  const [{ 'QUERY PLAN': plan }] = (await client.query(`EXPLAIN (FORMAT JSON) ${statement.text}`, [...params])).rows;
  return seqScannedMonths(async (text, values) => (await client.query(text, values)).rows, plan[0].Plan);
}

const DAYS = 14;
const cases: [string, () => Promise<string[]>][] = [
  ['deliveryHealth.sentLastMinute', () => seqScans(DeliveryHealthQueries.sentLastMinute, [NOW, 10_000])],
  ['deliveryHealth.hardBouncesPerDay', () => seqScans(DeliveryHealthQueries.hardBouncesPerDay, [NOW, DAYS])],
  ['deliveryHealth.oldestDue', () => seqScans(DeliveryHealthQueries.oldestDue, [NOW])],
  ['mailEvents.deliveryByMessageId', () => seqScans(MailEventQueries.deliveryByMessageId, ['<y10@tactful.test>'])],
  ['subscribers.timeline', () => seqScans(SubscriberQueries.timeline, [subscriberId, 50, null])],
];

it.each(cases)('%s reads the decision log through an index, not a scan of the whole history', async (_name, plan) => {
  expect(await plan()).toEqual([]);
});

it('counts what the operations page shows from those indexes', async () => {
  const run = async <P extends readonly unknown[], R>(statement: Statement<P, R>, params: P) => (await client.query(statement.text, [...params])).rows as R[];
  // The 30 recent mails went in the minute before NOW; a year-old sent mail is not counted.
  expect(await run(DeliveryHealthQueries.sentLastMinute, [NOW, 10_000])).toEqual([{ n: 30 }]);
  // Counted no further than the cap: the page's cost does not grow with the send rate.
  expect(await run(DeliveryHealthQueries.sentLastMinute, [NOW, 12])).toEqual([{ n: 12 }]);
  // Failed on a bounce within the last 14 days: every 500th row of the last two weeks of the year.
  const { rows: expected } = await client.query(
    `SELECT count(*)::int AS n FROM deliveries WHERE status = 'failed' AND reason = 'failed_bounced' AND updated_at > $1::timestamptz - interval '14 days'`,
    [NOW],
  );
  const perDay = await run(DeliveryHealthQueries.hardBouncesPerDay, [NOW, DAYS]);
  expect(expected[0].n).toBeGreaterThan(0);
  expect(perDay.reduce((sum, day) => sum + day.n, 0)).toBe(expected[0].n);
});
