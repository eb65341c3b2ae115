// The public webinar form asks the address's owner first (double opt-in), and its answer tells
// nobody anything about an address: real HTTP (form cookie and CSRF field as a browser sends
// them), the real outbox, worker and SMTP sink, real PostgreSQL, a fake clock. Client addresses
// come through X-Forwarded-For from a trusted proxy (TRUST_PROXY), so each test has its own.
import * as ical from 'node-ical';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { TokenService } from '../../src/links/tokens';
import { emailHash } from '../../src/addresses/email';
import { WebinarRegistrationsService } from '../../src/webinars/webinar-registrations.service';
import { startTestApp, TestApp } from '../support/app';
import { createTopics, importConfirmed } from '../support/seed';
import { SinkMessage, SmtpSink, startSmtpSink } from '../support/smtp-sink';

let t: TestApp;
let sink: SmtpSink;
const clock = new FakeClock('2026-03-02T09:00:00Z');
const HOUR = 3_600_000;

const drain = () => t.app.get(DeliveryWorker).drain();
const received = (email: string) => sink.messages.filter((m) => m.envelope.rcptTo.includes(email));
/** The worker's Feedback-ID header is "<refId>:<kind>:<class>:tactful" (unfolded first). */
const kindOf = (m: SinkMessage) => /^Feedback-ID: [^:]*:([^:]+):/m.exec(m.raw.split('\r\n\r\n')[0].replace(/\r\n[ \t]+/g, ' '))?.[1];
const confirmMails = (email: string) => received(email).filter((m) => kindOf(m) === 'webinar_registration_confirm');
const webinarMails = (email: string) => received(email).filter((m) => kindOf(m) === 'webinar_confirmation');
const local = (url: string) => url.replace('http://tactful.test', t.baseUrl);

let ipSeq = 0;
/** A client address of its own (IPv4 from 198.51.100.0/24, the documentation range). */
const newClient = () => `198.51.100.${++ipSeq}`;

