// A campaign's state and progress as a marketer polls them over HTTP: draft -> scheduled ->
// dispatching -> sending -> completed, each count matching the deliveries rows at every step,
// with the worker driven a batch at a time and the campaign-progress job ticked by hand.
import { Client } from 'pg';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { CampaignProgressService } from '../../src/campaigns/campaign-progress.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { DigestsService } from '../../src/digests/digests.service';
import { startTestApp, TestApp } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

const DAY = 86_400_000;
let t: TestApp;
let sink: SmtpSink;
const clock = new FakeClock('2026-01-30T09:00:00Z');
const sql = (text: string, params: unknown[] = []) => t.sql(text, params);
const dispatch = () => t.app.get(CampaignDispatchService);
const worker = () => t.app.get(DeliveryWorker);
const progress = () => t.app.get(CampaignProgressService);

/** The campaign's deliveries rows, counted the way its progress names them. */
async function rowCounts(campaign: string) {
  const rows: { status: string; via_digest: boolean; n: number }[] = await sql(
    `SELECT status, digest_delivery_id IS NOT NULL AS via_digest, count(*)::int AS n FROM deliveries WHERE ref_id = $1 AND kind = 'campaign' GROUP BY 1, 2`,
    [campaign],
  );
  const counts = { queued: 0, sending: 0, sent: 0, deferred: 0, sentInDigest: 0, suppressed: 0, expired: 0, failed: 0, unknown: 0, total: 0 };
  for (const r of rows) {
    const key = r.status === 'sent' && r.via_digest ? 'sentInDigest' : (r.status as keyof typeof counts);
    counts[key] += r.n;
    counts.total += r.n;
  }
  return counts;
}

/** The counts of a progress object, without the percentage and the time. */
const countsOf = ({ percentDone: _p, countedAt: _c, ...counts }: Record<string, unknown>) => counts;

async function campaign(id: string) {
  const res = await t.api('GET', `/v1/campaigns/${id}`);
  expect(res.status).toBe(200);
  return res.body;
}

async function schedule(id: string) {
  expect((await t.api('POST', `/v1/campaigns/${id}/schedule`, { body: {} })).status).toBe(200);
}

beforeAll(async () => {
  sink = await startSmtpSink();
  // No digests ran in February: the first one in March goes at once, not spread as a catch-up.
  t = await startTestApp({ clock, env: { SMTP_URL: sink.url, WORKER_BATCH_SIZE: '2', DIGEST_CATCHUP_SPREAD_MINUTES: '0' } });
  await createTopics(t, ['news', 'other']);
});
afterAll(async () => {
  await t.close();
  await sink.close();
});

