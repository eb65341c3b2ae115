// Issue 23: a campaign's decisions by status and reason over time come from a rollup per campaign
// and hour (campaign_counts), kept by the deliveries triggers and folded by fold-delivery-counts.
// Through a real dispatch, real sends (an SMTP sink), a cancel, a digest that carries deferred
// copies, an erased customer and a test send, the rollup equals a GROUP BY over the campaign's
// deliveries: before a fold (deltas added in), after one, and as the service reads it.
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { Db } from '../../src/database/sql';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { DigestsService } from '../../src/digests/digests.service';
import { CampaignCounts, statsOf } from '../../src/metrics/campaign-counts';
import { foldDeliveryCounts } from '../../src/metrics/delivery-counts';
import { startTestApp, TestApp } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

const HOUR = 3_600_000;
let t: TestApp;
let sink: SmtpSink;
const clock = new FakeClock('2026-03-02T09:20:00Z'); // Monday, 10:20 in Berlin

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
  await createTopics(t, ['offers', 'trade-fairs']);
});
afterAll(async () => {
  await t.close();
  await sink.close();
});

/** The truth: the campaigns' deliveries grouped as the rollup groups them (UTC hours of updated_at). */
const logCounts = () =>
  t.sql(
    `SELECT ref_id AS campaign, to_char(date_trunc('hour', updated_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24') AS hour, status, reason,
            digest_delivery_id IS NOT NULL AS via_digest, count(*)::int AS n
     FROM deliveries WHERE kind = 'campaign' GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`,
  );
/** What the service reads from the rollup (folded counts plus deltas), in the same shape. */
async function rollup() {
  const ids = (await t.sql(`SELECT id::text FROM campaigns ORDER BY id`)).map((r) => r.id as string);
  const rows = await t.app.get(CampaignCounts).of(ids);
  return rows
    .map((r) => ({ campaign: r.campaignId, hour: r.hour.toISOString().slice(0, 13), status: r.status, reason: r.reason, via_digest: r.viaDigest, n: r.n }))
    .sort((a, b) => (JSON.stringify(Object.values(a)) < JSON.stringify(Object.values(b)) ? -1 : 1));
}
const sortRows = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => (JSON.stringify(Object.values(a)) < JSON.stringify(Object.values(b)) ? -1 : 1));
const fold = () => foldDeliveryCounts(t.app.get(Db), clock.now());
async function expectRollupEqualsLog(): Promise<void> {
  expect(await rollup()).toEqual(sortRows(await logCounts()));
}
async function tick(): Promise<void> {
  await t.app.get(CampaignDispatchService).dispatchDue();
  await t.app.get(DigestsService).composeDue();
  await t.app.get(DeliveryWorker).drain();
}

