// Campaigns under the cadence cap, as a marketer and a customer meet them: real HTTP, real SMTP,
// real PostgreSQL, virtual time.
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { startTestApp, TestApp } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

const DAY = 86_400_000;
let t: TestApp;
let sink: SmtpSink;
// A Monday, 10:00 in Berlin: outside quiet hours.
const clock = new FakeClock('2026-03-02T09:00:00Z');

const sql = (text: string, params: unknown[] = []) => t.sql(text, params);

async function runScheduler(): Promise<void> {
  await t.app.get(CampaignDispatchService).dispatchDue();
  await t.app.get(DeliveryWorker).drain();
}

const received = (email: string) => sink.messages.filter((m) => m.envelope.rcptTo.includes(email));

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
  await createTopics(t, ['trade-fairs', 'offers', 'markets']);
});
afterAll(async () => {
  await t.close();
  await sink.close();
});

describe('two campaigns on the same day', () => {
  it('sends one mail to each subscriber and defers the other into the next digest, with the reason and date', async () => {
    const ids = await importConfirmed(t, [
      { email: 'anna@example.de', locale: 'de', topics: ['trade-fairs'], digestWeekday: 4, digestHour: 9 },
      { email: 'ben@example.com', locale: 'en', topics: ['trade-fairs'], cadence: 'biweekly' },
    ]);
    const first = await createCampaign(t, { name: 'fair moved', topic: 'trade-fairs', priority: 5 });
    const second = await createCampaign(t, { name: 'fair goes digital', topic: 'trade-fairs' });
    await t.api('POST', `/v1/campaigns/${first}/schedule`, { body: {} });
    await t.api('POST', `/v1/campaigns/${second}/schedule`, { body: {} });
    await runScheduler();

    expect(received('anna@example.de')).toHaveLength(1);
    expect(received('ben@example.com')).toHaveLength(1);
    const firstStats = await t.api('GET', `/v1/campaigns/${first}/stats`);
    expect(firstStats.body.byStatus).toEqual({ sent: 2 });
    const secondStats = await t.api('GET', `/v1/campaigns/${second}/stats`);
    expect(secondStats.body.byReason).toEqual({ deferred_cadence: 2 });

    const timeline = await t.api('GET', `/v1/subscribers/${ids.get('anna@example.de')}/timeline`);
    expect(timeline.status).toBe(200);
    const deferred = timeline.body.items.find((i: any) => i.refId === second);
    expect(deferred).toMatchObject({ status: 'deferred', reason: 'deferred_cadence', reasonLabel: { en: 'Folded into the next digest (cadence)' } });
    // Window until Monday 9 March 10:00 Berlin; Anna's digest slot is Thursdays 09:00, so the first free day's slot hour: Tue 10 March 09:00.
    expect(deferred.nextAttemptAt).toBe('2026-03-10T08:00:00.000Z');
    expect(timeline.body.nextMarketingSlot).toBe('2026-03-09T09:00:00.000Z');
    expect(timeline.body.nextDigestAt).toBe(deferred.nextAttemptAt);
    // Anna switches to biweekly: her window, her next digest and the deferred item's date move together.
    expect((await t.api('PATCH', `/v1/subscribers/${ids.get('anna@example.de')}`, { body: { cadence: 'biweekly' } })).status).toBe(200);
    const moved = await t.api('GET', `/v1/subscribers/${ids.get('anna@example.de')}/timeline`);
    expect(moved.body.nextMarketingSlot).toBe('2026-03-16T09:00:00.000Z');
    expect(moved.body.nextDigestAt).toBe('2026-03-17T08:00:00.000Z');
    expect(moved.body.items.find((i: any) => i.refId === second).nextAttemptAt).toBe('2026-03-17T08:00:00.000Z');
    expect((await t.api('PATCH', `/v1/subscribers/${ids.get('anna@example.de')}`, { body: { cadence: 'weekly' } })).status).toBe(200);

    const mail = received('anna@example.de')[0];
    expect(mail.parsed.subject).toBe('Neuigkeiten');
    const headers = mail.raw.split('\r\n\r\n')[0].replace(/\r\n[ \t]+/g, ' ');
    expect(headers).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    expect(headers).toMatch(/^List-Unsubscribe: <http:\/\/tactful\.test\/u\/[\w.-]+>, <mailto:/m);
  });

  it('gives a biweekly subscriber the next campaign only 14 days later, a weekly one after 7', async () => {
    sink.clear();
    clock.advance(8 * DAY);
    const third = await createCampaign(t, { name: 'week two', topic: 'trade-fairs' });
    await t.api('POST', `/v1/campaigns/${third}/schedule`, { body: {} });
    await runScheduler();
    expect(received('anna@example.de')).toHaveLength(1);
    expect(received('ben@example.com')).toHaveLength(0);

    clock.advance(7 * DAY);
    const fourth = await createCampaign(t, { name: 'week three', topic: 'trade-fairs' });
    await t.api('POST', `/v1/campaigns/${fourth}/schedule`, { body: {} });
    await runScheduler();
    // Ben's 14 days are over; Anna's last mail was exactly 7 days ago, so her window is open again too.
    expect(received('ben@example.com')).toHaveLength(1);
    expect(received('anna@example.de')).toHaveLength(2);
    const sends = await sql(
      `SELECT lower(during) AS at FROM marketing_sends m JOIN subscribers s ON s.id = m.subscriber_id WHERE s.email = 'ben@example.com' ORDER BY 1`,
    );
    expect(sends.map((r) => r.at.getTime() - sends[0].at.getTime())).toEqual([0, 15 * DAY]);
  });
});

