// Digests over weeks of virtual time: each customer's rhythm, at their hour, across a DST change,
// nothing new → no mail, campaigns folded in, catch-up after downtime, several schedulers at once.
import { DateTime } from 'luxon';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { DigestsService } from '../../src/digests/digests.service';
import { startTestApp, TestApp } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(() => sink.close());

async function tick(t: TestApp): Promise<void> {
  await t.app.get(CampaignDispatchService).dispatchDue();
  await t.app.get(DigestsService).composeDue();
  await t.app.get(DeliveryWorker).drain();
}

async function addItem(t: TestApp, topic: string, title: string, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await t.api('POST', '/v1/digest-items', { body: { topic, title: { de: title, en: title }, summary: { en: `About ${title}` }, ...extra } });
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
}

const digestsTo = (email: string) => sink.messages.filter((m) => m.envelope.rcptTo.includes(email) && /update|Überblick/.test(m.parsed.text ?? ''));

describe('eight weeks of digests', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-03-01T23:00:00Z'); // Monday 2 March, 00:00 in Berlin

  beforeAll(async () => {
    sink.clear();
    t = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
    await createTopics(t, ['trade-fairs', 'markets']);
    await importConfirmed(t, [
      { email: 'weekly@example.de', locale: 'de', topics: ['trade-fairs'], digestWeekday: 1, digestHour: 9 },
      { email: 'biweekly@example.com', locale: 'en', cadence: 'biweekly', topics: ['trade-fairs'], digestWeekday: 1, digestHour: 9 },
    ]);
  });
  afterAll(() => t.close());

  it('sends a weekly subscriber 8 digests and a biweekly one 4, each at 09:00 on Monday in Berlin, across the DST change, and none in a week with nothing new', async () => {
    for (let week = 0; week < 9; week++) {
      // A new item every Sunday, except in week 4: that Monday has nothing new.
      if (week !== 4) {
        clock.set(new Date(Date.parse('2026-03-01T10:00:00Z') + week * 7 * DAY));
        await addItem(t, 'trade-fairs', `News of week ${week}`);
      }
      const monday = Date.parse('2026-03-02T00:00:00Z') + week * 7 * DAY;
      for (let hour = 0; hour < 24; hour++) {
        clock.set(new Date(monday + hour * HOUR - HOUR));
        await tick(t);
      }
    }
    const weekly = digestsTo('weekly@example.de');
    const local = weekly.map((m) => DateTime.fromJSDate(m.parsed.date!, { zone: 'Europe/Berlin' }));
    expect(local.map((d) => d.toFormat('ccc HH:mm'))).toEqual(Array(8).fill('Mon 09:00'));
    expect(local.map((d) => d.toFormat('MM-dd'))).toEqual(['03-02', '03-09', '03-16', '03-23', '04-06', '04-13', '04-20', '04-27']);
    // 23 March is CET (08:00 UTC), 6 April CEST (07:00 UTC): 09:00 local both times.
    expect(weekly[3].parsed.date!.toISOString()).toBe('2026-03-23T08:00:00.000Z');
    expect(weekly[4].parsed.date!.toISOString()).toBe('2026-04-06T07:00:00.000Z');

    const [{ id }] = await t.sql(`SELECT id FROM subscribers WHERE email = 'weekly@example.de'`);
    const empty = await t.sql(`SELECT next_attempt_at FROM deliveries WHERE subscriber_id = $1 AND reason = 'suppressed_empty'`, [id]);
    expect(empty).toHaveLength(1);

    const biweekly = digestsTo('biweekly@example.com');
    expect(biweekly.map((m) => DateTime.fromJSDate(m.parsed.date!, { zone: 'Europe/Berlin' }).toFormat('MM-dd HH:mm'))).toEqual([
      '03-02 09:00',
      '03-16 09:00',
      '03-30 09:00',
      '04-13 09:00',
      '04-27 09:00',
    ]);
    // Every biweekly digest gathers two weeks of news.
    expect(biweekly[1].parsed.text).toContain('News of week 1');
    expect(biweekly[1].parsed.text).toContain('News of week 2');
    // Something new each time: no item twice.
    const titles = weekly.flatMap((m) => [...new Set((m.parsed.text ?? '').match(/News of week \d/g) ?? [])]);
    expect(titles).toHaveLength(8);
    expect(new Set(titles).size).toBe(titles.length);
  }, 120_000);
});

