// The PartitionedDecisionLog migration on a decision log that already holds rows (issue 21 item 1):
// every earlier migration applied, a history written (a subscriber's mails, a digest and the items
// it carried, a cadence record, a digest entry), then the migration. The old table becomes the
// first partition without a row copied; every row, count and reference is still there; the old
// keys still refuse a repeat; new rows get this month's ids.
import { Client } from 'pg';
import type { QueryRunner } from 'typeorm';
import { MIGRATIONS } from '../../src/database/migration-list';
import { createEmptyTestDatabase, TestDatabase } from '../support/database';

let db: TestDatabase;
let client: Client;
const q = async (text: string, params: unknown[] = []) => (await client.query(text, params)).rows;
/** The migrations need only query() of a QueryRunner. */
const runner = { query: (text: string, params?: unknown[]) => q(text, params) } as unknown as QueryRunner;

beforeAll(async () => {
  db = await createEmptyTestDatabase();
  client = new Client({ connectionString: db.url });
  await client.connect();
}, 60_000);
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

const last = MIGRATIONS[MIGRATIONS.length - 1];

/** As runMigrations applies one: in its own transaction, unless it says otherwise. */
async function apply(migration: { up(runner: QueryRunner): Promise<void>; transaction?: boolean }): Promise<void> {
  if (migration.transaction === false) return migration.up(runner);
  await q('BEGIN');
  try {
    await migration.up(runner);
    await q('COMMIT');
  } catch (error) {
    await q('ROLLBACK');
    throw error;
  }
}

it('is the last migration', () => {
  expect(last.name).toBe('PartitionedDecisionLog1767000300000');
});

it('turns a filled decision log into the first partition, keeping every row, count, key and reference', async () => {
  for (const Migration of MIGRATIONS.slice(0, -1)) await apply(new Migration());

  const [person] = await q(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, source) VALUES ('anna@example.de', 'de', 'Europe/Berlin', 'weekly', 'active', 'api') RETURNING id`,
  );
  const insert = (key: string, kind: string, status: string, at: string) =>
    q(
      `INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
       VALUES ($1, CASE WHEN $3 IN ('campaign', 'digest') THEN 'marketing' ELSE 'service' END, $3, 'de', $4, $4, $2, $5, $5, $5) RETURNING id::text`,
      [person.id, key, kind, status, at],
    ).then(([row]) => row.id as string);
  const confirm = await insert('confirm:anna', 'confirm_subscription', 'sent', '2026-01-05T09:00:00Z');
  const item = await insert('campaign:c1:anna', 'campaign', 'sent', '2026-02-02T09:00:00Z');
  const digest = await insert('digest:anna:2026-02-09', 'digest', 'sent', '2026-02-09T09:00:00Z');
  await q(`UPDATE deliveries SET digest_delivery_id = $1 WHERE id = $2`, [digest, item]);
  await q(`INSERT INTO marketing_sends (subscriber_id, delivery_id, during) VALUES ($1, $2, tstzrange('2026-02-09T09:00:00Z', '2026-02-16T09:00:00Z'))`, [
    person.id,
    digest,
  ]);
  const countsBefore = await q(`SELECT class, status, reason, n::int FROM delivery_counts ORDER BY 1, 2, 3`);

  await apply(new last());

  // The old rows are the first partition, whole; the coming months exist.
  const partitions = await q(`SELECT partition, month IS NULL AS old FROM decision_log_partitions ORDER BY hi`);
  expect(partitions[0]).toEqual({ partition: 'deliveries_p0', old: true });
  expect(partitions.slice(1).map((p) => p.old)).toEqual([false, false, false]);
  expect(await q(`SELECT tableoid::regclass::text AS month, id::text FROM deliveries ORDER BY id`)).toEqual([
    { month: 'deliveries_p0', id: confirm },
    { month: 'deliveries_p0', id: item },
    { month: 'deliveries_p0', id: digest },
  ]);
  expect(await q(`SELECT digest_delivery_id::text AS digest FROM deliveries WHERE id = $1`, [item])).toEqual([{ digest }]);
  expect(await q(`SELECT class, status, reason, n::int FROM delivery_counts ORDER BY 1, 2, 3`)).toEqual(countsBefore);

  // An old key still refuses its repeat; a campaign's row claims none (its dispatch cursor guards it).
  expect(await q(`SELECT delivery_id::text AS id FROM delivery_keys ORDER BY delivery_id`)).toEqual([{ id: confirm }, { id: digest }]);
  const again = await q(
    `INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
     VALUES ($1, 'service', 'confirm_subscription', 'de', 'queued', 'queued', 'confirm:anna', now(), now(), now()) RETURNING id`,
    [person.id],
  );
  expect(again).toEqual([]);

  // A new row goes into this month's partition, with an id from its range.
  const [fresh] = await q(
    `INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
     VALUES ($1, 'service', 'confirm_subscription', 'de', 'queued', 'queued', 'confirm:anna:2', now(), now(), now())
     RETURNING tableoid::regclass::text AS month, id >= tactful_month_base(date_trunc('month', now() AT TIME ZONE 'UTC')::date) AS in_range`,
    [person.id],
  );
  expect(fresh).toEqual({ month: partitions[1].partition, in_range: true });

  // The references onto the log hold as before: a cadence record needs its delivery; a subscriber's
  // erasure takes their decisions, in every month, and what references them.
  await expect(
    q(`INSERT INTO marketing_sends (subscriber_id, delivery_id, during) VALUES ($1, 424242, tstzrange(now(), now() + interval '7 days'))`, [person.id]),
  ).rejects.toThrow(/marketing_sends_delivery_id_fkey/);
  await q(`DELETE FROM subscribers WHERE id = $1`, [person.id]);
  expect(await q(`SELECT count(*)::int AS n FROM deliveries`)).toEqual([{ n: 0 }]);
  expect(await q(`SELECT count(*)::int AS n FROM marketing_sends`)).toEqual([{ n: 0 }]);

  // A reason code added later reaches every month, the old one included.
  const [{ def }] = await q(
    `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'deliveries_reason_check' AND conrelid = 'deliveries_p0'::regclass`,
  );
  expect(def).toContain('suppressed_audience');
  await q(`ALTER TABLE deliveries DROP CONSTRAINT deliveries_reason_check`);
  expect(await q(`SELECT conrelid::regclass::text AS t FROM pg_constraint WHERE conname = 'deliveries_reason_check'`)).toEqual([]);
}, 120_000);