describe('a campaign from draft to completed', () => {
  let id: string;
  let people: Map<string, string>;

  it('sets the scene: five customers mailed a month ago, one mailed yesterday, one unsubscribed', async () => {
    people = await importConfirmed(t, [
      ...['a', 'b', 'c', 'd', 'e'].map((n) => ({ email: `${n}@example.de`, topics: ['news'] })),
      { email: 'yesterday@example.de', topics: ['news', 'other'] },
      { email: 'gone@example.de', topics: ['news'] },
    ]);
    const lastMonth = await createCampaign(t, { name: 'last month', topic: 'news' });
    await schedule(lastMonth);
    await dispatch().dispatchDue();
    await worker().drain();
    clock.set('2026-03-01T09:00:00Z');
    const warmUp = await createCampaign(t, { name: 'yesterday', topic: 'other' });
    await schedule(warmUp);
    await dispatch().dispatchDue();
    await worker().drain();
    expect((await t.api('PATCH', `/v1/subscribers/${people.get('gone@example.de')}`, { body: { status: 'unsubscribed' } })).status).toBe(200);
    clock.set('2026-03-02T09:00:00Z'); // Monday 10:00 in Berlin: outside quiet hours
    expect(sink.messages).toHaveLength(8);
  });

  it('is a draft without progress, then scheduled without progress', async () => {
    id = await createCampaign(t, { name: 'states', topic: 'news' });
    expect(await campaign(id)).toMatchObject({ status: 'draft', progress: null, dispatchedAt: null, completedAt: null });
    await schedule(id);
    expect(await campaign(id)).toMatchObject({ status: 'scheduled', progress: null });
    const listed = await t.api('GET', '/v1/campaigns?status=scheduled');
    expect(listed.body.map((c: any) => c.id)).toEqual([id]);
  });

  it('is dispatching while it decides, with the decisions made so far counted', async () => {
    // Three candidates per batch; an eligible customer of the second batch has their window row
    // locked here, so the dispatch stops inside that batch until the lock goes.
    dispatch().batchSize = 3;
    const ids: { id: string; email: string }[] = await sql(
      `SELECT s.id, s.email FROM subscribers s JOIN topic_subscriptions ts ON ts.subscriber_id = s.id JOIN topics t ON t.id = ts.topic_id AND t.key = 'news' ORDER BY s.id`,
    );
    const held = ids.slice(3, 6).find((s) => /^[a-e]@/.test(s.email))!;
    const locker = new Client({ connectionString: t.db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM cadence_windows WHERE subscriber_id = $1 FOR UPDATE`, [held.id]);
      const running = dispatch().dispatchDue();
      let seen = await campaign(id);
      for (let i = 0; i < 200 && !(seen.status === 'dispatching' && seen.progress?.total === 3); i++) {
        await new Promise((r) => setTimeout(r, 50));
        seen = await campaign(id);
      }
      expect(seen).toMatchObject({ status: 'dispatching', dispatchedAt: null });
      expect(seen.startedAt).toBe('2026-03-02T09:00:00.000Z');
      expect(countsOf(seen.progress)).toEqual(await rowCounts(id));
      expect(seen.progress.total).toBe(3);
      // The progress job logs a line for it and leaves it dispatching.
      const tick = await progress().tick();
      expect(tick!.lines.find((l) => l.campaign === id)).toMatchObject({ status: 'dispatching', total: 3 });
      expect((await campaign(id)).status).toBe('dispatching');
      await locker.query('COMMIT');
      await running;
    } finally {
      dispatch().batchSize = 50_000;
      await locker.end();
    }
  });

  it('is sending once every customer is decided, with nothing handed over yet', async () => {
    const c = await campaign(id);
    expect(c).toMatchObject({ status: 'sending', dispatchedAt: '2026-03-02T09:00:00.000Z', finishedAt: '2026-03-02T09:00:00.000Z', completedAt: null });
    expect(c.progress).toMatchObject({ queued: 5, sending: 0, sent: 0, deferred: 1, suppressed: 1, total: 7, percentDone: 0 });
    expect(countsOf(c.progress)).toEqual(await rowCounts(id));
  });

  it('counts mails handed over as the worker goes, batch by batch, and logs a line when they move', async () => {
    await worker().runOnce(); // WORKER_BATCH_SIZE=2
    const c = await campaign(id);
    expect(c.status).toBe('sending');
    expect(c.progress).toMatchObject({ queued: 3, sent: 2, percentDone: 40 });
    expect(countsOf(c.progress)).toEqual(await rowCounts(id));

    const tick = await progress().tick();
    expect(tick!.completed).toBe(0);
    const line = tick!.lines.find((l) => l.campaign === id)!;
    expect(line).toMatchObject({ status: 'sending', queued: 3, sent: 2, deferred: 1, suppressed: 1, percentDone: 40 });
    // Ids and counts only: no address, no name, nothing personal.
    expect(Object.keys(line).sort()).toEqual(
      [
        'campaign',
        'status',
        'queued',
        'sending',
        'sent',
        'deferred',
        'sentInDigest',
        'suppressed',
        'expired',
        'failed',
        'unknown',
        'total',
        'percentDone',
        'countedAt',
      ].sort(),
    );
    expect(JSON.stringify(line)).not.toContain('@');
    // Nothing moved: no new line, until a few minutes have passed.
    expect((await progress().tick())!.lines.find((l) => l.campaign === id)).toBeUndefined();
    clock.advance(5 * 60_000);
    expect((await progress().tick())!.lines.find((l) => l.campaign === id)).toMatchObject({ status: 'sending', queued: 3, sent: 2 });

    await worker().runOnce();
    const later = await campaign(id);
    expect(later.progress).toMatchObject({ queued: 1, sent: 4, percentDone: 80 });
    expect(countsOf(later.progress)).toEqual(await rowCounts(id));
  });

  it('still reads sending at 100 % until the progress job sees the outbox empty, then completed with its counts kept', async () => {
    await worker().drain();
    const drained = await campaign(id);
    expect(drained).toMatchObject({ status: 'sending', completedAt: null });
    expect(drained.progress).toMatchObject({ queued: 0, sent: 5, percentDone: 100 });

    clock.advance(10_000);
    const tick = await progress().tick();
    expect(tick!.completed).toBe(1);
    const done = await campaign(id);
    expect(done).toMatchObject({ status: 'completed', completedAt: '2026-03-02T09:05:10.000Z' });
    expect(done.progress).toMatchObject({ queued: 0, sending: 0, sent: 5, deferred: 1, suppressed: 1, total: 7, percentDone: 100 });
    expect(countsOf(done.progress)).toEqual(await rowCounts(id));
    const [stored] = await sql(`SELECT progress FROM campaigns WHERE id = $1`, [id]);
    expect(stored.progress).toEqual(done.progress);

    const listed = await t.api('GET', '/v1/campaigns?status=completed');
    expect(listed.body.find((c: any) => c.id === id)).toMatchObject({ status: 'completed', progress: done.progress });
    const old = await t.api('GET', '/v1/campaigns?status=sent');
    expect(old.status).toBe(400);
    expect(old.body.errors).toEqual([{ field: 'status', message: 'must be one of draft, scheduled, dispatching, sending, completed, cancelled' }]);
  });

  it('leaves what was deferred to the digests: the campaign keeps the counts of its completion, the stats follow the digest', async () => {
    const before = await campaign(id);
    clock.set('2026-03-09T08:00:00Z'); // Monday 9 March 09:00 Berlin: the digest slot after yesterday's window
    await t.app.get(DigestsService).composeDue();
    await worker().drain();
    const stats = await t.api('GET', `/v1/campaigns/${id}/stats`);
    expect(stats.body.byStatus).toEqual({ sent: 6, suppressed: 1 });
    expect((await rowCounts(id)).sentInDigest).toBe(1);
    expect((await campaign(id)).progress).toEqual(before.progress);
  });
});

describe('campaigns that complete or settle without mails of their own', () => {
  it('completes at once when nothing of it goes now (every window is held), and the job stores its counts', async () => {
    const id = await createCampaign(t, { name: 'all held', topic: 'news' });
    await schedule(id);
    await dispatch().dispatchDue();
    const c = await campaign(id);
    expect(c).toMatchObject({ status: 'completed', completedAt: c.dispatchedAt });
    expect(c.progress).toMatchObject({ queued: 0, deferred: 6, suppressed: 1, percentDone: 100 });
    expect(countsOf(c.progress)).toEqual(await rowCounts(id));
    const tick = await progress().tick();
    expect(tick!.settled).toBeGreaterThanOrEqual(1);
    expect((await sql(`SELECT progress IS NOT NULL AS stored FROM campaigns WHERE id = $1`, [id]))[0].stored).toBe(true);
  });

  it('settles a campaign cancelled while sending only once the mails in a worker’s hands have settled too', async () => {
    clock.advance(8 * DAY);
    const id = await createCampaign(t, { name: 'cancelled midway', topic: 'news' });
    await schedule(id);
    await dispatch().dispatchDue();
    // The customers' rows locked here hold the worker inside the hand-over of the two mails it claims.
    const locker = new Client({ connectionString: t.db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM subscribers WHERE email LIKE '%@example.de' FOR UPDATE`);
      const handing = worker().runOnce();
      for (let i = 0; i < 200; i++) {
        const [w] = await sql(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
        if (w.n === 2) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const cancelled = await t.api('POST', `/v1/campaigns/${id}/cancel`);
      expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelledDeliveries: 4 });
      expect(cancelled.body.progress).toMatchObject({ sending: 2, suppressed: 5, queued: 0, sent: 0 });
      expect(countsOf(cancelled.body.progress)).toEqual(await rowCounts(id));
      await progress().tick();
      expect((await sql(`SELECT progress FROM campaigns WHERE id = $1`, [id]))[0].progress).toBeNull();

      await locker.query('COMMIT');
      await handing;
    } finally {
      await locker.end();
    }
    // The worker's gate saw the cancel: those two did not go either.
    const tick = await progress().tick();
    expect(tick!.settled).toBe(1);
    const c = await campaign(id);
    expect(c).toMatchObject({ status: 'cancelled', completedAt: null });
    expect(c.progress).toMatchObject({ sending: 0, sent: 0, suppressed: 7, percentDone: 100 });
    expect(countsOf(c.progress)).toEqual(await rowCounts(id));
    expect(await sql(`SELECT DISTINCT reason FROM deliveries WHERE ref_id = $1 AND status = 'suppressed' ORDER BY 1`, [id])).toEqual([
      { reason: 'suppressed_cancelled' },
      { reason: 'suppressed_unsubscribed' },
    ]);
  });
});
