// The decision log by month (issue 21 item 1; docs/SCALING.md): the rotate-decision-log job makes
// the coming months' partitions, moves new ids into the current month, and drops a month past
// DECISION_LOG_RETENTION_MONTHS as a whole partition, once nothing in it is pending and no
// campaign of it is unsettled, after counting it per customer (the timeline's `earlier`, the
// console's "Earlier"). What references a dropped month goes with it; /metrics' all-time counts
// and the idempotency keys outlive it. The clock travels; the partitions are real.
import { Client } from 'pg';
import { FakeClock } from '../../src/common/clock';
import { JobsService } from '../../src/scheduler/jobs.service';
import { startTestApp, TestApp } from '../support/app';
import { createTopics, importConfirmed } from '../support/seed';

const DAY = 86_400_000;
let t: TestApp;
let clock: FakeClock;
let ids: Map<string, string>;
/** The first month the template's migration made (the month the test run began in, UTC). */
let firstMonth: Date;
const month = (offset: number, day = 1) => new Date(Date.UTC(firstMonth.getUTCFullYear(), firstMonth.getUTCMonth() + offset, day, 9));

beforeAll(async () => {
  t = await startTestApp({ clock: new FakeClock('2026-03-02T09:00:00Z') });
  clock = t.clock as FakeClock;
  await createTopics(t, ['news']);
  ids = await importConfirmed(
    t,
    ['anna', 'ben'].map((name) => ({ email: `${name}@example.de`, topics: ['news'] })),
  );
  const [first] = await t.sql(`SELECT month FROM decision_log_partitions WHERE month IS NOT NULL ORDER BY hi LIMIT 1`);
  firstMonth = new Date(first.month);
});
afterAll(() => t?.close());

async function rotate(at: Date): Promise<unknown> {
  clock.set(at);
  const scheduler = await startTestApp({ clock, env: { DATABASE_URL: t.db.url, SCHEDULER_ENABLED: 'true' } });
  try {
    return await scheduler.app.get(JobsService).rotateDecisionLog();
  } finally {
    await scheduler.close();
  }
}

const months = async () => (await t.sql(`SELECT partition FROM decision_log_partitions ORDER BY hi`)).map((r) => r.partition as string);
const name = (offset: number) => {
  const m = month(offset);
  return `deliveries_${m.getUTCFullYear()}_${String(m.getUTCMonth() + 1).padStart(2, '0')}`;
};

/** A decision as the app writes one, at `at`, into whichever month the id sequence stands in. */
async function decide(email: string, row: { key: string; kind?: string; class?: string; status: string; ref?: string; at: Date }): Promise<string> {
  const [inserted] = await t.sql(
    `INSERT INTO deliveries (subscriber_id, class, kind, ref_id, locale, status, reason, idempotency_key, next_attempt_at, sent_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, 'de', $5, CASE $5 WHEN 'deferred' THEN 'deferred_cadence' ELSE $5 END, $6, $7,
             CASE WHEN $5 = 'sent' THEN $7::timestamptz END, $7, $7)
     RETURNING id::text`,
    [ids.get(email), row.class ?? 'service', row.kind ?? 'confirm_subscription', row.ref ?? null, row.status, row.key, row.at],
  );
  return inserted?.id;
}