it('equals a GROUP BY over the deliveries through dispatch, sending, a cancel, a digest, an erasure and a test send', async () => {
  const ids = await importConfirmed(t, [
    { email: 'a@example.com', locale: 'de', topics: ['offers', 'trade-fairs'], digestWeekday: 3, digestHour: 8 },
    { email: 'b@example.com', locale: 'en', topics: ['offers', 'trade-fairs'], digestWeekday: 3, digestHour: 8 },
    { email: 'c@example.com', locale: 'en', topics: ['offers'], digestWeekday: 3, digestHour: 8 },
    { email: 'd@example.com', locale: 'de', topics: ['offers', 'trade-fairs'], digestWeekday: 3, digestHour: 8 },
  ]);
  await t.api('PATCH', `/v1/subscribers/${ids.get('d@example.com')}`, { body: { status: 'paused' } });

  // The first campaign takes the windows: queued at 09:00 UTC, sent an hour later.
  const opener = await createCampaign(t, { name: 'opener', topic: 'offers' });
  await t.api('POST', `/v1/campaigns/${opener}/schedule`, { body: {} });
  await t.app.get(CampaignDispatchService).dispatchDue();
  expect((await logCounts()).some((r) => r.status === 'queued')).toBe(true);
  await expectRollupEqualsLog(); // the deltas alone, nothing folded yet
  clock.advance(HOUR);
  await t.app.get(DeliveryWorker).drain();
  expect(sink.messages).toHaveLength(3);
  await expectRollupEqualsLog();
  expect((await fold()).campaignFolded).toBeGreaterThan(0);
  expect((await t.sql(`SELECT count(*)::int AS n FROM campaign_count_deltas`))[0].n).toBe(0);
  await expectRollupEqualsLog();

  // Two more inside the window: folded into the next digest; one of them is cancelled later.
  clock.advance(HOUR);
  const folded = await createCampaign(t, { name: 'folded', topic: 'trade-fairs', digestSummary: { de: 'Halle 4', en: 'Hall 4' } });
  const cancelled = await createCampaign(t, { name: 'cancelled', topic: 'offers' });
  for (const id of [folded, cancelled]) await t.api('POST', `/v1/campaigns/${id}/schedule`, { body: {} });
  await tick();
  await t.api('POST', `/v1/campaigns/${cancelled}/test-send`, { body: { addresses: ['proof@example.com'] } });
  await t.app.get(DeliveryWorker).drain();
  clock.advance(HOUR);
  await t.api('POST', `/v1/campaigns/${cancelled}/cancel`, { body: {} });
  await expectRollupEqualsLog();
  await fold();
  await expectRollupEqualsLog();

  // The digest carries the deferred copies a week later; an erased customer's rows go.
  for (let h = 0; h < 9 * 24; h += 1) {
    clock.advance(HOUR);
    await tick();
  }
  const log = await logCounts();
  expect(log.filter((r) => r.campaign === folded && r.status === 'sent' && r.via_digest).length).toBeGreaterThan(0);
  expect(log.filter((r) => r.campaign === cancelled && r.reason === 'suppressed_cancelled').length).toBeGreaterThan(0);
  await expectRollupEqualsLog();
  const erased = await t.api('DELETE', `/v1/subscribers/${ids.get('c@example.com')}`);
  expect(erased.status).toBeLessThan(300);
  await expectRollupEqualsLog();
  await fold();
  await expectRollupEqualsLog();
  // Each mail counts at the hour of its latest decision: the opener's three at 10:00 UTC, when they went.
  expect(log.filter((r) => r.campaign === opener && r.status === 'sent')).toEqual([
    { campaign: opener, hour: '2026-03-02T10', status: 'sent', reason: 'sent', via_digest: false, n: expect.any(Number) },
  ]);
  expect(new Set(log.filter((r) => r.campaign === folded).map((r) => r.hour)).size).toBeGreaterThan(1);
  // The API's stats (and the console's, the same function over the same rows) are the log's counts.
  for (const id of [opener, folded, cancelled]) {
    const rows = await t.sql(`SELECT status, reason, count(*)::int AS n FROM deliveries WHERE ref_id = $1 AND kind = 'campaign' GROUP BY 1, 2`, [id]);
    const sum = (key: 'status' | 'reason') => rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r[key]]: (acc[r[key]] ?? 0) + r.n }), {});
    const expected = { campaignId: id, total: rows.reduce((n, r) => n + r.n, 0), byStatus: sum('status'), byReason: sum('reason') };
    expect((await t.api('GET', `/v1/campaigns/${id}/stats`)).body).toEqual(expected);
    expect({ campaignId: id, ...statsOf(await t.app.get(CampaignCounts).of([id])) }).toEqual(expected);
  }
}, 120_000);

it('counts nothing of a rolled-back decision, and an update within the hour that changes no counted column appends nothing', async () => {
  await fold();
  await t.sql(`UPDATE deliveries SET attempts = attempts WHERE kind = 'campaign'`);
  expect((await t.sql(`SELECT count(*)::int AS n FROM campaign_count_deltas`))[0].n).toBe(0);
  await expect(
    t.sql(`WITH changed AS (UPDATE deliveries SET status = 'failed', reason = 'failed_permanent' WHERE kind = 'campaign' RETURNING 1)
           SELECT 1 / (SELECT count(*) - count(*) FROM changed)`),
  ).rejects.toThrow(/division by zero/);
  expect((await t.sql(`SELECT count(*)::int AS n FROM campaign_count_deltas`))[0].n).toBe(0);
  await expectRollupEqualsLog();
});