describe('consent at send time', () => {
  it('suppresses a queued campaign for a subscriber who unsubscribes between decision and hand-over', async () => {
    const ids = await importConfirmed(t, [{ email: 'carla@example.de', topics: ['offers'] }]);
    const campaign = await createCampaign(t, { name: 'offer', topic: 'offers' });
    await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    const [queued] = await sql(`SELECT status FROM deliveries WHERE ref_id = $1`, [campaign]);
    expect(queued.status).toBe('queued');

    await t.api('PATCH', `/v1/subscribers/${ids.get('carla@example.de')}`, { body: { status: 'unsubscribed' } });
    await t.app.get(DeliveryWorker).drain();
    expect(received('carla@example.de')).toHaveLength(0);
    const stats = await t.api('GET', `/v1/campaigns/${campaign}/stats`);
    expect(stats.body.byReason).toEqual({ suppressed_unsubscribed: 1 });
    // The window she never used is free again.
    const timeline = await t.api('GET', `/v1/subscribers/${ids.get('carla@example.de')}/timeline`);
    expect(timeline.body.lastMarketingAt).toBeNull();
  });

  it('decides every candidate of the topic: audience misses, pending and revoked consent each with their reason', async () => {
    await importConfirmed(t, [
      { email: 'retail@example.de', topics: ['markets'], attributes: { segment: 'retail', employees: 12 } },
      { email: 'tiny@example.de', topics: ['markets'], attributes: { segment: 'retail', employees: 2 } },
      { email: 'industry@example.de', topics: ['markets'], attributes: { segment: 'industry', employees: 500 } },
    ]);
    await t.api('POST', '/v1/subscribers', { body: { email: 'pending@example.de', topics: ['markets'] } });
    const audience = {
      and: [
        { attr: 'segment', eq: 'retail' },
        { attr: 'employees', gte: 10 },
      ],
    };
    const campaign = await createCampaign(t, { name: 'markets', topic: 'markets', audience });

    const dryRun = await t.api('GET', `/v1/campaigns/${campaign}/audience`);
    expect(dryRun.status).toBe(200);
    expect(dryRun.body).toMatchObject({ now: 1, later: 0, never: 3 });
    expect(Object.fromEntries(dryRun.body.byReason.map((r: any) => [r.reason, r.count]))).toEqual({
      queued: 1,
      suppressed_audience: 2,
      suppressed_unconfirmed: 1,
    });
    expect((await sql(`SELECT count(*)::int AS n FROM deliveries WHERE ref_id = $1`, [campaign]))[0].n).toBe(0);

    await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
    await runScheduler();
    expect(received('retail@example.de')).toHaveLength(1);
    expect(received('tiny@example.de')).toHaveLength(0);
    const stats = await t.api('GET', `/v1/campaigns/${campaign}/stats`);
    expect(stats.body.byReason).toEqual({ sent: 1, suppressed_audience: 2, suppressed_unconfirmed: 1 });
  });
});