describe('campaigns folded into the digest', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-03-02T09:00:00Z'); // Monday 10:00 Berlin

  beforeAll(async () => {
    sink.clear();
    t = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
    await createTopics(t, ['trade-fairs', 'offers']);
  });
  afterAll(() => t.close());

  it('gathers two deferred campaigns and three digest items into one digest, grouped by topic, and marks the campaigns sent through it', async () => {
    const ids = await importConfirmed(t, [{ email: 'folded@example.com', locale: 'en', topics: ['trade-fairs', 'offers'], digestWeekday: 3, digestHour: 8 }]);
    const subscriberId = ids.get('folded@example.com')!;
    const opener = await createCampaign(t, { name: 'opener', topic: 'offers', subject: { en: 'Spring offer' }, body: { en: '<p>offer</p>' } });
    await t.api('POST', `/v1/campaigns/${opener}/schedule`, { body: {} });
    await tick(t);
    expect(sink.messages.filter((m) => m.parsed.subject === 'Spring offer')).toHaveLength(1);

    const folded1 = await createCampaign(t, {
      name: 'f1',
      topic: 'trade-fairs',
      subject: { en: 'Fair moves to hall 4' },
      body: { en: '<p>x</p>' },
      digestSummary: { en: 'Hall 4 from June.' },
    });
    const folded2 = await createCampaign(t, { name: 'f2', topic: 'offers', subject: { en: 'Payment terms now 60 days' }, body: { en: '<p>y</p>' } });
    for (const id of [folded1, folded2]) await t.api('POST', `/v1/campaigns/${id}/schedule`, { body: {} });
    await tick(t);
    await addItem(t, 'trade-fairs', 'Aufschwung fair goes digital');
    await addItem(t, 'trade-fairs', 'New visitor tickets');
    await addItem(t, 'offers', 'Masks in stock again');

    const timeline = await t.api('GET', `/v1/subscribers/${subscriberId}/timeline`);
    expect(timeline.body.nextDigestAt).toBe('2026-03-10T07:00:00.000Z'); // window opens Mon 9 March 10:00; slot hour 08:00 → Tue 08:00

    for (let h = 0; h < 9 * 24; h++) {
      clock.advance(HOUR);
      await tick(t);
    }
    const digests = sink.messages.filter((m) => m.envelope.rcptTo.includes('folded@example.com') && m.parsed.subject !== 'Spring offer');
    expect(digests).toHaveLength(1);
    const text = digests[0].parsed.text ?? '';
    for (const title of ['Fair moves to hall 4', 'Payment terms now 60 days', 'Aufschwung fair goes digital', 'New visitor tickets', 'Masks in stock again']) {
      expect(text).toContain(title);
    }
    expect(text).toContain('Hall 4 from June.');
    // Grouped: the trade-fair entries sit under one heading, the offers under the other.
    const sections = text
      .split(/== /)
      .slice(1)
      .map((s) => s.split(' ==')[0]);
    expect(sections.sort()).toEqual(['Topic offers', 'Topic trade-fairs']);
    expect(digests[0].parsed.date!.toISOString()).toBe('2026-03-10T07:00:00.000Z');

    for (const id of [folded1, folded2]) {
      const stats = await t.api('GET', `/v1/campaigns/${id}/stats`);
      expect(stats.body.byStatus).toEqual({ sent: 1 });
    }
  }, 60_000);

  it('after three days of downtime sends each overdue subscriber one catch-up digest, not three', async () => {
    const ids = await importConfirmed(t, [{ email: 'daily-slot@example.com', locale: 'en', topics: ['offers'], digestWeekday: 5, digestHour: 9 }]);
    await addItem(t, 'offers', 'Catch-up news');
    const before = sink.messages.filter((m) => m.envelope.rcptTo.includes('daily-slot@example.com')).length;
    clock.advance(10 * DAY); // nobody ticked: the slot passed long ago
    await tick(t);
    await tick(t);
    clock.advance(2 * HOUR); // the catch-up is spread over DIGEST_CATCHUP_SPREAD_MINUTES
    await t.app.get(DeliveryWorker).drain();
    const after = sink.messages.filter((m) => m.envelope.rcptTo.includes('daily-slot@example.com'));
    expect(after.length - before).toBe(1);
    const rows = await t.sql(`SELECT count(*)::int AS n FROM deliveries WHERE subscriber_id = $1 AND kind = 'digest'`, [ids.get('daily-slot@example.com')]);
    expect(rows[0].n).toBe(1);
  });
});

