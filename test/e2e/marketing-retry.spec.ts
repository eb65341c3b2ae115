// Marketing mails that could not go at their first hand-over and go later: a campaign mail held by
// a domain pause, a digest answered with a temporary 451. Each must keep its window while it waits,
// leave no hand-over record behind for the send that did not happen, and go exactly once later.
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { DigestsService } from '../../src/digests/digests.service';
import { startTestApp, TestApp } from '../support/app';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

const MINUTE = 60_000;
let t: TestApp;
let sink: SmtpSink;
// Monday 2 March 2026, 10:00 in Berlin: outside quiet hours.
const clock = new FakeClock('2026-03-02T09:00:00Z');

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({ clock, env: { SMTP_URL: sink.url, DOMAIN_PAUSE_MINUTES: '60', RETRY_BASE_SECONDS: '60' } });
  await createTopics(t, ['fairs', 'offers', 'later', 'news', 'tips', 'deals', 'garden', 'seeds']);
});
afterAll(async () => {
  await t.close();
  await sink.close();
});

async function tick(): Promise<void> {
  await t.app.get(CampaignDispatchService).dispatchDue();
  await t.app.get(DigestsService).composeDue();
  await t.app.get(DeliveryWorker).drain();
}

const received = (email: string) => sink.messages.filter((m) => m.envelope.rcptTo.includes(email));

async function deliveriesOf(subscriberId: string) {
  return t.sql(
    `SELECT d.id, d.kind, d.status, d.reason, d.attempts, (SELECT count(*)::int FROM marketing_sends m WHERE m.delivery_id = d.id) AS hand_overs
     FROM deliveries d WHERE d.subscriber_id = $1 ORDER BY d.id`,
    [subscriberId],
  );
}