describe('campaign API', () => {
  it('rejects a bad audience filter and an injection attempt with 400 naming the field, storing nothing', async () => {
    const before = (await sql(`SELECT count(*)::int AS n FROM campaigns`))[0].n;
    const res = await t.api('POST', '/v1/campaigns', {
      body: {
        name: 'bad',
        topic: 'offers',
        subject: { en: 'x' },
        body: { en: '<p>x</p>' },
        audience: {
          or: [
            { attr: "segment'; DROP TABLE subscribers; --", eq: 'x' },
            { attr: 'a', like: '%' },
          ],
        },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: any) => e.field)).toEqual(['audience.or[0].attr', 'audience.or[1].like']);
    expect((await sql(`SELECT count(*)::int AS n FROM campaigns`))[0].n).toBe(before);
  });

  it('treats SQL in audience values as plain data', async () => {
    const campaign = await createCampaign(t, { name: 'inert', topic: 'markets', audience: { attr: 'segment', in: ["retail' OR '1'='1", 'x'] } });
    const dryRun = await t.api('GET', `/v1/campaigns/${campaign}/audience`);
    expect(dryRun.body.now).toBe(0);
    expect((await sql(`SELECT count(*)::int AS n FROM subscribers`))[0].n).toBeGreaterThan(0);
  });

  it('returns the first campaign for a retried POST with the same Idempotency-Key, and 422 for a different body', async () => {
    const body = { name: 'once', topic: 'offers', subject: { en: 'Once' }, body: { en: '<p>once</p>' } };
    const headers = { 'idempotency-key': 'create-once-1' };
    const first = await fetch(`${t.baseUrl}/v1/campaigns`, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const again = await fetch(`${t.baseUrl}/v1/campaigns`, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(((await again.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);
    const different = await fetch(`${t.baseUrl}/v1/campaigns`, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, name: 'twice' }),
    });
    expect(different.status).toBe(422);
    expect((await sql(`SELECT count(*)::int AS n FROM campaigns WHERE name IN ('once', 'twice')`))[0].n).toBe(1);
  });

  it('cancels a campaign: what was not handed over is suppressed and the held windows are free again', async () => {
    const ids = await importConfirmed(t, [{ email: 'dora@example.de', topics: ['offers'] }]);
    const campaign = await createCampaign(t, { name: 'to cancel', topic: 'offers' });
    await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    const cancelled = await t.api('POST', `/v1/campaigns/${campaign}/cancel`);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelledDeliveries: 1 });
    await t.app.get(DeliveryWorker).drain();
    expect(received('dora@example.de')).toHaveLength(0);
    const timeline = await t.api('GET', `/v1/subscribers/${ids.get('dora@example.de')}/timeline`);
    expect(timeline.body.items[0]).toMatchObject({ status: 'suppressed', reason: 'suppressed_cancelled' });
    expect(timeline.body.lastMarketingAt).toBeNull();
  });

  it('previews in the subscriber language and refuses to change a campaign that is sending or sent', async () => {
    const campaign = await createCampaign(t, { name: 'preview', topic: 'offers' });
    const preview = await t.api('POST', `/v1/campaigns/${campaign}/preview`, { body: { locale: 'de' } });
    expect(preview.body.subject).toBe('Neuigkeiten');
    expect(preview.body.html).toContain('Hallo!');
    expect(preview.body.text).toContain('Hallo!');
    await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    const patch = await t.api('PATCH', `/v1/campaigns/${campaign}`, { body: { name: 'too late' } });
    expect(patch.status).toBe(409);
  });

  it('rejects invalid body markup with 400 naming the line', async () => {
    const res = await t.api('POST', '/v1/campaigns', {
      body: { name: 'broken', topic: 'offers', subject: { en: 'x' }, body: { en: '<p>fine</p>\n<mj-include path="/etc/passwd" />' } },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'body.en' });
    expect(res.body.errors[0].message).toMatch(/^line 2:/);
  });
});

describe('sender budgets', () => {
  it('lets the shop take at most one window in four; its other offers are folded into the digest, while another sender still gets through', async () => {
    const budget = await t.api('PUT', '/v1/senders/shop/budget', { body: { maxSlots: 1, perSlots: 4 } });
    expect(budget.status).toBe(200);
    expect((await t.api('PUT', '/v1/senders/shop/budget', { body: { maxSlots: 3, perSlots: 2 } })).body.errors[0].field).toBe('perSlots');
    await importConfirmed(t, [{ email: 'shopper@example.de', topics: ['offers'] }]);
    const reasons: string[] = [];
    for (let week = 0; week < 4; week++) {
      clock.advance(7 * DAY + 60_000);
      const offer = await createCampaign(t, { name: `offer ${week}`, topic: 'offers', sender: 'shop' });
      await t.api('POST', `/v1/campaigns/${offer}/schedule`, { body: {} });
      await runScheduler();
      const [row] = await sql(
        `SELECT d.reason FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE s.email = 'shopper@example.de' AND d.ref_id = $1`,
        [offer],
      );
      reasons.push(row.reason);
      if (week === 1) {
        const news = await createCampaign(t, { name: 'fair news', topic: 'offers', sender: 'events-team' });
        await t.api('POST', `/v1/campaigns/${news}/schedule`, { body: {} });
        await runScheduler();
        const [newsRow] = await sql(
          `SELECT d.status FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE s.email = 'shopper@example.de' AND d.ref_id = $1`,
          [news],
        );
        expect(newsRow.status).toBe('sent');
      }
    }
    expect(reasons).toEqual(['sent', 'deferred_budget', 'deferred_budget', 'deferred_budget']);
    expect((await t.api('GET', '/v1/senders')).body).toEqual([expect.objectContaining({ sender: 'shop', maxSlots: 1, perSlots: 4 })]);
  });
});
