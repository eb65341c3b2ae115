// The HonestStates migration on rows stored under the old names: campaigns that were `sending`
// (deciding) or `sent` (decided, mails perhaps still queued), and mails waiting for the end of
// quiet hours as `suppressed_quiet_hours`. Run down to the old schema, filled, then up again.
import { Client } from 'pg';
import type { QueryRunner } from 'typeorm';
import { HonestStates1765000500000 } from '../../src/database/migrations/1765000500000-HonestStates';
import { connectedTestDatabase } from '../support/database';

let client: Client;
let close: () => Promise<void>;
const migration = new HonestStates1765000500000();
/** The migration needs only query() of a QueryRunner. */
const runner = () => ({ query: async (text: string) => (await client.query(text)).rows }) as unknown as QueryRunner;
const q = async (text: string, params: unknown[] = []) => (await client.query(text, params)).rows;

beforeAll(async () => {
  ({ client, close } = await connectedTestDatabase());
});
afterAll(() => close());

it('moves stored campaign statuses and quiet-hours reasons to their honest names, and refuses the old ones afterwards', async () => {
  await migration.down(runner());
  const [topic] = await q(`INSERT INTO topics (key, name_de, name_en) VALUES ('news', 'News', 'News') RETURNING id`);
  const [person] = await q(
    `INSERT INTO subscribers (email, locale, time_zone, cadence, status, source) VALUES ('anna@example.de', 'de', 'Europe/Berlin', 'weekly', 'active', 'api') RETURNING id`,
  );
  const campaign = async (name: string, status: string) =>
    (
      await q(
        `INSERT INTO campaigns (name, topic_id, sender, priority, status, subject_de, body_de, send_at, created_at, updated_at, started_at, finished_at)
         VALUES ($1, $2, 'marketing', 0, $3, 'Hallo', '<p>Hallo</p>', '2026-03-02T09:00:00Z', '2026-03-01T09:00:00Z', '2026-03-02T09:05:00Z',
                 '2026-03-02T09:00:00Z', CASE WHEN $3 = 'sent' THEN '2026-03-02T09:01:00Z'::timestamptz END) RETURNING id`,
        [name, topic.id, status],
      )
    )[0].id as string;
  const deciding = await campaign('deciding', 'sending');
  const waiting = await campaign('sent, mails still queued', 'sent');
  const done = await campaign('sent, all handed over', 'sent');
  const draft = await campaign('draft', 'draft');
  let n = 0;
  const delivery = (ref: string, status: string, reason: string) =>
    q(
      `INSERT INTO deliveries (subscriber_id, class, kind, topic_id, ref_id, sender, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
       VALUES ($1, 'marketing', 'campaign', $2, $3, 'marketing', 'de', $4, $5, $6, '2026-03-03T07:00:00Z', '2026-03-02T09:00:00Z', '2026-03-02T09:00:00Z')`,
      [person.id, topic.id, ref, status, reason, `key-${n++}`],
    );
  await delivery(waiting, 'queued', 'suppressed_quiet_hours');
  await delivery(waiting, 'sent', 'sent');
  await delivery(done, 'sent', 'sent');
  await delivery(done, 'deferred', 'deferred_cadence');

  await migration.up(runner());

  const rows = await q(`SELECT id, status, completed_at, progress FROM campaigns`);
  const byId = new Map(rows.map((r) => [r.id, r]));
  expect(byId.get(deciding)).toMatchObject({ status: 'dispatching', completed_at: null });
  expect(byId.get(waiting)).toMatchObject({ status: 'sending', completed_at: null });
  expect(byId.get(done)).toMatchObject({ status: 'completed', completed_at: new Date('2026-03-02T09:01:00Z'), progress: null });
  expect(byId.get(draft)).toMatchObject({ status: 'draft' });
  expect(await q(`SELECT reason FROM deliveries WHERE status = 'queued'`)).toEqual([{ reason: 'queued_quiet_hours' }]);

  // The old names are gone for good; the dispatch finds the campaign it was deciding.
  await expect(q(`UPDATE campaigns SET status = 'sent' WHERE id = $1`, [done])).rejects.toThrow(/campaigns_status_check/);
  const due = await q(`SELECT id FROM campaigns WHERE status IN ('scheduled', 'dispatching') AND send_at <= '2026-03-03T00:00:00Z'`);
  expect(due.map((r) => r.id)).toEqual([deciding]);
});
