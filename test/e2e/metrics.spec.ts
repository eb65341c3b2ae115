// GET /metrics after a small campaign: the figures an operator graphs agree with the database.
import { Client } from 'pg';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryHealthService } from '../../src/delivery/delivery-health.service';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { foldDeliveryCounts } from '../../src/metrics/delivery-counts';
import { Db } from '../../src/database/sql';
import { startTestApp, TestApp } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

let t: TestApp;
let sink: SmtpSink;

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({ clock: new FakeClock('2026-03-02T09:00:00Z'), env: { SMTP_URL: sink.url } });
  await createTopics(t, ['offers']);
});
afterAll(async () => {
  await t.close();
  await sink.close();
});

function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `) ? wanted.every((w) => l.includes(w)) : false));
  return line ? Number(line.split(' ').pop()) : NaN;
}

it('reports deliveries by status and reason, SMTP latency and HTTP durations by route, matching the database', async () => {
  await importConfirmed(t, [
    { email: 'm1@example.com', topics: ['offers'] },
    { email: 'm2@example.com', topics: ['offers'] },
    { email: 'm3@example.com', topics: ['offers'], attributes: { vip: false } },
  ]);
  const first = await createCampaign(t, { name: 'first', topic: 'offers' });
  const second = await createCampaign(t, { name: 'second', topic: 'offers' });
  for (const id of [first, second]) await t.api('POST', `/v1/campaigns/${id}/schedule`, { body: {} });
  await t.app.get(CampaignDispatchService).dispatchDue();
  await t.app.get(DeliveryWorker).drain();
  expect(sink.messages).toHaveLength(3);

  const res = await fetch(`${t.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const text = await res.text();

  const client = new Client({ connectionString: t.db.url });
  await client.connect();
  const { rows } = await client.query(`SELECT class, status, reason, count(*)::int AS n FROM deliveries GROUP BY 1, 2, 3`);
  await client.end();
  for (const r of rows) {
    expect(sample(text, 'tactful_decisions', { class: r.class, status: r.status, reason: r.reason })).toBe(r.n);
  }
  expect(sample(text, 'tactful_decisions', { class: 'marketing', status: 'deferred', reason: 'deferred_cadence' })).toBe(3);
  expect(sample(text, 'tactful_deliveries_total', { class: 'marketing', kind: 'campaign', status: 'sent', reason: 'sent' })).toBe(3);
  expect(sample(text, 'tactful_smtp_duration_seconds_count', { outcome: 'sent' })).toBe(3);
  expect(sample(text, 'tactful_outbox_rows', { status: 'sent' })).toBe(3);
  expect(sample(text, 'tactful_outbox_oldest_due_seconds')).toBe(0);
  expect(sample(text, 'tactful_http_request_duration_seconds_count', { method: 'POST', route: '/v1/campaigns/:id/schedule', status: '200' })).toBe(2);
  // Route patterns only: no ids or tokens in label values.
  expect(text).not.toMatch(/route="[^"]*[0-9a-f]{8}-[0-9a-f]{4}/);
});

// Issue 21, item 3: the decision counts come from a rollup kept in the deciding transactions.
describe('the decision counts rollup', () => {
  const logCounts = () => t.sql(`SELECT class, status, reason, count(*)::int AS n FROM deliveries GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`);
  const rollup = () => t.sql(`SELECT class, status, reason, n::int AS n FROM delivery_counts WHERE n <> 0 ORDER BY 1, 2, 3`);

  it('answers a scrape while the decision log is locked against every reader: the scrape never reads it', async () => {
    const holder = new Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE');
      // A statement on deliveries would wait for the lock (then hit the statement timeout): the scrape would fail.
      const res = await fetch(`${t.baseUrl}/metrics`);
      expect(res.status).toBe(200);
      expect(sample(await res.text(), 'tactful_decisions', { class: 'marketing', status: 'sent', reason: 'sent' })).toBe(3);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('folds the deltas into counts equal to the log, and a rolled-back decision never counts', async () => {
    const db = t.app.get(Db);
    expect((await t.sql(`SELECT count(*)::int AS n FROM delivery_count_deltas`))[0].n).toBeGreaterThan(0);
    expect((await foldDeliveryCounts(db, t.clock.now())).folded).toBeGreaterThan(0);
    expect((await t.sql(`SELECT count(*)::int AS n FROM delivery_count_deltas`))[0].n).toBe(0);
    expect(await rollup()).toEqual(await logCounts());

    // An update that changes no counted column appends nothing; one that does, its net change.
    await t.sql(`UPDATE deliveries SET updated_at = updated_at WHERE status = 'sent'`);
    expect((await t.sql(`SELECT count(*)::int AS n FROM delivery_count_deltas`))[0].n).toBe(0);
    const client = new Client({ connectionString: t.db.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE deliveries SET status = 'failed', reason = 'failed_permanent' WHERE status = 'sent'`);
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
    await foldDeliveryCounts(db, t.clock.now());
    expect(await rollup()).toEqual(await logCounts());
  });

  it('reports the age of the oldest due mail as the fold measured it', async () => {
    const [{ id }] = await t.sql(`SELECT id FROM subscribers WHERE email = 'm1@example.com'`);
    const due = new Date(t.clock.now().getTime() - 90_000);
    await t.sql(
      `INSERT INTO deliveries (subscriber_id, class, kind, ref_id, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at)
       VALUES ($1, 'marketing', 'campaign', 'overdue', 'de', 'queued', 'queued', 'overdue:1', $2, $2, $2)`,
      [id, due],
    );
    await foldDeliveryCounts(t.app.get(Db), t.clock.now());
    const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(sample(text, 'tactful_outbox_oldest_due_seconds')).toBe(90);
    expect(sample(text, 'tactful_outbox_rows', { status: 'queued' })).toBe(
      (await t.sql(`SELECT count(*)::int AS n FROM deliveries WHERE status = 'queued'`))[0].n,
    );
    expect(await rollup()).toEqual(await logCounts());
  });
  it('gives the operations page of the console the outbox by status from the rollup, equal to the log, an unfolded decision included', async () => {
    await t.sql(`UPDATE deliveries SET status = 'suppressed', reason = 'suppressed_unsubscribed' WHERE ref_id = 'overdue'`);
    const { outbox } = await t.app.get(DeliveryHealthService).snapshot();
    expect(outbox).toEqual(await t.sql(`SELECT status, count(*)::int AS count FROM deliveries GROUP BY status ORDER BY status`));
    expect(outbox.find((o) => o.status === 'suppressed')?.count).toBeGreaterThan(0);
  });
});
