// cadence_windows has no foreign key to subscribers (it cost a subscriber lookup and lock per
// reserved window on the dispatch hot path; migration 1764000008000): a statement trigger on
// subscribers removes the windows of every subscriber deleted, by any path, and the delivery
// written with every reservation keeps its own foreign key, so a reservation cannot outlive an
// erasure that races it.
import { Client } from 'pg';
import { connectedTestDatabase, TestDatabase } from '../support/database';

let db: TestDatabase;
let client: Client;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ db, client, close } = await connectedTestDatabase());
});
afterAll(() => close());

const NOW = '2026-03-03T09:00:00Z';

async function subscriber(sql: Client, email: string): Promise<string> {
  const { rows } = await sql.query(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, source, created_at, updated_at, status_changed_at)
     VALUES ($1, 'de', 'Europe/Berlin', 'weekly', 'active', 'api', $2, $2, $2) RETURNING id`,
    [email, NOW],
  );
  return rows[0].id;
}

const reserve = (sql: Client, id: string, key: string) =>
  sql.query(`INSERT INTO cadence_windows (subscriber_id, last_marketing_at, window_days, time_zone, reserved_key) VALUES ($1, $2, 7, 'Europe/Berlin', $3)`, [
    id,
    NOW,
    key,
  ]);

const windowsOf = async (ids: string[]) =>
  (await client.query(`SELECT subscriber_id FROM cadence_windows WHERE subscriber_id = ANY($1::uuid[]) ORDER BY subscriber_id`, [ids])).rows.map(
    (r) => r.subscriber_id,
  );

it('deleting subscribers, one or many in one statement, deletes their cadence windows and no others', async () => {
  const [a, b, c] = [await subscriber(client, 'a@example.com'), await subscriber(client, 'b@example.com'), await subscriber(client, 'c@example.com')];
  for (const id of [a, b, c]) await reserve(client, id, `campaign:x:${id}`);

  await client.query(`DELETE FROM subscribers WHERE id = $1`, [a]);
  expect(await windowsOf([a, b, c])).toEqual([b, c].sort());

  await client.query(`DELETE FROM subscribers WHERE id = ANY($1::uuid[])`, [[b, c]]);
  expect(await windowsOf([a, b, c])).toEqual([]);
});

it('an erasure racing a reservation waits for it, then removes the window and the delivery the reservation wrote', async () => {
  const id = await subscriber(client, 'race@example.com');
  const dispatch = new Client({ connectionString: db.url });
  const erase = new Client({ connectionString: db.url });
  await dispatch.connect();
  await erase.connect();
  try {
    // What a dispatch batch writes for one subscriber: the reservation and its delivery, whose
    // foreign key locks the subscriber row until the batch commits.
    await dispatch.query('BEGIN');
    await reserve(dispatch, id, `campaign:race:${id}`);
    await dispatch.query(
      `INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
       VALUES ($1, 'marketing', 'campaign', 'de', 'queued', 'queued', $2, $3, $3, $3)`,
      [id, `campaign:race:${id}`, NOW],
    );
    let erased = false;
    const erasing = erase.query(`DELETE FROM subscribers WHERE id = $1`, [id]).then(() => (erased = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(erased).toBe(false);
    await dispatch.query('COMMIT');
    await erasing;

    expect(await windowsOf([id])).toEqual([]);
    const deliveries = await client.query(`SELECT count(*)::int AS n FROM deliveries WHERE subscriber_id = $1`, [id]);
    expect(deliveries.rows[0].n).toBe(0);
  } finally {
    await dispatch.end();
    await erase.end();
  }
});

it('a reservation for a subscriber erased in the meantime fails with its delivery instead of leaving a window behind', async () => {
  const id = await subscriber(client, 'late@example.com');
  await client.query(`DELETE FROM subscribers WHERE id = $1`, [id]);
  const dispatch = new Client({ connectionString: db.url });
  await dispatch.connect();
  try {
    await dispatch.query('BEGIN');
    await reserve(dispatch, id, `campaign:late:${id}`);
    await expect(
      dispatch.query(
        `INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
         VALUES ($1, 'marketing', 'campaign', 'de', 'queued', 'queued', $2, $3, $3, $3)`,
        [id, `campaign:late:${id}`, NOW],
      ),
    ).rejects.toThrow(/foreign key/);
    await dispatch.query('ROLLBACK');
    expect(await windowsOf([id])).toEqual([]);
  } finally {
    await dispatch.end();
  }
});