async function createWebinar(slug: string, extra: Record<string, unknown> = {}): Promise<{ id: string; slug: string }> {
  const res = await t.api('POST', '/v1/webinars', {
    body: {
      slug,
      topic: 'events',
      title: { de: 'Zahlungsziele richtig nutzen', en: 'Making the most of payment terms' },
      description: { de: 'Was 60 Tage Zahlungsziel bedeuten.', en: 'What 60 days of payment terms mean.' },
      joinUrl: 'https://meet.example.com/j/42',
      startsAt: '2026-04-01T09:00:00Z',
      endsAt: '2026-04-01T10:00:00Z',
      ...extra,
    },
  });
  if (res.status !== 201) throw new Error(`webinar: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The form page as a browser opens it, from one client address: its cookie, CSRF field and personal token. */
async function openForm(slug: string, client = newClient(), query = '') {
  const page = await fetch(`${t.baseUrl}/webinars/${slug}/register?lang=en${query}`, { headers: { 'x-forwarded-for': client } });
  const html = await page.text();
  return {
    client,
    html,
    cookie: page.headers.get('set-cookie')!.split(';')[0],
    csrf: /name="csrf" value="([^"]+)"/.exec(html)![1],
    personal: /name="t" value="([^"]+)"/.exec(html)?.[1],
  };
}

async function postForm(slug: string, form: Awaited<ReturnType<typeof openForm>>, fields: Record<string, string>) {
  const body = new URLSearchParams({ csrf: form.csrf, lang: 'en', timeZone: 'Europe/Berlin', ...(form.personal ? { t: form.personal } : {}), ...fields });
  const res = await fetch(`${t.baseUrl}/webinars/${slug}/register`, {
    method: 'POST',
    headers: { 'x-forwarded-for': form.client, cookie: form.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
  });
  return { status: res.status, html: await res.text(), form: form.html };
}

/** The form as a browser fills it in: GET, then POST, from one client address. */
async function submit(slug: string, fields: Record<string, string>, client = newClient(), query = '') {
  return postForm(slug, await openForm(slug, client, query), fields);
}

/** The confirmation link of the newest "confirm your registration" mail to this address. */
function confirmLink(email: string): string {
  const mail = confirmMails(email).at(-1);
  if (!mail) throw new Error(`no confirmation mail to ${email}`);
  return /http:\/\/tactful\.test\/webinars\/[\w-]+\/confirm\/[\w.-]+/.exec(mail.parsed.text ?? '')![0];
}

const post = (url: string) => fetch(local(url), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });

function calendarOf(mail: SinkMessage) {
  const part = mail.parsed.attachments.find((a) => a.contentType.startsWith('text/calendar'));
  if (!part) throw new Error(`no calendar in "${mail.parsed.subject}"`);
  const parsed = ical.sync.parseICS(part.content.toString('utf8'));
  const event = Object.values(parsed).find((c) => c?.type === 'VEVENT') as any;
  return { method: (parsed as any).vcalendar.method, start: new Date(event.start), attendee: String(event.attendee?.val ?? event.attendee).toLowerCase() };
}

const registrationOf = async (webinarId: string, email: string) =>
  (
    await t.sql(`SELECT r.status FROM webinar_registrations r JOIN subscribers s ON s.id = r.subscriber_id WHERE r.webinar_id = $1 AND s.email = $2`, [
      webinarId,
      email,
    ])
  )[0];

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({ clock, env: { SMTP_URL: sink.url, TRUST_PROXY: '127.0.0.1', WEBINAR_CONFIRM_MAILS_PER_IP_HOUR: '3' } });
  await createTopics(t, ['events']);
});
afterAll(async () => {
  await t.close();
  await sink.close();
});
beforeEach(async () => {
  await drain();
  sink.clear();
});

describe('an unknown address on the public form', () => {
  it('gets exactly one confirmation mail, however often it is submitted, and nothing is registered or created before the click', async () => {
    const webinar = await createWebinar('doi-five-times');
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await submit(webinar.slug, { email: i % 2 ? 'Stranger@Example.com' : 'stranger@example.com', firstName: 'Sam' });
      expect(answer.status).toBe(200);
      answers.push(answer.html);
      await drain();
    }
    expect(new Set(answers).size).toBe(1);
    expect(answers[0]).toContain('Please check your inbox');
    expect(answers[0]).not.toContain('stranger@example.com');

    const mails = confirmMails('stranger@example.com');
    expect(mails).toHaveLength(1);
    expect(received('stranger@example.com')).toHaveLength(1);
    expect(mails[0].parsed.subject).toBe('Please confirm your registration: Making the most of payment terms');
    expect(mails[0].parsed.text).toContain('Hello Sam,');
    expect(mails[0].parsed.text).toContain('You are registered only once you confirm');
    expect(mails[0].parsed.attachments).toHaveLength(0);
    expect(mails[0].raw).not.toMatch(/^List-Unsubscribe:/m);
    // No person made of a typed address: no subscriber, no registration, until the owner clicks.
    expect(await t.sql(`SELECT 1 FROM subscribers WHERE email = 'stranger@example.com'`)).toEqual([]);
    expect(await t.sql(`SELECT 1 FROM webinar_registrations WHERE webinar_id = $1`, [webinar.id])).toEqual([]);

    // A day later the address may be asked once more.
    clock.advance(24 * HOUR + 1000);
    await submit(webinar.slug, { email: 'stranger@example.com' });
    await drain();
    expect(confirmMails('stranger@example.com')).toHaveLength(2);
  });

  it('gets one confirmation mail when five submissions race, from one client address or several', async () => {
    const webinar = await createWebinar('doi-race');
    const forms = await Promise.all([0, 1, 2, 3, 4].map(() => openForm(webinar.slug)));
    const answers = await Promise.all(forms.map((form) => postForm(webinar.slug, form, { email: 'racer@example.com' })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(answers.map((a) => a.html)).size).toBe(1);
    await drain();
    expect(confirmMails('racer@example.com')).toHaveLength(1);
    expect(await t.sql(`SELECT mails FROM webinar_registration_requests WHERE email = 'racer@example.com'`)).toEqual([{ mails: 1 }]);
  });

  it('registers on the click: GET only shows the button, POST registers with what the form said, and only then the webinar mail with its calendar file goes', async () => {
    const webinar = await createWebinar('doi-confirm');
    await submit(webinar.slug, { email: 'nina@example.com', firstName: 'Nina', timeZone: 'America/New_York' });
    await drain();
    const link = confirmLink('nina@example.com');
    expect(link).toMatch(new RegExp(`/webinars/${webinar.slug}/confirm/`));

    const shown = await fetch(local(link));
    expect(shown.status).toBe(200);
    const page = await shown.text();
    expect(page).toContain('<form method="post"');
    expect(page).toContain('Please confirm the registration of nina@example.com for this webinar:');
    expect(page).toContain('Wednesday, 1 April 2026, 05:00–06:00 (America/New_York)');
    // A mail scanner's prefetch changes nothing.
    expect(await t.sql(`SELECT 1 FROM subscribers WHERE email = 'nina@example.com'`)).toEqual([]);

    const confirmed = await post(link);
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('You are registered');
    const [subscriber] = await t.sql(`SELECT id, status, source, time_zone, attributes FROM subscribers WHERE email = 'nina@example.com'`);
    expect(subscriber).toMatchObject({ status: 'pending', source: 'webinar', time_zone: 'America/New_York', attributes: { firstName: 'Nina' } });
    expect(await t.sql(`SELECT 1 FROM topic_subscriptions WHERE subscriber_id = $1`, [subscriber.id])).toEqual([]);
    expect(await registrationOf(webinar.id, 'nina@example.com')).toEqual({ status: 'registered' });

    await drain();
    const [mail] = webinarMails('nina@example.com');
    expect(mail.parsed.subject).toBe('Registration confirmed: Making the most of payment terms');
    expect(mail.parsed.text).toContain('Wednesday, 1 April 2026, 05:00–06:00 (America/New_York)');
    expect(mail.raw).toMatch(/Content-Type: text\/calendar; charset=utf-8; method=REQUEST/i);
    expect(calendarOf(mail)).toMatchObject({ method: 'REQUEST', start: new Date('2026-04-01T09:00:00Z'), attendee: 'mailto:nina@example.com' });

    // The link again (a double click, a second device): registered already, nothing sent twice.
    const again = await post(link);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('You are registered');
    const resubmitted = await submit(webinar.slug, { email: 'nina@example.com' });
    expect(resubmitted.html).toContain('Please check your inbox');
    await drain();
    expect(received('nina@example.com').map(kindOf)).toEqual(['webinar_registration_confirm', 'webinar_confirmation']);
    const timeline = await t.api('GET', `/v1/subscribers/${subscriber.id}/timeline`);
    expect(timeline.body.items.map((i: any) => [i.kind, i.reason])).toEqual(expect.arrayContaining([['webinar_confirmation', 'sent']]));
  });

  it('opens the invalid-link page for a forged link, or a genuine one under another webinar’s address', async () => {
    const webinar = await createWebinar('doi-links');
    const other = await createWebinar('doi-links-other');
    await submit(webinar.slug, { email: 'links@example.com' });
    await drain();
    const link = confirmLink('links@example.com');
    const token = link.split('/').at(-1)!;
    for (const url of [`${t.baseUrl}/webinars/${other.slug}/confirm/${token}`, `${t.baseUrl}/webinars/${webinar.slug}/confirm/${token.slice(0, -2)}xx`]) {
      expect((await fetch(url)).status).toBe(404);
      expect((await fetch(url, { method: 'POST' })).status).toBe(404);
    }
    // A token of another purpose (the same id signed as an unregister link) is no confirmation link.
    const [request] = await t.sql(`SELECT id FROM webinar_registration_requests WHERE email = 'links@example.com'`);
    const foreign = t.app.get(TokenService).sign('webinar', request.id);
    expect((await fetch(`${t.baseUrl}/webinars/${webinar.slug}/confirm/${foreign}`, { method: 'POST' })).status).toBe(404);
    expect(await t.sql(`SELECT 1 FROM subscribers WHERE email = 'links@example.com'`)).toEqual([]);
  });
});

describe('the same answer for every address', () => {
  it('answers unknown, known, registered, erased, bounced and complained addresses byte for byte alike, and mails only those who may register', async () => {
    const webinar = await createWebinar('doi-oracle');
    const ids = await importConfirmed(t, [
      { email: 'known@example.com', topics: ['events'] },
      { email: 'registered@example.com', topics: ['events'] },
      { email: 'erased@example.com', topics: ['events'] },
    ]);
    expect((await t.api('POST', `/v1/webinars/${webinar.id}/registrations`, { body: { email: 'registered@example.com' } })).status).toBe(201);
    expect((await t.api('DELETE', `/v1/subscribers/${ids.get('erased@example.com')}`)).status).toBe(204);
    for (const [email, reason] of [
      ['bounced@example.com', 'bounced'],
      ['complained@example.com', 'complained'],
    ]) {
      await t.sql(`INSERT INTO bounced_addresses (email_hash, reason, created_at) VALUES ($1, $2, now())`, [emailHash(email), reason]);
    }
    await drain();
    sink.clear();

    const addresses = [
      'unknown@example.com',
      'known@example.com',
      'registered@example.com',
      'erased@example.com',
      'bounced@example.com',
      'complained@example.com',
    ];
    const answers = new Map<string, { status: number; html: string }>();
    for (const email of addresses) {
      const { status, html } = await submit(webinar.slug, { email, firstName: 'Pat' });
      answers.set(email, { status, html });
    }
    const first = answers.get('unknown@example.com')!;
    expect(first.status).toBe(200);
    for (const email of addresses) expect({ email, ...answers.get(email)! }).toEqual({ email, ...first });
    await drain();

    expect(confirmMails('unknown@example.com')).toHaveLength(1);
    expect(confirmMails('known@example.com')).toHaveLength(1);
    for (const email of ['registered@example.com', 'erased@example.com', 'bounced@example.com', 'complained@example.com']) expect(received(email)).toEqual([]);
    // Nothing stored for an address that must be left alone.
    for (const email of ['erased@example.com', 'bounced@example.com', 'complained@example.com']) {
      expect(await t.sql(`SELECT 1 FROM webinar_registration_requests WHERE email = $1`, [email])).toEqual([]);
      expect(await t.sql(`SELECT 1 FROM subscribers WHERE email = $1`, [email])).toEqual([]);
    }
    // A known subscriber's confirmation mail is on their timeline, and their click registers them.
    const timeline = await t.api('GET', `/v1/subscribers/${ids.get('known@example.com')}/timeline`);
    expect(timeline.body.items[0]).toMatchObject({ kind: 'webinar_registration_confirm', class: 'service', status: 'sent' });
    expect((await post(confirmLink('known@example.com'))).status).toBe(200);
    expect(await registrationOf(webinar.id, 'known@example.com')).toEqual({ status: 'registered' });
  });

  it('answers a full webinar with the same 409 page for every address, a registered one included', async () => {
    const webinar = await createWebinar('doi-full', { capacity: 1 });
    // Both opened the form while a seat was left.
    const [seatForm, lateForm] = [await openForm(webinar.slug), await openForm(webinar.slug)];
    expect((await t.api('POST', `/v1/webinars/${webinar.id}/registrations`, { body: { email: 'seat@example.com' } })).status).toBe(201);
    const mine = await postForm(webinar.slug, seatForm, { email: 'seat@example.com' });
    const theirs = await postForm(webinar.slug, lateForm, { email: 'late@example.com' });
    expect(mine.status).toBe(409);
    expect(mine.html).toMatch(/fully booked/i);
    expect(mine.html).toBe(theirs.html);
    await drain();
    expect(confirmMails('late@example.com')).toEqual([]);
  });
});

describe('limits on confirmation mails', () => {
  it('sends one address at most three confirmation mails a day, whatever the webinars', async () => {
    const webinars = [];
    for (let i = 0; i < 5; i++) webinars.push(await createWebinar(`doi-many-${i}`));
    const answers = new Set<string>();
    for (const webinar of webinars) answers.add((await submit(webinar.slug, { email: 'flooded@example.com' })).html.replace(/doi-many-\d/g, ''));
    await drain();
    expect(confirmMails('flooded@example.com')).toHaveLength(3);
    expect(answers.size).toBe(1);
  });

  it('sends at most WEBINAR_CONFIRM_MAILS_PER_IP_HOUR confirmation mails an hour on behalf of one client address, and answers the rest alike', async () => {
    const webinar = await createWebinar('doi-per-ip');
    const client = newClient();
    const answers = new Set<string>();
    for (let i = 0; i < 5; i++) answers.add((await submit(webinar.slug, { email: `victim${i}@example.com` }, client)).html);
    // Another client address is not held back by this one.
    answers.add((await submit(webinar.slug, { email: 'elsewhere@example.com' })).html);
    await drain();
    expect(answers.size).toBe(1);
    expect([0, 1, 2, 3, 4].map((i) => confirmMails(`victim${i}@example.com`).length)).toEqual([1, 1, 1, 0, 0]);
    expect(confirmMails('elsewhere@example.com')).toHaveLength(1);

    clock.advance(HOUR + 1000);
    await submit(webinar.slug, { email: 'victim3@example.com' }, client);
    await drain();
    expect(confirmMails('victim3@example.com')).toHaveLength(1);
  });
});

describe('a personal registration link', () => {
  it('registers its holder at once: no confirmation mail, the webinar mail with its calendar file', async () => {
    const webinar = await createWebinar('doi-personal');
    const ids = await importConfirmed(t, [{ email: 'holder@example.com', topics: ['events'] }]);
    const token = t.app.get(TokenService).sign('webinar_register', ids.get('holder@example.com')!);
    const answer = await submit(webinar.slug, { email: 'holder@example.com' }, newClient(), `&t=${encodeURIComponent(token)}`);
    expect(answer.form).toContain('value="holder@example.com"');
    expect(answer.status).toBe(200);
    expect(answer.html).toContain('You are registered');
    expect(await registrationOf(webinar.id, 'holder@example.com')).toEqual({ status: 'registered' });
    await drain();
    expect(received('holder@example.com').map(kindOf)).toEqual(['webinar_confirmation']);
    expect(calendarOf(received('holder@example.com')[0]).method).toBe('REQUEST');
  });

  it('does not register another address typed into a personal form, nor anyone with a forged link: they get the double opt-in', async () => {
    const webinar = await createWebinar('doi-personal-other');
    const ids = await importConfirmed(t, [{ email: 'owner@example.com', topics: ['events'] }]);
    const token = t.app.get(TokenService).sign('webinar_register', ids.get('owner@example.com')!);
    const typed = await submit(webinar.slug, { email: 'someone-else@example.com' }, newClient(), `&t=${encodeURIComponent(token)}`);
    expect(typed.html).toContain('Please check your inbox');
    const forged = await submit(webinar.slug, { email: 'owner@example.com', t: `${token.slice(0, -3)}abc` });
    expect(forged.html).toContain('Please check your inbox');
    expect(await registrationOf(webinar.id, 'someone-else@example.com')).toBeUndefined();
    expect(await registrationOf(webinar.id, 'owner@example.com')).toBeUndefined();
    await drain();
    expect(confirmMails('someone-else@example.com')).toHaveLength(1);
    expect(confirmMails('owner@example.com')).toHaveLength(1);
  });

  it('is what the unregister page offers to come back: registering again needs no confirmation mail', async () => {
    const webinar = await createWebinar('doi-come-back');
    await submit(webinar.slug, { email: 'back@example.com' });
    await drain();
    await post(confirmLink('back@example.com'));
    await drain();
    const unregister = /http:\/\/tactful\.test\/webinars\/unregister\/[\w.-]+/.exec(webinarMails('back@example.com')[0].parsed.text!)![0];
    const done = await (await post(unregister)).text();
    const again = /href="(\/webinars\/doi-come-back\/register\?[^"]+)"/
      .exec(done)![1]
      .replace(/&#x3D;/g, '=')
      .replace(/&amp;/g, '&');
    const token = new URL(again, t.baseUrl).searchParams.get('t')!;
    const answer = await submit(webinar.slug, { email: 'back@example.com' }, newClient(), `&t=${encodeURIComponent(token)}`);
    expect(answer.html).toContain('You are registered');
    expect(await registrationOf(webinar.id, 'back@example.com')).toEqual({ status: 'registered' });
  });
});

describe('the person’s rights', () => {
  it('shows a request in the person’s export (GDPR Art. 15) and erases it with them (Art. 17)', async () => {
    const webinar = await createWebinar('doi-rights');
    const ids = await importConfirmed(t, [{ email: 'rights@example.com', topics: ['events'] }]);
    await submit(webinar.slug, { email: 'rights@example.com', firstName: 'Rita' }, '203.0.113.9');
    const id = ids.get('rights@example.com')!;
    const exported = await t.api('GET', `/v1/subscribers/${id}/export`);
    expect(exported.body.webinarRegistrationRequests).toEqual([
      expect.objectContaining({ webinar: 'doi-rights', status: 'pending', first_name: 'Rita', ip: '203.0.113.9', mails: 1 }),
    ]);
    expect((await t.api('DELETE', `/v1/subscribers/${id}`)).status).toBe(204);
    expect(await t.sql(`SELECT 1 FROM webinar_registration_requests WHERE email = 'rights@example.com'`)).toEqual([]);
  });
});

describe('requests that are no longer needed', () => {
  it('forgets a pending request after 7 days (its link then opens the invalid-link page) and withdraws its mail once the webinar is cancelled', async () => {
    clock.set('2026-03-02T09:00:00Z');
    const webinar = await createWebinar('doi-forget', { startsAt: '2026-05-01T09:00:00Z', endsAt: '2026-05-01T10:00:00Z' });
    await submit(webinar.slug, { email: 'forgetful@example.com' });
    await drain();
    const link = confirmLink('forgetful@example.com');
    clock.advance(7 * 24 * HOUR + 1000);
    expect(await t.app.get(WebinarRegistrationsService).pruneRequests()).toBeGreaterThanOrEqual(1);
    expect((await post(link)).status).toBe(404);
    expect(await t.sql(`SELECT 1 FROM webinar_registration_requests WHERE email = 'forgetful@example.com'`)).toEqual([]);

    // Asked again, then the webinar is cancelled before the worker ran: the mail does not go.
    const second = await createWebinar('doi-cancelled', { startsAt: '2026-05-02T09:00:00Z', endsAt: '2026-05-02T10:00:00Z' });
    await submit(second.slug, { email: 'forgetful@example.com' });
    expect((await t.api('POST', `/v1/webinars/${second.id}/cancel`)).status).toBe(200);
    await drain();
    expect(confirmMails('forgetful@example.com')).toHaveLength(1);
    expect(
      await t.sql(`SELECT status, reason FROM deliveries WHERE kind = 'webinar_registration_confirm' AND to_address = 'forgetful@example.com' ORDER BY id`),
    ).toEqual([
      { status: 'sent', reason: 'sent' },
      { status: 'expired', reason: 'expired' },
    ]);
  });
});
