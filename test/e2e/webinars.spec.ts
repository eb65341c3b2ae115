// Webinars as marketer and customer meet them: invitations under the cadence cap, registration,
// calendar files (parsed with node-ical), bounded reminders, unregistering, follow-ups, series.
// Real HTTP, real SMTP sink, real PostgreSQL, virtual time.
import * as ical from 'node-ical';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { DigestsService } from '../../src/digests/digests.service';
import { WebinarRegistrationsService } from '../../src/webinars/webinar-registrations.service';
import { startTestApp, TestApp } from '../support/app';
import { checkedCalendars } from '../support/calendar';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SinkMessage, SmtpSink, startSmtpSink } from '../support/smtp-sink';

let t: TestApp;
let sink: SmtpSink;
const clock = new FakeClock('2026-03-02T09:00:00Z'); // Monday, 10:00 in Berlin

const received = (email: string) => sink.messages.filter((m) => m.envelope.rcptTo.includes(email));
const drain = () => t.app.get(DeliveryWorker).drain();
const remind = () => t.app.get(WebinarRegistrationsService).sendDueReminders();

/** The calendar part of a mail, parsed by two independent parsers: ical.js (Thunderbird's, every part judged) and node-ical. */
function calendarOf(mail: SinkMessage): { method: string; uid: string; sequence: number; start: Date; status: string } {
  checkedCalendars(mail);
  const part = mail.parsed.attachments.find((a) => a.contentType.startsWith('text/calendar'));
  if (!part) throw new Error(`no calendar in "${mail.parsed.subject}"`);
  const parsed = ical.sync.parseICS(part.content.toString('utf8'));
  const event = Object.values(parsed).find((c) => c?.type === 'VEVENT') as any;
  return { method: (parsed as any).vcalendar.method, uid: event.uid, sequence: Number(event.sequence), start: new Date(event.start), status: event.status };
}