describe('a marketing mail held back at hand-over', () => {
  it('a campaign mail for a paused domain waits with its window held, then goes once when the pause ends', async () => {
    const ids = await importConfirmed(t, [
      { email: 'first@blocking.example', locale: 'de', topics: ['fairs'] },
      { email: 'second@blocking.example', locale: 'de', topics: ['offers', 'later'] },
    ]);
    sink.fault((ctx) => (ctx.rcpt?.endsWith('@blocking.example') ? { kind: 'reject-rcpt', code: 554, message: '5.7.1 blocked using zen.spamhaus.org' } : undefined));
    // The first campaign meets the policy block and pauses the domain ...
    const fairs = await createCampaign(t, { name: 'fairs', topic: 'fairs' });
    await t.api('POST', `/v1/campaigns/${fairs}/schedule`, { body: {} });
    await tick();
    const [pause] = await t.sql(`SELECT paused_until FROM domain_pauses WHERE domain = 'blocking.example'`);
    expect(pause.paused_until).toEqual(new Date(clock.now().getTime() + 60 * MINUTE));
    // ... so the second, for another subscriber of that domain, is held without being tried.
    const offers = await createCampaign(t, { name: 'offers', topic: 'offers' });
    await t.api('POST', `/v1/campaigns/${offers}/schedule`, { body: {} });
    await tick();
    const second = ids.get('second@blocking.example')!;
    expect(await deliveriesOf(second)).toEqual([expect.objectContaining({ kind: 'campaign', status: 'queued', reason: 'domain_paused', attempts: 0, hand_overs: 0 })]);
    // Its window stays held meanwhile: a third campaign to the same subscriber is deferred.
    const later = await createCampaign(t, { name: 'later', topic: 'later' });
    await t.api('POST', `/v1/campaigns/${later}/schedule`, { body: {} });
    await tick();
    const [laterRow] = await t.sql(`SELECT status, reason FROM deliveries WHERE subscriber_id = $1 AND ref_id = $2`, [second, later]);
    expect(laterRow).toEqual({ status: 'deferred', reason: 'deferred_cadence' });

    sink.fault(undefined);
    clock.advance(61 * MINUTE);
    await tick();
    expect(received('first@blocking.example')).toHaveLength(1);
    expect(received('second@blocking.example')).toHaveLength(1);
    const [offersRow] = await t.sql(`SELECT d.status, d.attempts, count(m.*)::int AS hand_overs FROM deliveries d LEFT JOIN marketing_sends m ON m.delivery_id = d.id
                                     WHERE d.subscriber_id = $1 AND d.ref_id = $2 GROUP BY d.id`, [second, offers]);
    expect(offersRow).toEqual({ status: 'sent', attempts: 1, hand_overs: 1 });
  });

  it('a digest answered 451 is retried with its entries and window, and goes once', async () => {
    const ids = await importConfirmed(t, [{ email: 'reader@example.de', locale: 'de', topics: ['news'], digestWeekday: 1, digestHour: 9 }]);
    const reader = ids.get('reader@example.de')!;
    clock.set(new Date('2026-03-08T10:00:00Z'));
    const item = await t.api('POST', '/v1/digest-items', { body: { topic: 'news', title: { de: 'Messe verschoben', en: 'Fair moved' } } });
    expect(item.status).toBe(201);
    // Monday 9 March, 09:00 in Berlin: the digest is due; the relay answers 451.
    clock.set(new Date('2026-03-09T08:00:00Z'));
    sink.fault((ctx) => (ctx.rcpt === 'reader@example.de' ? { kind: 'reject-rcpt', code: 451, message: '4.7.1 Try again later' } : undefined));
    await tick();
    expect(await deliveriesOf(reader)).toEqual([expect.objectContaining({ kind: 'digest', status: 'queued', attempts: 1, hand_overs: 0 })]);
    expect(received('reader@example.de')).toHaveLength(0);

    sink.fault(undefined);
    clock.advance(10 * MINUTE);
    await tick();
    const mails = received('reader@example.de');
    expect(mails).toHaveLength(1);
    expect(mails[0].parsed.text).toContain('Messe verschoben');
    expect(await deliveriesOf(reader)).toEqual([expect.objectContaining({ kind: 'digest', status: 'sent', attempts: 2, hand_overs: 1 })]);
    const [{ unsettled }] = await t.sql(`SELECT count(*)::int AS unsettled FROM deliveries WHERE status IN ('sending', 'unknown')`);
    expect(unsettled).toBe(0);
  });

  it('a campaign mail whose answer was lost keeps its hand-over record and window, and its resend counts as the same hand-over', async () => {
    const ids = await importConfirmed(t, [{ email: 'lost@example.org', locale: 'en', topics: ['tips', 'deals'] }]);
    const lost = ids.get('lost@example.org')!;
    clock.set(new Date('2026-03-17T09:00:00Z'));
    let cuts = 0;
    sink.fault((ctx) => (ctx.rcpt === 'lost@example.org' && cuts++ === 0 ? { kind: 'cut-after-data' } : undefined));
    const tips = await createCampaign(t, { name: 'tips', topic: 'tips' });
    await t.api('POST', `/v1/campaigns/${tips}/schedule`, { body: {} });
    await tick();
    // The whole message went out, the answer never came: it may have arrived.
    expect(await deliveriesOf(lost)).toEqual([expect.objectContaining({ kind: 'campaign', status: 'queued', reason: 'unknown_outcome', hand_overs: 1 })]);
    // Meanwhile the window stays taken: another campaign to the same customer waits for the digest.
    const deals = await createCampaign(t, { name: 'deals', topic: 'deals' });
    await t.api('POST', `/v1/campaigns/${deals}/schedule`, { body: {} });
    await tick();
    const [dealsRow] = await t.sql(`SELECT status, reason FROM deliveries WHERE subscriber_id = $1 AND ref_id = $2`, [lost, deals]);
    expect(dealsRow).toEqual({ status: 'deferred', reason: 'deferred_cadence' });

    // The resend (same Message-ID) goes, and is the same hand-over, not a second one.
    clock.advance(2 * MINUTE);
    await tick();
    // (The sink keeps only the messages it answered: the cut one is not among them.)
    const mails = received('lost@example.org');
    expect(mails).toHaveLength(1);
    const [tipsRow] = await t.sql(
      `SELECT d.status, d.message_id, d.unknown_outcomes, count(m.*)::int AS hand_overs FROM deliveries d LEFT JOIN marketing_sends m ON m.delivery_id = d.id
       WHERE d.subscriber_id = $1 AND d.ref_id = $2 GROUP BY d.id`,
      [lost, tips],
    );
    expect(tipsRow).toEqual({ status: 'sent', message_id: mails[0].parsed.messageId, unknown_outcomes: 1, hand_overs: 1 });
  });

  it('a mail reserved under a weekly cadence is held at hand-over when the customer has since chosen every two weeks', async () => {
    const ids = await importConfirmed(t, [{ email: 'switch@example.de', locale: 'de', topics: ['garden'] }]);
    const customer = ids.get('switch@example.de')!;
    clock.set(new Date('2026-04-06T08:00:00Z')); // Monday, 10:00 in Berlin
    const first = await createCampaign(t, { name: 'garden 1', topic: 'garden' });
    await t.api('POST', `/v1/campaigns/${first}/schedule`, { body: {} });
    await tick();
    expect(received('switch@example.de')).toHaveLength(1);

    // A week and an hour later the next one is decided (the weekly window is over) and queued ...
    clock.advance(7 * 24 * 60 * MINUTE + 60 * MINUTE);
    const second = await createCampaign(t, { name: 'garden 2', topic: 'garden' });
    await t.api('POST', `/v1/campaigns/${second}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    const [queued] = await t.sql(`SELECT status FROM deliveries WHERE subscriber_id = $1 AND ref_id = $2`, [customer, second]);
    expect(queued.status).toBe('queued');
    // ... and before it goes, the customer asks for mail every two weeks.
    const patched = await t.api('PATCH', `/v1/subscribers/${customer}`, { body: { cadence: 'biweekly' } });
    expect(patched.status).toBe(200);
    await t.app.get(DeliveryWorker).drain();

    expect(received('switch@example.de')).toHaveLength(1);
    const [held] = await t.sql(`SELECT status, reason FROM deliveries WHERE subscriber_id = $1 AND ref_id = $2`, [customer, second]);
    expect(held).toEqual({ status: 'deferred', reason: 'deferred_cadence' });
    const [{ n }] = await t.sql(`SELECT count(*)::int AS n FROM marketing_sends WHERE subscriber_id = $1`, [customer]);
    expect(n).toBe(1);
  });
  it('a digest that loses its hand-over to another marketing mail is deferred like a campaign mail, and the next slot’s digest carries its news and supersedes it', async () => {
    const ids = await importConfirmed(t, [{ email: 'crowded@example.de', locale: 'de', topics: ['seeds'], digestWeekday: 1, digestHour: 9 }]);
    const reader = ids.get('crowded@example.de')!;
    clock.set(new Date('2026-05-03T10:00:00Z'));
    const item = await t.api('POST', '/v1/digest-items', { body: { topic: 'seeds', title: { de: 'Saatgut ist da', en: 'Seeds are in' } } });
    expect(item.status).toBe(201);
    // Monday 4 May, 09:00 in Berlin: the digest is composed and holds the window ...
    clock.set(new Date('2026-05-04T07:00:00Z'));
    await t.app.get(DigestsService).composeDue();
    const [digest] = await t.sql(`SELECT id, status, next_attempt_at FROM deliveries WHERE subscriber_id = $1 AND kind = 'digest'`, [reader]);
    expect(digest.status).toBe('queued');
    // (Its slot lay weeks back, so the catch-up spread dates it a few minutes on.)
    clock.set(digest.next_attempt_at);
    // ... but another marketing mail reached the customer an hour ago (one that got past the
    // reservation): the exclusion constraint refuses the digest's hand-over record.
    const [other] = await t.sql(
      `INSERT INTO deliveries (subscriber_id, class, kind, locale, status, reason, idempotency_key, next_attempt_at, created_at, updated_at, sent_at)
       VALUES ($1, 'marketing', 'campaign', 'de', 'sent', 'sent', 'elsewhere:' || $1::uuid::text, $2, $2, $2, $2) RETURNING id`,
      [reader, new Date(clock.now().getTime() - 60 * MINUTE)],
    );
    await t.sql(`INSERT INTO marketing_sends (subscriber_id, delivery_id, during) VALUES ($1, $2, tstzrange($3, $3::timestamptz + interval '7 days'))`, [
      reader,
      other.id,
      new Date(clock.now().getTime() - 60 * MINUTE),
    ]);
    await t.app.get(DeliveryWorker).drain();
    expect(received('crowded@example.de')).toHaveLength(0);
    const [lost] = await t.sql(
      `SELECT d.status, d.reason, d.next_attempt_at, (SELECT count(*)::int FROM digest_entries e WHERE e.delivery_id = d.id) AS entries
       FROM deliveries d WHERE d.id = $1`,
      [digest.id],
    );
    // The same shape as a campaign mail that lost its hand-over: deferred into the next digest.
    expect(lost).toEqual({ status: 'deferred', reason: 'deferred_cadence', next_attempt_at: new Date('2026-05-11T07:00:00Z'), entries: 0 });

    clock.set(new Date('2026-05-11T07:00:00Z'));
    await tick();
    const mails = received('crowded@example.de');
    expect(mails).toHaveLength(1);
    expect(mails[0].parsed.text).toContain('Saatgut ist da');
    const rows = await t.sql(`SELECT id, status, reason FROM deliveries WHERE subscriber_id = $1 AND kind = 'digest' ORDER BY id`, [reader]);
    expect(rows.map((r) => `${r.status}:${r.reason}`)).toEqual(['suppressed:superseded', 'sent:sent']);
  });
});
