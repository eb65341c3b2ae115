// Quiet hours as configured (QUIET_HOURS): a campaign mail decided inside them waits in the outbox
// for their end in the customer's zone, with the reason queued_quiet_hours, and goes then.
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { startTestApp, TestApp } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(() => sink.close());

/** An app with these QUIET_HOURS (unset: the default), a topic and two customers, in Berlin and New York. */
async function appWith(quietHours: string | undefined, clock: FakeClock) {
  const t = await startTestApp({ clock, env: { SMTP_URL: sink.url, ...(quietHours === undefined ? {} : { QUIET_HOURS: quietHours }) } });
  await createTopics(t, ['news']);
  const ids = await importConfirmed(t, [
    { email: 'berlin@example.de', topics: ['news'], timeZone: 'Europe/Berlin' },
    { email: 'newyork@example.com', topics: ['news'], timeZone: 'America/New_York', locale: 'en' },
  ]);
  return { t, ids };
}

async function send(t: TestApp): Promise<string> {
  const campaign = await createCampaign(t, { name: 'news', topic: 'news' });
  await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
  await t.app.get(CampaignDispatchService).dispatchDue();
  await t.app.get(DeliveryWorker).drain();
  return campaign;
}

const rowOf = async (t: TestApp, campaign: string, email: string) =>
  (
    await t.sql(
      `SELECT d.id, d.status, d.reason, d.next_attempt_at FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id WHERE d.ref_id = $1 AND s.email = $2`,
      [campaign, email],
    )
  )[0];
const received = (email: string) => sink.messages.filter((m) => m.envelope.rcptTo.includes(email));

describe('default quiet hours (21:00 to 08:00 local)', () => {
  const clock = new FakeClock('2026-03-02T22:30:00Z'); // 23:30 in Berlin, 17:30 in New York
  let t: TestApp;
  let ids: Map<string, string>;
  let campaign: string;
  beforeAll(async () => {
    sink.clear();
    ({ t, ids } = await appWith(undefined, clock));
  });
  afterAll(() => t.close());

  it('queues a mail decided at night for 08:00 in the customer’s zone, with the reason queued_quiet_hours; another zone gets it now', async () => {
    campaign = await send(t);
    expect(await rowOf(t, campaign, 'berlin@example.de')).toMatchObject({
      status: 'queued',
      reason: 'queued_quiet_hours',
      next_attempt_at: new Date('2026-03-03T07:00:00Z'),
    });
    expect(received('berlin@example.de')).toHaveLength(0);
    expect(received('newyork@example.com')).toHaveLength(1);

    const stats = await t.api('GET', `/v1/campaigns/${campaign}/stats`);
    expect(stats.body.byReason).toEqual({ queued_quiet_hours: 1, sent: 1 });
    const timeline = await t.api('GET', `/v1/subscribers/${ids.get('berlin@example.de')}/timeline`);
    expect(timeline.body.items[0]).toMatchObject({
      status: 'queued',
      reason: 'queued_quiet_hours',
      reasonLabel: { de: 'Wartet auf das Ende der Ruhezeit', en: 'Waiting for the end of quiet hours' },
      nextAttemptAt: '2026-03-03T07:00:00.000Z',
    });
  });

  it('reads a row an older instance stored with suppressed_quiet_hours as queued_quiet_hours', async () => {
    const row = await rowOf(t, campaign, 'berlin@example.de');
    await t.sql(`UPDATE deliveries SET reason = 'suppressed_quiet_hours' WHERE id = $1`, [row.id]);
    const timeline = await t.api('GET', `/v1/subscribers/${ids.get('berlin@example.de')}/timeline`);
    expect(timeline.body.items[0]).toMatchObject({ reason: 'queued_quiet_hours', reasonLabel: { en: 'Waiting for the end of quiet hours' } });
    expect((await t.api('GET', `/v1/campaigns/${campaign}/stats`)).body.byReason).toEqual({ queued_quiet_hours: 1, sent: 1 });
    const exported = await t.api('GET', `/v1/subscribers/${ids.get('berlin@example.de')}/export`);
    expect(exported.body.deliveries.map((d: any) => d.reason)).toContain('queued_quiet_hours');
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toContain('tactful_decisions{class="marketing",status="queued",reason="queued_quiet_hours"} 1');
    expect(metrics).not.toContain('suppressed_quiet_hours');
  });

  it('hands the mail over when the quiet hours end', async () => {
    clock.set('2026-03-03T07:00:00Z');
    await t.app.get(DeliveryWorker).drain();
    expect(received('berlin@example.de')).toHaveLength(1);
    expect(await rowOf(t, campaign, 'berlin@example.de')).toMatchObject({ status: 'sent', reason: 'sent' });
  });
});

describe('QUIET_HOURS=12-14 (a lunch break instead of the night)', () => {
  const clock = new FakeClock('2026-03-02T11:30:00Z'); // 12:30 in Berlin, 06:30 in New York
  let t: TestApp;
  beforeAll(async () => {
    sink.clear();
    ({ t } = await appWith('12-14', clock));
  });
  afterAll(() => t.close());

  it('moves the Berlin mail to 14:00 local and sends the New York one at 06:30, as the dry run says beforehand', async () => {
    const draft = await createCampaign(t, { name: 'dry run', topic: 'news' });
    const dryRun = await t.api('GET', `/v1/campaigns/${draft}/audience`);
    expect(Object.fromEntries(dryRun.body.byReason.map((r: any) => [r.reason, r.count]))).toEqual({ queued: 1, queued_quiet_hours: 1 });

    const campaign = await send(t);
    expect(await rowOf(t, campaign, 'berlin@example.de')).toMatchObject({
      status: 'queued',
      reason: 'queued_quiet_hours',
      next_attempt_at: new Date('2026-03-02T13:00:00Z'),
    });
    expect(await rowOf(t, campaign, 'newyork@example.com')).toMatchObject({ status: 'sent' });
    expect(received('newyork@example.com')).toHaveLength(1);
  });
});

describe('QUIET_HOURS=off', () => {
  const clock = new FakeClock('2026-03-02T22:30:00Z'); // 23:30 in Berlin
  let t: TestApp;
  beforeAll(async () => {
    sink.clear();
    ({ t } = await appWith('off', clock));
  });
  afterAll(() => t.close());

  it('sends at night at once', async () => {
    const campaign = await send(t);
    expect(await rowOf(t, campaign, 'berlin@example.de')).toMatchObject({ status: 'sent', reason: 'sent' });
    expect(received('berlin@example.de')).toHaveLength(1);
  });
});