describe('a digest that does not go', () => {
  let t: TestApp;
  const clock = new FakeClock('2026-03-02T07:30:00Z'); // Monday 08:30 in Berlin

  beforeAll(async () => {
    sink.clear();
    t = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
    await createTopics(t, ['markets']);
    await importConfirmed(t, [{ email: 'paused@example.de', locale: 'de', topics: ['markets'], digestWeekday: 1, digestHour: 9 }]);
    await addItem(t, 'markets', 'Market week');
  });
  afterAll(() => t.close());

  it('reserves the window under its own key and gives it back when its hand-over is refused, so the next campaign goes at once', async () => {
    const [{ id }] = await t.sql(`SELECT id FROM subscribers WHERE email = 'paused@example.de'`);
    clock.set(new Date('2026-03-02T08:01:00Z')); // 09:01 in Berlin: the digest is due
    await t.app.get(DigestsService).composeDue();
    const [digest] = await t.sql(`SELECT idempotency_key, status FROM deliveries WHERE subscriber_id = $1 AND kind = 'digest'`, [id]);
    expect(digest.status).toBe('queued');
    const [held] = await t.sql(`SELECT reserved_key FROM cadence_windows WHERE subscriber_id = $1`, [id]);
    expect(held.reserved_key).toBe(digest.idempotency_key);

    // The customer pauses between the composition and the hand-over: the gate refuses the digest.
    await t.sql(`UPDATE subscribers SET status = 'paused', paused_until = $2 WHERE id = $1`, [id, new Date('2026-03-02T20:00:00Z')]);
    await t.app.get(DeliveryWorker).drain();
    const [refused] = await t.sql(`SELECT status FROM deliveries WHERE subscriber_id = $1 AND kind = 'digest'`, [id]);
    expect(refused.status).toBe('suppressed');
    expect(digestsTo('paused@example.de')).toHaveLength(0);
    const [window] = await t.sql(`SELECT reserved_key, last_marketing_at FROM cadence_windows WHERE subscriber_id = $1`, [id]);
    expect(window.reserved_key).toBeNull();
    expect(window.last_marketing_at).toBe(-Infinity);

    // Back from the pause, the next campaign is not held behind a window no mail used.
    await t.sql(`UPDATE subscribers SET status = 'active', paused_until = NULL WHERE id = $1`, [id]);
    clock.set(new Date('2026-03-02T15:00:00Z')); // 16:00 in Berlin
    const campaign = await createCampaign(t, { topic: 'markets' });
    expect((await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} })).status).toBe(200);
    await t.app.get(CampaignDispatchService).dispatchDue();
    const [decision] = await t.sql(`SELECT status, reason FROM deliveries WHERE subscriber_id = $1 AND ref_id = $2`, [id, campaign]);
    expect(decision).toEqual({ status: 'queued', reason: 'queued' });
  });
});

describe('three schedulers on one database', () => {
  it('composes and sends every due digest exactly once for a simulated week', async () => {
    sink.clear();
    const clock = new FakeClock('2026-03-01T23:00:00Z');
    const first = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
    const others = await Promise.all([1, 2].map(() => startTestApp({ clock, env: { SMTP_URL: sink.url, DATABASE_URL: first.db.url } })));
    try {
      await createTopics(first, ['markets']);
      const people = Array.from({ length: 300 }, (_, i) => ({
        email: `p${i}@example.com`,
        locale: 'en' as const,
        topics: ['markets'],
        digestWeekday: 1 + (i % 7),
        digestHour: i % 24,
        timeZone: ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo'][i % 3],
      }));
      await importConfirmed(first, people);
      await addItem(first, 'markets', 'Market week');
      const apps = [first, ...others];
      for (let h = 0; h < 7 * 24 + 2; h++) {
        clock.advance(HOUR);
        await Promise.all(apps.map((a) => a.app.get(DigestsService).composeDue()));
        await Promise.all(apps.map((a) => a.app.get(DeliveryWorker).drain()));
      }
      const perPerson = new Map<string, number>();
      for (const m of sink.messages) for (const r of m.envelope.rcptTo) perPerson.set(r, (perPerson.get(r) ?? 0) + 1);
      expect(perPerson.size).toBe(300);
      expect([...perPerson.values()].every((n) => n === 1)).toBe(true);
      const [{ n }] = await first.sql(`SELECT count(*)::int AS n FROM deliveries WHERE kind = 'digest' AND status = 'sent'`);
      expect(n).toBe(300);
    } finally {
      for (const a of others) await a.app.close();
      await first.close();
    }
  }, 120_000);
});
