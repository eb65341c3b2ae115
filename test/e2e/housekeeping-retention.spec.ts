// Every housekeeping table has an enforced retention (issue 21, item 2; docs/SCALING.md): the
// prune-housekeeping job deletes webhook event ids, scheduler runs, cadence records and delivery
// keys past it, in batches, and keeps the recent ones and those still needed (the newest run of each
// job, a cadence record whose window the hand-over check may still read, a pending mail's key).
import { FakeClock } from '../../src/common/clock';
import { PRUNE_BATCH } from '../../src/scheduler/housekeeping';
import { JobsService } from '../../src/scheduler/jobs.service';
import { startTestApp, TestApp } from '../support/app';
import { createTopics, importConfirmed } from '../support/seed';

const DAY = 86_400_000;

let t: TestApp;
let now: Date;
const ago = (days: number) => new Date(now.getTime() - days * DAY);

beforeAll(async () => {
  t = await startTestApp();
  now = t.clock.now();
  await createTopics(t, ['news']);
});
afterAll(() => t?.close());

async function runJob(): Promise<unknown> {
  const scheduler = await startTestApp({ clock: t.clock, env: { DATABASE_URL: t.db.url, SCHEDULER_ENABLED: 'true' } });
  try {
    return await scheduler.app.get(JobsService).pruneHousekeeping();
  } finally {
    await scheduler.close();
  }
}

it('deletes webhook event ids, scheduler runs and cadence records past their retention, and keeps the rest', async () => {
  expect(t.clock).toBeInstanceOf(FakeClock);
  // webhook_events: more old ids than one batch, and a few recent ones.
  const oldEvents = PRUNE_BATCH * 2 + 17;
  await t.sql(`INSERT INTO webhook_events (source, event_id, received_at) SELECT 'mail', 'old-' || i, $1 FROM generate_series(1, $2) i`, [ago(31), oldEvents]);
  await t.sql(`INSERT INTO webhook_events (source, event_id, received_at) VALUES ('mail', 'recent-1', $1), ('mail', 'recent-2', $2)`, [ago(29), now]);

  // scheduler_runs: two old runs of one job and a recent one; one old run of a job that ran only then.
  await t.sql(`DELETE FROM scheduler_runs`);
  await t.sql(
    `INSERT INTO scheduler_runs (job, instance, started_at, finished_at, counts) VALUES
       ('dispatch-campaigns', 'a', $1, $1, '{"old":1}'), ('dispatch-campaigns', 'a', $2, $2, '{"old":2}'),
       ('dispatch-campaigns', 'a', $3, $3, '{"recent":1}'), ('double-opt-in', 'a', $1, $1, '{"only":1}')`,
    [ago(60), ago(45), ago(2)],
  );

  // marketing_sends: a window that ended 31 days ago (never read again), one that ended 20 days ago
  // (within the retention), and one still open.
  const ids = await importConfirmed(
    t,
    ['a', 'b', 'c'].map((x) => ({ email: `${x}@example.com`, topics: ['news'] })),
  );
  const sends: [string, Date, Date][] = [
    ['a@example.com', ago(45), ago(31)],
    ['b@example.com', ago(34), ago(20)],
    ['c@example.com', ago(3), new Date(now.getTime() + 4 * DAY)],
  ];
  for (const [email, from, to] of sends) {
    await t.sql(
      `WITH d AS (
         INSERT INTO deliveries (subscriber_id, class, kind, ref_id, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at, sent_at)
         VALUES ($1::uuid, 'marketing', 'campaign', 'history', 'de', 'sent', 'sent', 'history:' || $1::text, $2, $2, $2, $2) RETURNING id, subscriber_id)
       INSERT INTO marketing_sends (subscriber_id, delivery_id, during) SELECT subscriber_id, id, tstzrange($2, $3) FROM d`,
      [ids.get(email), from, to],
    );
  }

  // delivery_keys: the key of a service mail that went 91 days ago (forgotten), of one queued as long
  // ago and still waiting (kept: a replay must not copy a pending mail), and of a recent one.
  await t.sql(
    `INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
     VALUES ($1, 'service', 'confirm_subscription', 'de', 'sent', 'sent', 'key:old-sent', $2, $2, $2),
            ($1, 'service', 'confirm_subscription', 'de', 'queued', 'queued', 'key:old-pending', $2, $2, $2),
            ($1, 'service', 'confirm_subscription', 'de', 'sent', 'sent', 'key:recent', $3, $3, $3)`,
    [ids.get('a@example.com'), ago(91), ago(89)],
  );
  const keysLeft = async () =>
    (
      await t.sql(`SELECT d.idempotency_key FROM delivery_keys k JOIN deliveries d ON d.id = k.delivery_id WHERE d.idempotency_key LIKE 'key:%' ORDER BY 1`)
    ).map((r) => r.idempotency_key);
  expect(await keysLeft()).toEqual(['key:old-pending', 'key:old-sent', 'key:recent']);

  expect(await runJob()).toEqual({ webhookEvents: oldEvents, schedulerRuns: 2, marketingSends: 1, deliveryKeys: 1 });
  expect(await keysLeft()).toEqual(['key:old-pending', 'key:recent']);

  expect((await t.sql(`SELECT event_id FROM webhook_events ORDER BY event_id`)).map((r) => r.event_id)).toEqual(['recent-1', 'recent-2']);
  const runs = await t.sql(`SELECT job, counts FROM scheduler_runs WHERE job <> 'prune-housekeeping' ORDER BY id`);
  expect(runs).toEqual([
    { job: 'dispatch-campaigns', counts: { recent: 1 } },
    { job: 'double-opt-in', counts: { only: 1 } },
  ]);
  const kept = await t.sql(`SELECT s.email FROM marketing_sends m JOIN subscribers s ON s.id = m.subscriber_id ORDER BY s.email`);
  expect(kept.map((r) => r.email)).toEqual(['b@example.com', 'c@example.com']);
  // The decision stays in the log: only the cadence record went.
  expect((await t.sql(`SELECT count(*)::int AS n FROM deliveries WHERE ref_id = 'history'`))[0].n).toBe(3);
  // The run is recorded with what it deleted; a second run finds nothing.
  expect((await t.sql(`SELECT counts FROM scheduler_runs WHERE job = 'prune-housekeeping'`))[0].counts).toEqual({
    webhookEvents: oldEvents,
    schedulerRuns: 2,
    marketingSends: 1,
    deliveryKeys: 1,
  });
  expect(await runJob()).toEqual({ webhookEvents: 0, schedulerRuns: 0, marketingSends: 0, deliveryKeys: 0 });
});
