// Reason codes checked by the database: the values deliveries.reason may hold are the Reason enum's
// and the legacy values still read (LEGACY_REASONS), no more and no fewer. A reason added to the
// enum without a migration that widens the check fails here before it fails a hand-over.
import { Client } from 'pg';
import { LEGACY_REASONS, REASONS } from '../../src/reasons/reason-codes';
import { connectedTestDatabase } from '../support/database';

let client: Client;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ client, close } = await connectedTestDatabase());
});
afterAll(async () => close?.());

async function allowedReasons(): Promise<string[]> {
  const { rows } = await client.query(
    `SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
     WHERE c.conrelid = 'deliveries'::regclass AND c.contype = 'c' AND pg_get_constraintdef(c.oid) LIKE '%reason%'`,
  );
  expect(rows).toHaveLength(1);
  return [...(rows[0].def as string).matchAll(/'([^']+)'::text/g)].map((m) => m[1]).sort();
}

it('allows exactly the Reason enum and the legacy values in deliveries.reason', async () => {
  expect(await allowedReasons()).toEqual([...REASONS, ...Object.keys(LEGACY_REASONS)].sort());
});

it('refuses a reason the enum does not know, and takes one it knows', async () => {
  const [{ id }] = (
    await client.query(
      `INSERT INTO subscribers (email, locale, time_zone, cadence, status, source) VALUES ('reason@example.com', 'de', 'Europe/Berlin', 'weekly', 'active', 'api') RETURNING id`,
    )
  ).rows;
  const insert = (reason: string) =>
    client.query(
      `INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
       VALUES ($1, 'service', 'confirm_subscription', 'de', 'suppressed', $2, 'reason:' || $2, now(), now(), now())`,
      [id, reason],
    );
  await expect(insert('suppressed_because_i_said_so')).rejects.toThrow(/deliveries_reason_check/);
  await expect(insert('suppressed_unsubscribed')).resolves.toBeDefined();
});