it('makes the coming months, moves new ids into this month, and drops a month past the retention only when nothing holds it', async () => {
  // A fresh install: the (empty) partition of the rows from before the migration, this month and the next two.
  expect(await months()).toEqual(['deliveries_p0', name(0), name(1), name(2)]);

  // First month: Anna's and Ben's mails, a campaign of theirs (one mail of it still deferred), a
  // cadence record and a "drop this topic?" prompt that reference Anna's digest.
  const [topic] = await t.sql(`SELECT id FROM topics WHERE key = 'news'`);
  const [campaign] = await t.sql(
    `INSERT INTO campaigns (name, topic_id, sender, priority, status, subject_de, body_de, send_at, created_at, updated_at)
     VALUES ('Messe', $1, 'marketing', 0, 'sending', 'Messe', '<p>Messe</p>', $2, $2, $2) RETURNING id::text`,
    [topic.id, month(0, 3)],
  );
  await decide('anna@example.de', { key: 'confirm:anna', status: 'sent', at: month(0, 2) });
  const digest = await decide('anna@example.de', { key: 'digest:anna:1', kind: 'digest', class: 'marketing', status: 'sent', at: month(0, 4) });
  await decide('anna@example.de', {
    key: `campaign:${campaign.id}:anna`,
    kind: 'campaign',
    class: 'marketing',
    status: 'sent',
    ref: campaign.id,
    at: month(0, 3),
  });
  const waiting = await decide('ben@example.de', {
    key: `campaign:${campaign.id}:ben`,
    kind: 'campaign',
    class: 'marketing',
    status: 'deferred',
    ref: campaign.id,
    at: month(0, 3),
  });
  await t.sql(`INSERT INTO marketing_sends (subscriber_id, delivery_id, during) VALUES ($1, $2, tstzrange($3, $4))`, [
    ids.get('anna@example.de'),
    digest,
    month(0, 4),
    month(0, 11),
  ]);
  await t.sql(`INSERT INTO drop_topic_prompts (subscriber_id, topic_id, digest_delivery_id, asked_at) VALUES ($1, $2, $3, $4)`, [
    ids.get('anna@example.de'),
    topic.id,
    digest,
    month(0, 4),
  ]);

  // The next month: its partition exists, so new ids move into it; the month after next is made;
  // the empty partition from before the migration goes.
  expect(await rotate(month(1, 5))).toEqual({ created: 1, dropped: 1, droppedRows: 0, kept: 0, busy: 0 });
  expect(await months()).toEqual([name(0), name(1), name(2), name(3)]);
  await decide('ben@example.de', { key: 'confirm:ben', status: 'sent', at: month(1, 6) });
  expect(await t.sql(`SELECT tableoid::regclass::text AS month FROM deliveries WHERE idempotency_key = 'confirm:ben'`)).toEqual([{ month: name(1) }]);

  // Thirteen whole months later the first month is past the retention, but Ben's deferred mail holds it.
  const later = month(14, 2);
  expect(await rotate(later)).toEqual({ created: 3, dropped: 0, droppedRows: 0, kept: 1, busy: 0 });
  expect(await months()).toEqual([name(0), name(1), name(2), name(3), name(14), name(15), name(16)]);
  // Expired, it no longer does; the campaign, not yet settled (its counts not stored), still does.
  await t.sql(`UPDATE deliveries SET status = 'expired', reason = 'expired', updated_at = $2 WHERE id = $1`, [waiting, later]);
  expect(await rotate(later)).toEqual({ created: 0, dropped: 0, droppedRows: 0, kept: 1, busy: 0 });
  // Settled, the month goes; the next one (Ben's mail of the 6th) is not past yet, nor are the empty ones after it.
  await t.sql(`UPDATE campaigns SET status = 'completed', progress = '{"sent":1}'::jsonb WHERE id = $1`, [campaign.id]);
  const counts = `SELECT class, status, reason, sum(n)::int AS n FROM (SELECT class, status, reason, n FROM delivery_counts
                  UNION ALL SELECT class, status, reason, n FROM delivery_count_deltas) c GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3`;
  const countsBefore = await t.sql(counts);
  // While a transaction reads the log (a long report, a dispatch batch), the drop waits for its lock
  // only briefly and leaves the month, untouched, for the next run.
  const reader = new Client({ connectionString: t.db.url });
  await reader.connect();
  try {
    await reader.query('BEGIN');
    await reader.query('SELECT count(*) FROM deliveries');
    expect(await rotate(later)).toEqual({ created: 0, dropped: 0, droppedRows: 0, kept: 1, busy: 0 });
    expect(await t.sql(`SELECT count(*)::int AS n FROM subscriber_history`)).toEqual([{ n: 0 }]);
    expect(await months()).toContain(name(0));
  } finally {
    await reader.end();
  }
  expect(await rotate(later)).toEqual({ created: 0, dropped: 1, droppedRows: 4, kept: 0, busy: 0 });
  expect(await months()).toEqual([name(1), name(2), name(3), name(14), name(15), name(16)]);

  // What was in it is counted per customer; what referenced it went; the all-time counts stay.
  expect(await t.sql(`SELECT count(*)::int AS n FROM deliveries WHERE subscriber_id = $1`, [ids.get('anna@example.de')])).toEqual([{ n: 0 }]);
  expect(await t.sql(`SELECT count(*)::int AS n FROM marketing_sends`)).toEqual([{ n: 0 }]);
  expect(await t.sql(`SELECT count(*)::int AS n FROM drop_topic_prompts`)).toEqual([{ n: 0 }]);
  // /metrics' all-time counts: a dropped month is not a deletion.
  expect(await t.sql(counts)).toEqual(countsBefore);
  expect(countsBefore).toEqual(expect.arrayContaining([{ class: 'marketing', status: 'sent', reason: 'sent', n: 2 }]));
  const timeline = await t.api('GET', `/v1/subscribers/${ids.get('anna@example.de')}/timeline`);
  expect(timeline.status).toBe(200);
  expect(timeline.body.items).toEqual([]);
  expect(timeline.body.earlier).toEqual([
    { class: 'marketing', status: 'sent', count: 2, firstAt: month(0, 3).toISOString(), lastAt: month(0, 4).toISOString() },
    { class: 'service', status: 'sent', count: 1, firstAt: month(0, 2).toISOString(), lastAt: month(0, 2).toISOString() },
  ]);
  const ben = await t.api('GET', `/v1/subscribers/${ids.get('ben@example.de')}/timeline`);
  expect(ben.body.items.map((i: { kind: string }) => i.kind)).toEqual(['confirm_subscription']);
  expect(ben.body.earlier).toEqual([
    { class: 'marketing', status: 'expired', count: 1, firstAt: month(0, 3).toISOString(), lastAt: month(0, 3).toISOString() },
  ]);

  // A dropped month's keys still refuse a repeat (delivery_keys keeps them DELIVERY_KEYS_RETENTION_DAYS).
  expect(await decide('anna@example.de', { key: 'confirm:anna', status: 'queued', at: later })).toBeUndefined();

  // The console's customer page says it too.
  const signIn = await fetch(`${t.baseUrl}/console/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ apiKey: t.adminKey, lang: 'en', next: '/console' }).toString(),
    redirect: 'manual',
  });
  const cookie = signIn.headers.get('set-cookie')!.split(';')[0];
  const page = await (await fetch(`${t.baseUrl}/console/customers/${ids.get('anna@example.de')}?lang=en`, { headers: { cookie } })).text();
  expect(page).toContain('Decisions older than 13 months are kept as counts only.');
  expect(page).toMatch(/<ul data-testid="earlier"><li>2 × Sent \(marketing\), [^<]+ to [^<]+<\/li><li>1 × Sent \(service\), /);
});

it('lets one of two inserts of the same key through while the other waits, then drops it, as a unique key did', async () => {
  const a = new Client({ connectionString: t.db.url });
  const b = new Client({ connectionString: t.db.url });
  await a.connect();
  await b.connect();
  try {
    const insert = `INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
                    VALUES ($1, 'transactional', 'order_confirmation', 'de', 'queued', 'queued', 'order:race', now(), now(), now()) RETURNING id`;
    const [{ pid }] = (await b.query(`SELECT pg_backend_pid() AS pid`)).rows;
    await a.query('BEGIN');
    expect((await a.query(insert, [ids.get('ben@example.de')])).rows).toHaveLength(1);
    let settled = false;
    const second = b.query(insert, [ids.get('ben@example.de')]).finally(() => (settled = true));
    // b waits on a's uncommitted key (a lock wait, as PostgreSQL reports it); once a commits, b inserts nothing.
    for (;;) {
      const [activity] = await t.sql(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [pid]);
      if (activity?.wait_event_type === 'Lock') break;
      expect(settled).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await a.query('COMMIT');
    expect((await second).rows).toEqual([]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM deliveries WHERE idempotency_key = 'order:race'`)).toEqual([{ n: 1 }]);
  } finally {
    await a.end();
    await b.end();
  }
});

it('drops nothing with a retention longer than the history', async () => {
  const before = await months();
  clock.set(new Date(month(16, 1).getTime() + DAY));
  const scheduler = await startTestApp({ clock, env: { DATABASE_URL: t.db.url, SCHEDULER_ENABLED: 'true', DECISION_LOG_RETENTION_MONTHS: '1200' } });
  try {
    expect(await scheduler.app.get(JobsService).rotateDecisionLog()).toEqual({ created: 2, dropped: 0, droppedRows: 0, kept: 0, busy: 0 });
  } finally {
    await scheduler.close();
  }
  expect(await months()).toEqual([...before, name(17), name(18)]);
  const [run] = await t.sql(`SELECT counts FROM scheduler_runs WHERE job = 'rotate-decision-log' ORDER BY id DESC LIMIT 1`);
  expect(run.counts).toEqual({ created: 2, dropped: 0, droppedRows: 0, kept: 0, busy: 0 });
});