async function createWebinar(body: Record<string, unknown>): Promise<any> {
  const res = await t.api('POST', '/v1/webinars', {
    body: {
      title: { de: 'Zahlungsziele richtig nutzen', en: 'Making the most of payment terms' },
      description: { de: 'Was 60 Tage Zahlungsziel für Ihre Liquidität bedeuten.', en: 'What 60 days of payment terms mean for your cash flow.' },
      joinUrl: 'https://meet.example.com/j/42?pwd=x&lang=de',
      ...body,
    },
  });
  if (res.status !== 201) throw new Error(`webinar: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function register(webinarId: string, body: Record<string, unknown>) {
  return t.api('POST', `/v1/webinars/${webinarId}/registrations`, { body });
}

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
  await createTopics(t, ['payment-terms', 'events', 'fairs', 'follow-ups', 'liquidity']);
});
afterAll(async () => {
  await t.close();
  await sink.close();
});

describe('invitations are campaigns under the cadence cap', () => {
  it('folds an invitation into the next digest when the window is taken, with the registration link', async () => {
    // Digest slot Thursdays 09:00; the campaign below holds the window until Monday 9 March 10:00,
    // so the next digest goes at the slot hour of the first free day: Tuesday 10 March 09:00 Berlin.
    const ids = await importConfirmed(t, [{ email: 'bob@example.com', locale: 'en', topics: ['events'], digestWeekday: 4, digestHour: 9 }]);
    const campaign = await createCampaign(t, { name: 'news', topic: 'events' });
    await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    await drain();
    expect(received('bob@example.com')).toHaveLength(1);

    const webinar = await createWebinar({ slug: 'events-q1', topic: 'events', startsAt: '2026-03-20T09:00:00Z', endsAt: '2026-03-20T10:00:00Z', invitation: {} });
    expect(webinar.invitationCampaignId).toEqual(expect.any(String));
    await t.app.get(CampaignDispatchService).dispatchDue();
    await drain();
    expect(received('bob@example.com')).toHaveLength(1);
    const stats = await t.api('GET', `/v1/campaigns/${webinar.invitationCampaignId}/stats`);
    expect(stats.body.byReason).toEqual({ deferred_cadence: 1 });
    const timeline = await t.api('GET', `/v1/subscribers/${ids.get('bob@example.com')}/timeline`);
    const deferred = timeline.body.items.find((i: any) => i.refId === webinar.invitationCampaignId);
    expect(deferred).toMatchObject({ status: 'deferred', reason: 'deferred_cadence', nextAttemptAt: '2026-03-10T08:00:00.000Z' });

    // The digest job ticks at Bob's regular slot (window still taken: postponed) and again on the first free day.
    clock.set('2026-03-05T08:00:30Z');
    expect((await t.app.get(DigestsService).composeDue()).postponed).toBe(1);
    clock.set('2026-03-10T08:00:30Z');
    expect((await t.app.get(DigestsService).composeDue()).composed).toBe(1);
    await drain();
    const [, digest] = received('bob@example.com');
    expect(digest.parsed.subject).not.toBe('Webinar invitation: Making the most of payment terms');
    expect(digest.parsed.text).toContain('Webinar invitation: Making the most of payment terms');
    expect(digest.parsed.text).toContain('Friday, 20 March 2026, 10:00–11:00 (Europe/Berlin)');
    expect(digest.parsed.html).toContain('href="http://tactful.test/webinars/events-q1/register"');
    expect((await t.api('GET', `/v1/campaigns/${webinar.invitationCampaignId}/stats`)).body.byStatus).toEqual({ sent: 1 });
  });

  it('expires, with its reason, an invitation to a webinar that starts before the next digest', async () => {
    clock.set('2026-03-02T09:00:00Z');
    const ids = await importConfirmed(t, [{ email: 'carl@example.com', locale: 'en', topics: ['fairs'], digestWeekday: 4, digestHour: 9 }]);
    const campaign = await createCampaign(t, { name: 'fair news', topic: 'fairs' });
    await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();

    // Thursday 5 March: before Carl's next digest (Tuesday 10 March).
    const webinar = await createWebinar({ slug: 'fair-briefing', topic: 'fairs', startsAt: '2026-03-05T09:00:00Z', endsAt: '2026-03-05T10:00:00Z', invitation: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    await drain();
    expect(received('carl@example.com').map((m) => m.parsed.subject)).toEqual(['News']);
    const stats = await t.api('GET', `/v1/campaigns/${webinar.invitationCampaignId}/stats`);
    expect(stats.body.byReason).toEqual({ expired: 1 });
    const timeline = await t.api('GET', `/v1/subscribers/${ids.get('carl@example.com')}/timeline`);
    expect(timeline.body.items.find((i: any) => i.refId === webinar.invitationCampaignId)).toMatchObject({ status: 'expired', reason: 'expired' });
  });
});

describe('a registration through reschedule and cancellation', () => {
  it('sends confirmation (SEQUENCE 0), update (1) and cancel (2) under one UID, moves the reminder, and reminds no more after the cancel', async () => {
    clock.set('2026-03-02T09:00:00Z');
    await importConfirmed(t, [{ email: 'anna@example.de', locale: 'de', topics: ['payment-terms'] }]);
    const webinar = await createWebinar({ slug: 'zahlungsziele', topic: 'payment-terms', startsAt: '2026-03-10T09:00:00Z', endsAt: '2026-03-10T10:00:00Z' });

    const registered = await register(webinar.id, { email: 'Anna@Example.de' });
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({ email: 'anna@example.de', status: 'registered', sequence: 0, nextReminderAt: '2026-03-09T09:00:00.000Z' });
    await drain();
    const [confirmation] = received('anna@example.de');
    expect(confirmation.parsed.subject).toBe('Anmeldung bestätigt: Zahlungsziele richtig nutzen');
    expect(confirmation.parsed.text).toContain('Dienstag, 10. März 2026, 10:00–11:00 Uhr (Europe/Berlin)');
    expect(confirmation.raw).toMatch(/Content-Type: text\/calendar; charset=utf-8; method=REQUEST/i);
    expect(confirmation.raw).not.toMatch(/application\/ics/i);
    expect(checkedCalendars(confirmation).map((c) => c.partstat)).toEqual(['NEEDS-ACTION', 'NEEDS-ACTION']);
    const first = calendarOf(confirmation);
    expect(first).toMatchObject({ method: 'REQUEST', sequence: 0, status: 'CONFIRMED', start: new Date('2026-03-10T09:00:00Z') });

    const moved = await t.api('PATCH', `/v1/webinars/${webinar.id}`, { body: { startsAt: '2026-03-12T09:00:00Z', endsAt: '2026-03-12T10:00:00Z' } });
    expect(moved.status).toBe(200);
    await drain();
    const update = received('anna@example.de')[1];
    expect(update.parsed.subject).toBe('Geändert: Zahlungsziele richtig nutzen – Donnerstag, 12. März 2026, 10:00–11:00 Uhr (Europe/Berlin)');
    expect(calendarOf(update)).toMatchObject({ method: 'REQUEST', uid: first.uid, sequence: 1, start: new Date('2026-03-12T09:00:00Z') });
    const [registration] = (await t.api('GET', `/v1/webinars/${webinar.id}/registrations`)).body;
    expect(registration).toMatchObject({ sequence: 1, nextReminderAt: '2026-03-11T09:00:00.000Z' });

    // The reminder of the old date does not go; the one of the new date does, with the unregister link.
    clock.set('2026-03-09T09:05:00Z');
    expect(await remind()).toBe(0);
    clock.set('2026-03-11T09:00:30Z');
    expect(await remind()).toBe(1);
    await drain();
    const reminder = received('anna@example.de')[2];
    expect(reminder.parsed.subject).toMatch(/^Erinnerung: Zahlungsziele richtig nutzen/);
    expect(reminder.parsed.text).toMatch(/http:\/\/tactful\.test\/webinars\/unregister\/[\w.-]+/);
    expect(reminder.parsed.attachments.filter((a) => a.contentType.startsWith('text/calendar'))).toHaveLength(0);

    const cancelled = await t.api('POST', `/v1/webinars/${webinar.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelledRegistrations: 1 });
    await drain();
    const cancel = received('anna@example.de')[3];
    expect(cancel.parsed.subject).toBe('Abgesagt: Zahlungsziele richtig nutzen');
    expect(calendarOf(cancel)).toMatchObject({ method: 'CANCEL', uid: first.uid, sequence: 2, status: 'CANCELLED' });
    expect(checkedCalendars(cancel).map((c) => c.partstat)).toEqual([null, null]);

    clock.set('2026-03-12T08:00:30Z'); // the hour-before slot
    expect(await remind()).toBe(0);
    await drain();
    clock.set('2026-03-12T09:30:00Z');
    expect(await remind()).toBe(0);
    await drain();
    expect(received('anna@example.de').map((m) => m.parsed.subject?.split(':')[0])).toEqual(['Anmeldung bestätigt', 'Geändert', 'Erinnerung', 'Abgesagt']);
    const reminders = await t.sql(`SELECT count(*)::int AS n FROM deliveries WHERE kind = 'webinar_reminder' AND ref_id = $1`, [registration.id]);
    expect(reminders[0].n).toBe(1);
    const again = await register(webinar.id, { email: 'late@example.de' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'conflict', reason: 'cancelled' });
  });
});

describe('registration', () => {
  let webinar: any;
  beforeAll(async () => {
    clock.set('2026-03-20T09:00:00Z');
    webinar = await createWebinar({ slug: 'small-room', topic: 'payment-terms', startsAt: '2026-04-01T09:00:00Z', endsAt: '2026-04-01T10:00:00Z', capacity: 2 });
  });

  it('makes an unknown address a pending subscriber with no topic consent, and says so when it registers twice', async () => {
    const first = await register(webinar.id, { email: 'new@example.de', locale: 'en', timeZone: 'America/New_York', firstName: 'Nina' });
    expect(first.status).toBe(201);
    const [subscriber] = await t.sql(`SELECT id, status, source, locale, time_zone, attributes FROM subscribers WHERE email = 'new@example.de'`);
    expect(subscriber).toMatchObject({ status: 'pending', source: 'webinar', locale: 'en', time_zone: 'America/New_York', attributes: { firstName: 'Nina' } });
    expect(await t.sql(`SELECT * FROM topic_subscriptions WHERE subscriber_id = $1`, [subscriber.id])).toEqual([]);

    const twice = await register(webinar.id, { email: 'new@example.de' });
    expect(twice.status).toBe(409);
    expect(twice.body).toMatchObject({ code: 'conflict', reason: 'duplicate', registrationId: first.body.id, errors: [{ field: 'email', message: 'is registered already' }] });
    await drain();
    const mails = received('new@example.de');
    expect(mails).toHaveLength(1);
    // In the customer's own language and time zone; no double opt-in mail for a newsletter they never asked for.
    expect(mails[0].parsed.subject).toBe('Registration confirmed: Making the most of payment terms');
    expect(mails[0].parsed.text).toContain('Wednesday, 1 April 2026, 05:00–06:00 (America/New_York)');
    expect(mails[0].raw).not.toMatch(/^List-Unsubscribe:/m);
  });

  it('links a known subscriber, and turns the next one away when the webinar is full, storing nothing for them', async () => {
    await importConfirmed(t, [{ email: 'known@example.de', topics: ['payment-terms'] }]);
    const known = await register(webinar.id, { email: 'known@example.de' });
    expect(known.status).toBe(201);
    const [subscriber] = await t.sql(`SELECT id, status FROM subscribers WHERE email = 'known@example.de'`);
    expect(known.body.subscriberId).toBe(subscriber.id);
    expect(subscriber.status).toBe('active');

    const full = await register(webinar.id, { email: 'third@example.de' });
    expect(full.status).toBe(409);
    expect(full.body).toMatchObject({ reason: 'full', detail: 'The webinar is fully booked' });
    expect(await t.sql(`SELECT 1 FROM subscribers WHERE email = 'third@example.de'`)).toEqual([]);
    expect((await t.api('GET', `/v1/webinars/${webinar.id}`)).body).toMatchObject({ capacity: 2, registered: 2 });
  });

  it('rejects bad input with a problem naming each field, and stores nothing', async () => {
    const before = (await t.sql(`SELECT count(*)::int AS n FROM webinars`))[0].n;
    const bad = await t.api('POST', '/v1/webinars', {
      body: { topic: 'payment-terms', title: {}, startsAt: '2026-03-01T09:00:00Z', endsAt: '2026-02-28T09:00:00Z', joinUrl: 'https://x.example', part: 2, reminderMinutes: [1, 2, 3] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.field).sort()).toEqual(['reminderMinutes']);
    const worse = await t.api('POST', '/v1/webinars', {
      body: { topic: 'payment-terms', title: {}, startsAt: '2026-03-01T09:00:00Z', endsAt: '2026-02-28T09:00:00Z', joinUrl: 'https://x.example', part: 2 },
    });
    expect(worse.status).toBe(400);
    expect(worse.body.errors.map((e: any) => e.field).sort()).toEqual(['endsAt', 'series', 'startsAt', 'title']);
    const email = await register(webinar.id, { email: 'not-an-address' });
    expect(email.status).toBe(400);
    expect(email.body.errors).toEqual([{ field: 'email', message: 'must be a valid e-mail address' }]);
    expect((await t.sql(`SELECT count(*)::int AS n FROM webinars`))[0].n).toBe(before);
  });

  it('unregisters through the link in the mail: GET only asks, POST ends it with a CANCEL, and no reminder follows', async () => {
    await drain();
    const [confirmation] = received('known@example.de');
    const link = /http:\/\/tactful\.test(\/webinars\/unregister\/[\w.-]+)/.exec(confirmation.parsed.text ?? '')![1];
    const page = await fetch(t.baseUrl + link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post"');
    expect((await t.sql(`SELECT r.status FROM webinar_registrations r JOIN subscribers s ON s.id = r.subscriber_id WHERE s.email = 'known@example.de'`))[0].status).toBe('registered');

    const done = await fetch(t.baseUrl + link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Sie sind abgemeldet');
    await drain();
    const cancel = received('known@example.de')[1];
    expect(cancel.parsed.subject).toBe('Abgemeldet: Zahlungsziele richtig nutzen');
    expect(calendarOf(cancel)).toMatchObject({ method: 'CANCEL', uid: calendarOf(confirmation).uid, sequence: 1 });

    clock.set('2026-03-31T09:00:30Z');
    await remind();
    await drain();
    expect(received('known@example.de')).toHaveLength(2);
    expect(received('new@example.de').map((m) => m.parsed.subject)).toContain('Reminder: Making the most of payment terms – Wednesday, 1 April 2026, 05:00–06:00 (America/New_York)');
    // The seat is free again.
    expect((await register(webinar.id, { email: 'third@example.de' })).status).toBe(201);
  });
});

describe('the public registration page over HTTP', () => {
  it('shows the form on GET without changing anything, and refuses a POST without the form cookie (CSRF)', async () => {
    clock.set('2026-04-02T09:00:00Z');
    await createWebinar({ slug: 'open-house', topic: 'events', startsAt: '2026-04-20T09:00:00Z', endsAt: '2026-04-20T10:00:00Z' });
    const page = await fetch(`${t.baseUrl}/webinars/open-house/register?lang=en`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<label for="email">Email address</label>');
    expect(page.headers.get('set-cookie')).toMatch(/^tactful_form=[\w-]{22}; Path=\/webinars; Max-Age=86400; HttpOnly; SameSite=Strict$/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1];

    const forged = await fetch(`${t.baseUrl}/webinars/open-house/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, lang: 'en', email: 'victim@example.de', timeZone: 'Europe/Berlin' }).toString(),
    });
    expect(forged.status).toBe(403);
    expect(await t.sql(`SELECT 1 FROM subscribers WHERE email = 'victim@example.de'`)).toEqual([]);
    expect((await fetch(`${t.baseUrl}/webinars/no-such-webinar/register`)).status).toBe(404);
  });

  it('never gives a webinar the slug "unregister", whose page path belongs to the unregister page', async () => {
    const refused = await t.api('POST', '/v1/webinars', {
      body: { slug: 'unregister', topic: 'events', title: { en: 'Unregister' }, startsAt: '2026-04-21T09:00:00Z', endsAt: '2026-04-21T10:00:00Z', joinUrl: 'https://meet.example.com/u' },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ field: 'slug', message: 'is reserved: /webinars/unregister/… is the unregister page' }]);
    // A title that would make that slug gets the next free one, and its page is its own.
    const derived = await createWebinar({ title: { en: 'Unregister' }, topic: 'events', startsAt: '2026-04-21T09:00:00Z', endsAt: '2026-04-21T10:00:00Z' });
    expect(derived.slug).toBe('unregister-2');
    expect((await fetch(`${t.baseUrl}/webinars/${derived.slug}/register?lang=en`)).status).toBe(200);
  });
});

describe('follow-ups by attendance', () => {
  it('sends the recording to attendees and "you missed it" to no-shows, as marketing under the cap, and nothing to those without topic consent', async () => {
    clock.set('2026-04-06T08:00:00Z');
    await importConfirmed(t, [
      { email: 'dora@example.com', locale: 'en', topics: ['follow-ups'] },
      { email: 'emil@example.com', locale: 'en', topics: ['follow-ups'] },
    ]);
    const webinar = await createWebinar({ slug: 'follow-up-demo', topic: 'follow-ups', startsAt: '2026-04-07T09:00:00Z', endsAt: '2026-04-07T10:00:00Z' });
    for (const email of ['dora@example.com', 'emil@example.com', 'frida@example.com']) expect((await register(webinar.id, { email })).status).toBe(201);
    await drain();
    sink.clear();

    const early = await t.api('POST', `/v1/webinars/${webinar.id}/attendance`, { body: { attended: [], recordingUrl: 'https://video.example.com/r/1' } });
    expect(early.status).toBe(409);

    clock.set('2026-04-07T11:00:00Z');
    const imported = await t.api('POST', `/v1/webinars/${webinar.id}/attendance`, {
      body: { attended: ['DORA@example.com', 'frida@example.com', 'ghost@example.com'], recordingUrl: 'https://video.example.com/r/1' },
    });
    expect(imported.status).toBe(200);
    expect(imported.body).toMatchObject({ attended: 2, missed: 1, notRegistered: ['ghost@example.com'] });
    await t.app.get(CampaignDispatchService).dispatchDue();
    await drain();

    const [recording] = received('dora@example.com');
    expect(recording.parsed.subject).toBe('Thank you for joining: Making the most of payment terms');
    expect(recording.parsed.html).toContain('href="https://video.example.com/r/1"');
    expect(recording.raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click/m);
    const [missed] = received('emil@example.com');
    expect(missed.parsed.subject).toBe('You missed it – here is the recording: Making the most of payment terms');
    expect(received('frida@example.com')).toEqual([]);
    // Every confirmed subscriber of the topic gets a decision: the other group is outside the audience.
    expect((await t.api('GET', `/v1/campaigns/${imported.body.attendedCampaignId}/stats`)).body.byReason).toEqual({ sent: 1, suppressed_audience: 1 });
    expect((await t.api('GET', `/v1/campaigns/${imported.body.missedCampaignId}/stats`)).body.byReason).toEqual({ sent: 1, suppressed_audience: 1 });

    // A second import changes the marks but never creates the follow-ups twice.
    const again = await t.api('POST', `/v1/webinars/${webinar.id}/attendance`, { body: { attended: ['dora@example.com'] } });
    expect(again.body).toMatchObject({ attended: 1, missed: 2, attendedCampaignId: imported.body.attendedCampaignId, missedCampaignId: imported.body.missedCampaignId });
  });
});

describe('series', () => {
  it('registers a series registrant for each part as it is published', async () => {
    clock.set('2026-04-10T08:00:00Z');
    const noTitle = await t.api('POST', '/v1/webinars', {
      body: { topic: 'liquidity', title: { en: 'x' }, startsAt: '2026-04-20T09:00:00Z', endsAt: '2026-04-20T10:00:00Z', joinUrl: 'https://meet.example.com/1', series: { key: 'cash' }, part: 1 },
    });
    expect(noTitle.status).toBe(400);
    expect(noTitle.body.errors).toEqual([{ field: 'series.title', message: 'is required: series "cash" is new' }]);

    const series = { key: 'cash', title: { de: 'Liquidität', en: 'Cash flow' } };
    const one = await createWebinar({ topic: 'liquidity', title: { de: 'Teil eins', en: 'Part one' }, startsAt: '2026-04-20T09:00:00Z', endsAt: '2026-04-20T10:00:00Z', series, part: 1 });
    expect(one.slug).toBe('part-one');
    expect((await register(one.id, { email: 'hans@example.de', series: true })).body.series).toEqual([]);

    const two = await createWebinar({ topic: 'liquidity', title: { de: 'Teil zwei', en: 'Part two' }, startsAt: '2026-04-27T09:00:00Z', endsAt: '2026-04-27T10:00:00Z', series: { key: 'cash' }, part: 2 });
    expect(two).toMatchObject({ series: { key: 'cash', part: 2 }, registered: 1 });
    const [registration] = (await t.api('GET', `/v1/webinars/${two.id}/registrations`)).body;
    expect(registration).toMatchObject({ email: 'hans@example.de', source: 'series', status: 'registered' });
    const duplicatePart = await t.api('POST', '/v1/webinars', {
      body: { topic: 'liquidity', title: { en: 'Again' }, startsAt: '2026-05-04T09:00:00Z', endsAt: '2026-05-04T10:00:00Z', joinUrl: 'https://meet.example.com/1', series: { key: 'cash' }, part: 2 },
    });
    expect(duplicatePart.status).toBe(409);
    expect(duplicatePart.body.errors).toEqual([{ field: 'part', message: 'is taken in this series' }]);

    await drain();
    // Sent in parallel lanes: order by subject.
    const mails = received('hans@example.de').sort((a, b) => (a.parsed.subject ?? '').localeCompare(b.parsed.subject ?? ''));
    expect(mails.map((m) => m.parsed.subject)).toEqual(['Anmeldung bestätigt: Teil eins', 'Anmeldung bestätigt: Teil zwei']);
    expect(mails[1].parsed.text).toContain('Teil 2 der Reihe „Liquidität“');
    expect(calendarOf(mails[0]).uid).not.toBe(calendarOf(mails[1]).uid);
  });
});
