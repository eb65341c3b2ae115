// Hostile and careless input never changes consent (issue 17, the customer's side): links in
// previews and test sends change nothing, the consent record says who changed it, erased people
// stay erased through every public form, the one-click unsubscribe is never refused for rate, and
// the pages of people who are gone answer like any invalid link. Real HTTP against the real app,
// real SMTP sink, real PostgreSQL.
import * as ical from 'node-ical';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { TokenService } from '../../src/links/tokens';
import { emailHash } from '../../src/addresses/email';
import { startTestApp, TestApp } from '../support/app';
import { launchBrowser } from '../support/browser';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

let t: TestApp;
let sink: SmtpSink;
let readKey: string;
let writeKey: { key: string; id: string };
const clock = new FakeClock('2026-03-02T09:00:00Z');

const tokens = () => t.app.get(TokenService);
const local = (url: string) => url.replace('http://tactful.test', t.baseUrl);
const received = (email: string) => sink.messages.filter((m) => m.envelope.rcptTo.includes(email));
const drain = () => t.app.get(DeliveryWorker).drain();
/** Every link to the service in a mail or page; HTML entities in attributes read as a browser reads them. */
const linksIn = (text: string): string[] => [
  ...new Set(text.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&').match(/http:\/\/tactful\.test\/[\w/.\-?=&%]+/g) ?? []),
];
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

async function post(url: string, fields: Record<string, string | string[]> = {}, headers: Record<string, string> = {}) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
  const res = await fetch(url, { method: 'POST', headers: { ...FORM, ...headers }, body: body.toString(), redirect: 'manual' });
  return { status: res.status, headers: res.headers, html: await res.text() };
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, html: await res.text() };
}

/** Everything stored about one person that a page could change. */
async function rowsOf(id: string) {
  return {
    subscriber: await t.sql(`SELECT * FROM subscribers WHERE id = $1`, [id]),
    topics: await t.sql(`SELECT * FROM topic_subscriptions WHERE subscriber_id = $1 ORDER BY topic_id`, [id]),
    feedback: await t.sql(`SELECT * FROM feedback WHERE subscriber_id = $1 ORDER BY item_id`, [id]),
    suggestions: await t.sql(`SELECT * FROM topic_suggestions WHERE subscriber_id = $1 ORDER BY id`, [id]),
    prompts: await t.sql(`SELECT * FROM drop_topic_prompts WHERE subscriber_id = $1 ORDER BY id`, [id]),
  };
}

async function createWebinar(slug: string): Promise<{ id: string }> {
  const res = await t.api('POST', '/v1/webinars', {
    body: {
      slug,
      topic: 'offers',
      title: { de: 'Zahlungsziele richtig nutzen', en: 'Making the most of payment terms' },
      description: { de: 'Was 60 Tage Zahlungsziel bedeuten.', en: 'What 60 days of payment terms mean.' },
      joinUrl: 'https://meet.example.com/j/42',
      startsAt: '2026-04-01T09:00:00Z',
      endsAt: '2026-04-01T10:00:00Z',
    },
  });
  if (res.status !== 201) throw new Error(`webinar: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Fills in the public registration form as a browser would: GET (cookie, form token), then POST. */
async function registerOnPage(slug: string, fields: Record<string, string>) {
  const page = await fetch(`${t.baseUrl}/webinars/${slug}/register?lang=en`);
  const cookie = page.headers.get('set-cookie')!.split(';')[0];
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1];
  return post(`${t.baseUrl}/webinars/${slug}/register`, { csrf, lang: 'en', timeZone: 'Europe/Berlin', ...fields }, { cookie });
}

/** Follows the newest "confirm your registration" mail to this address: its page's button (a POST). */
async function confirmRegistration(email: string) {
  await drain();
  const mail = received(email).filter((m) => /\/confirm\//.test(m.parsed.text ?? '')).at(-1)!;
  const link = /http:\/\/tactful\.test\/webinars\/[\w-]+\/confirm\/[\w.-]+/.exec(mail.parsed.text!)![0];
  return post(local(link));
}

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
  await createTopics(t, ['trade-fairs', 'offers']);
  readKey = (await t.app.get(ApiKeysService).create('dashboard (read only)', ['read'])).key;
  const writer = await t.app.get(ApiKeysService).create('shop integration', ['subscribers:write']);
  writeKey = { key: writer.key, id: writer.apiKey.id };
});
afterAll(async () => {
  await t.close();
  await sink.close();
});

describe('previews and test sends carry inert links', () => {
  it('lets a read-only key’s preview “for” an unsubscribed person neither re-consent nor change them: every link, opened or posted, says it is a preview', async () => {
    const ids = await importConfirmed(t, [{ email: 'left-us@example.de', locale: 'de', topics: ['trade-fairs'] }]);
    const id = ids.get('left-us@example.de')!;
    expect((await post(local(tokens().url('unsubscribe', id)), { 'List-Unsubscribe': 'One-Click' })).status).toBe(200);
    const campaign = await createCampaign(t, { name: 'preview me', topic: 'trade-fairs' });
    const before = await rowsOf(id);

    const preview = await t.api('POST', `/v1/campaigns/${campaign}/preview`, { key: readKey, body: { subscriberId: id } });
    expect(preview.status).toBe(200);
    const links = linksIn(`${preview.body.html}\n${preview.body.text}`).filter((l) => /\/(p|u|f)\//.test(l));
    for (const path of ['/p/', '/u/', '/f/']) expect(links.some((l) => l.includes(path))).toBe(true);

    // The attack of the report: open each link, take its form if it has one, and send it back
    // choosing every topic (and, for the other forms, unsubscribing and rating).
    const opened: string[] = [];
    const posted: { status: number; html: string }[] = [];
    for (const link of links) {
      const page = await get(local(link));
      opened.push(page.html);
      const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)?.[1] ?? 'none';
      const action = /<form method="post" action="([^"]+)"/.exec(page.html)?.[1];
      const target = action ? t.baseUrl + action.replace(/&#x3D;/g, '=') : local(link);
      posted.push(await post(target, { csrf, topics: ['trade-fairs', 'offers'], cadence: 'biweekly', rating: 'useful', 'List-Unsubscribe': 'One-Click' }));
    }
    const suggestion = await post(`${t.baseUrl}/p/preview/suggest?lang=de`, { csrf: 'none', suggestion: 'Mehr zu Messen' });
    expect(await rowsOf(id)).toEqual(before);
    expect(before.subscriber[0].status).toBe('unsubscribed');

    // No link of the preview carries a token we signed, for this person or anyone; each page says what it is.
    for (const link of links) expect(new URL(link).pathname.split('/')[2]).toBe('preview');
    for (const html of opened) {
      expect(html).toContain('Dies ist ein Vorschau-Link'); // in the preview's language, German
      expect(html).not.toContain('<form');
    }
    for (const answer of [...posted, suggestion]) {
      expect(answer.status).toBe(200);
      expect(answer.html).toContain('Hier wurde nichts geändert.');
    }
    const english = await get(`${t.baseUrl}/p/preview`, { 'accept-language': 'en-GB,en;q=0.9' });
    expect(english.html).toContain('This is a preview link');
    expect(english.html).toContain('Nothing has been changed');
  });

  it('gives a test send the same inert links and no List-Unsubscribe header', async () => {
    const campaign = await createCampaign(t, { name: 'test me', topic: 'offers' });
    const sent = await t.api('POST', `/v1/campaigns/${campaign}/test-send`, { body: { addresses: ['lead@example.com'], locale: 'en' } });
    expect(sent.status).toBe(202);
    await drain();
    const [mail] = received('lead@example.com');
    expect(mail.parsed.subject).toBe('[TEST] News');
    expect(mail.raw).not.toMatch(/^List-Unsubscribe:/im);
    const links = linksIn(`${mail.parsed.text}\n${mail.parsed.html}`).filter((l) => /\/(p|u)\//.test(l));
    expect(links.length).toBeGreaterThanOrEqual(2);
    for (const link of links) {
      expect(new URL(link).pathname.split('/')[2]).toBe('preview');
      const answer = await post(local(link), { 'List-Unsubscribe': 'One-Click' });
      expect(answer.status).toBe(200);
      expect(answer.html).toContain('This is a preview link');
    }
  });
});

describe('the consent record says who changed it', () => {
  it('records a topic chosen on the page as preferences_page with the browser’s evidence, and one set through the API as api with the key', async () => {
    const ids = await importConfirmed(t, [{ email: 'evidence@example.com', locale: 'en', topics: ['trade-fairs'] }]);
    const id = ids.get('evidence@example.com')!;
    const page = local(tokens().url('preferences', id));
    const csrf = /name="csrf" value="([^"]+)"/.exec((await get(page)).html)![1];
    const saved = await post(page, { csrf, topics: ['trade-fairs', 'offers'] }, { 'user-agent': 'Evidence Browser/1.0' });
    expect(saved.status).toBe(200);
    const topic = async (key: string) => (await t.api('GET', `/v1/subscribers/${id}`)).body.topics.find((x: any) => x.topic === key);
    expect(await topic('offers')).toMatchObject({ status: 'confirmed', source: 'preferences_page', ip: '127.0.0.1', userAgent: 'Evidence Browser/1.0', apiKey: null });
    expect(await topic('trade-fairs')).toMatchObject({ status: 'confirmed', source: 'form', apiKey: null });

    // A read-only key cannot change anything; a write key can, and is named.
    expect((await t.api('PATCH', `/v1/subscribers/${id}/preferences`, { key: readKey, body: { topics: [] } })).status).toBe(403);
    const dropped = await t.api('PATCH', `/v1/subscribers/${id}/preferences`, { key: writeKey.key, body: { topics: ['trade-fairs'] } });
    expect(dropped.status).toBe(200);
    expect(await topic('offers')).toMatchObject({
      status: 'revoked',
      revocationSource: 'api',
      revokedByApiKey: { id: writeKey.id, name: 'shop integration' },
    });
    const back = await t.api('PATCH', `/v1/subscribers/${id}/preferences`, { key: writeKey.key, body: { topics: ['trade-fairs', 'offers'] } });
    expect(back.status).toBe(200);
    expect(await topic('offers')).toMatchObject({
      status: 'confirmed',
      source: 'api',
      ip: null,
      userAgent: null,
      apiKey: { id: writeKey.id, name: 'shop integration' },
      revocationSource: null,
      revokedByApiKey: null,
    });

    expect((await post(local(tokens().url('unsubscribe', id)), { 'List-Unsubscribe': 'One-Click' })).status).toBe(200);
    expect(await topic('offers')).toMatchObject({ status: 'revoked', revocationSource: 'unsubscribe_link', revokedByApiKey: null });
    expect(await topic('trade-fairs')).toMatchObject({ status: 'revoked', revocationSource: 'unsubscribe_link' });
  });

  it('never accepts preferences_page as a source a caller claims', async () => {
    const res = await t.api('POST', '/v1/subscribers', {
      key: writeKey.key,
      body: { email: 'claims@example.com', topics: ['offers'], consent: { source: 'preferences_page', confirmedAt: '2026-03-01T10:00:00Z' } },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: any) => e.field)).toEqual(['consent.source']);
    expect(await t.sql(`SELECT 1 FROM subscribers WHERE email = 'claims@example.com'`)).toEqual([]);
  });
});

describe('erased people stay erased', () => {
  it('answers an erased address on the public webinar form exactly as an unknown one, twice, and stores and sends nothing for it', async () => {
    await createWebinar('erased-stay-away');
    const ids = await importConfirmed(t, [{ email: 'erased@example.de', topics: ['offers'] }]);
    expect((await t.api('DELETE', `/v1/subscribers/${ids.get('erased@example.de')}`)).status).toBe(204);

    const normalise = (html: string, email: string) => html.split(email).join('<address>');
    for (let round = 0; round < 2; round++) {
      const erased = await registerOnPage('erased-stay-away', { email: 'Erased@Example.de', firstName: 'Eve' });
      const unknown = await registerOnPage('erased-stay-away', { email: 'Unknown@Example.de', firstName: 'Eve' });
      expect(erased.status).toBe(200);
      expect(unknown.status).toBe(200);
      expect(normalise(erased.html, 'Erased@Example.de')).toBe(normalise(unknown.html, 'Unknown@Example.de'));
      expect(erased.html).toContain('Please check your inbox');
    }
    await drain();
    expect(await t.sql(`SELECT 1 FROM subscribers WHERE email = 'erased@example.de'`)).toEqual([]);
    expect(await t.sql(`SELECT 1 FROM deliveries WHERE to_address = 'erased@example.de'`)).toEqual([]);
    expect(received('erased@example.de')).toHaveLength(0);
    // The unknown address was asked once (double opt-in), and not again for the second submission.
    expect(received('unknown@example.de').map((m) => m.parsed.subject)).toEqual(['Please confirm your registration: Making the most of payment terms']);
    expect((await t.sql(`SELECT reason FROM suppressions WHERE email_hash = $1`, [emailHash('erased@example.de')]))[0].reason).toBe('erased');
  });

  it('treats an address that hard-bounced or complained the same way on the form, and the API refuses all three naming the field', async () => {
    const webinar = await createWebinar('blocked-addresses');
    for (const [email, reason] of [
      ['bounced-shopper@example.com', 'bounced'],
      ['complained-shopper@example.com', 'complained'],
    ]) {
      await t.sql(`INSERT INTO bounced_addresses (email_hash, reason, created_at) VALUES ($1, $2, now())`, [emailHash(email), reason]);
      const answer = await registerOnPage('blocked-addresses', { email });
      expect(answer.status).toBe(200);
      expect(answer.html).toContain('Please check your inbox');
      const api = await t.api('POST', `/v1/webinars/${webinar.id}/registrations`, { body: { email } });
      expect(api.status).toBe(422);
      expect(api.body).toMatchObject({ reason, errors: [{ field: 'email' }] });
      expect(await t.sql(`SELECT 1 FROM subscribers WHERE email = $1`, [email])).toEqual([]);
    }
    const erased = await t.api('POST', `/v1/webinars/${webinar.id}/registrations`, { body: { email: 'erased@example.de' } });
    expect(erased.status).toBe(422);
    expect(erased.body).toMatchObject({ reason: 'erased', errors: [{ field: 'email', message: expect.stringMatching(/erased on \d{4}-\d{2}-\d{2}/) }] });
    await drain();
    expect(received('bounced-shopper@example.com')).toHaveLength(0);
    expect(received('complained-shopper@example.com')).toHaveLength(0);
  });

  it('suppresses a test send to an erased address (suppressed_erased) but still sends the receipt of an order placed since', async () => {
    const campaign = await createCampaign(t, { name: 'test to erased', topic: 'offers' });
    await t.api('POST', `/v1/campaigns/${campaign}/test-send`, { body: { addresses: ['erased@example.de'] } });
    const order = await t.api('POST', '/v1/orders', {
      body: { number: 'E-1', email: 'erased@example.de', items: [{ sku: 'MUG', name: 'Mug', quantity: 1 }], placedAt: '2026-03-02T08:00:00Z' },
    });
    expect(order.status).toBe(201);
    await drain();
    const rows = await t.sql(`SELECT kind, status, reason FROM deliveries WHERE to_address = 'erased@example.de' ORDER BY kind`);
    expect(rows).toEqual([
      { kind: 'campaign_test', status: 'suppressed', reason: 'suppressed_erased' },
      { kind: 'order_confirmation', status: 'sent', reason: 'sent' },
    ]);
    expect(received('erased@example.de')).toHaveLength(1);
    expect(await t.sql(`SELECT 1 FROM subscribers WHERE email = 'erased@example.de'`)).toEqual([]);
  });
});

describe('pages of a person who is gone', () => {
  it('answers GET and POST on every page of an erased person with the invalid-link page, never 500', async () => {
    const ids = await importConfirmed(t, [{ email: 'gone@example.com', locale: 'en', topics: ['offers'] }]);
    const id = ids.get('gone@example.com')!;
    const webinar = await createWebinar('gone-webinar');
    const registration = await t.api('POST', `/v1/webinars/${webinar.id}/registrations`, { body: { email: 'gone@example.com' } });
    expect(registration.status).toBe(201);
    const campaign = await createCampaign(t, { name: 'for the gone', topic: 'offers' });
    const links = {
      preferences: local(tokens().url('preferences', id)),
      unsubscribe: local(tokens().url('unsubscribe', id)),
      confirm: local(tokens().url('confirm', id)),
      feedback: local(tokens().itemUrl(id, 'campaign', campaign)),
      drop: local(tokens().itemUrl(id, 'topic', (await t.sql(`SELECT id FROM topics WHERE key = 'offers'`))[0].id)),
      unregister: local(tokens().url('webinar', registration.body.id)),
    };
    // Pages opened before the erasure: their form tokens are still valid today.
    const csrf = /name="csrf" value="([^"]+)"/.exec((await get(links.preferences)).html)![1];
    expect((await t.api('DELETE', `/v1/subscribers/${id}`)).status).toBe(204);

    const invalid = await get(`${t.baseUrl}/u/not.a.token`);
    expect(invalid.status).toBe(404);
    const answers = [
      await get(links.preferences),
      await post(links.preferences, { csrf, topics: ['offers'], cadence: 'biweekly' }),
      await post(`${links.preferences}/suggest`, { csrf, suggestion: 'Please more' }),
      await get(links.unsubscribe),
      await post(links.unsubscribe, { 'List-Unsubscribe': 'One-Click' }),
      await get(links.confirm),
      await post(links.confirm),
      await get(links.feedback),
      await post(links.feedback, { csrf, rating: 'useful' }),
      await get(links.drop),
      await post(links.drop, { csrf }),
      await get(links.unregister),
      await post(links.unregister, { leaveSeries: '1' }),
    ];
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 404));
    for (const answer of answers) {
      expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(answer.html).toBe(invalid.html);
    }
    expect(await t.sql(`SELECT 1 FROM subscribers WHERE id = $1`, [id])).toEqual([]);
    expect(await t.sql(`SELECT 1 FROM topic_suggestions WHERE subscriber_id = $1`, [id])).toEqual([]);
  });
});

describe('security headers on every page', () => {
  it('sends a CSP without unsafe-inline that forbids framing, nosniff and no-referrer on every customer page; Swagger UI keeps its own', async () => {
    const ids = await importConfirmed(t, [{ email: 'headers@example.com', topics: ['offers'] }]);
    const id = ids.get('headers@example.com')!;
    const webinar = await createWebinar('headers-webinar');
    const registration = await t.api('POST', `/v1/webinars/${webinar.id}/registrations`, { body: { email: 'headers@example.com' } });
    const campaign = await createCampaign(t, { name: 'headers', topic: 'offers' });
    const pages = [
      await get(local(tokens().url('preferences', id))),
      await get(local(tokens().url('unsubscribe', id))),
      await get(local(tokens().url('confirm', id))),
      await get(local(tokens().itemUrl(id, 'campaign', campaign))),
      await get(local(tokens().url('webinar', registration.body.id))),
      await get(`${t.baseUrl}/webinars/headers-webinar/register`),
      await get(`${t.baseUrl}/p/preview`),
      await get(`${t.baseUrl}/p/forged.token.here`),
      await post(local(tokens().url('unsubscribe', id)), { 'List-Unsubscribe': 'One-Click' }),
    ];
    expect(pages.map((p) => p.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 404, 200]);
    for (const page of pages) {
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = page.headers.get('content-security-policy') ?? '';
      const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
      expect(directives.get('default-src')).toEqual(["'self'"]);
      expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
      expect(directives.get('form-action')).toEqual(["'self'"]);
      expect(csp).not.toContain('unsafe-inline');
      expect(directives.get('style-src')?.every((v) => v.startsWith("'sha256-"))).toBe(true);
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect(page.headers.get('x-frame-options')).toBe('DENY');
    }
    const docs = await get(`${t.baseUrl}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-security-policy')).toBeNull();
  });
});

describe('the policy in Chromium', () => {
  it('applies the pages’ own style under the CSP with no violation, and refuses to show the one-click unsubscribe form in a frame', async () => {
    const ids = await importConfirmed(t, [{ email: 'framed@example.com', topics: ['offers'] }]);
    const url = local(tokens().url('unsubscribe', ids.get('framed@example.com')!));
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.addInitScript(() => {
        (window as any).violations = [];
        document.addEventListener('securitypolicyviolation', (e) => (window as any).violations.push(e.violatedDirective));
      });
      await page.goto(url);
      expect(await page.evaluate(() => getComputedStyle(document.querySelector('button')!).backgroundColor)).toBe('rgb(29, 78, 216)');
      expect(await page.evaluate(() => (window as any).violations)).toEqual([]);

      // Another site frames the one-button form (clickjacking): the browser does not render it.
      const attacker = await browser.newPage();
      await attacker.setContent(`<iframe src="${url}" width="600" height="400"></iframe>`, { waitUntil: 'load' });
      const frame = attacker.frames().find((f) => f !== attacker.mainFrame())!;
      const framed = await frame.evaluate(() => document.querySelector('form[method="post"]') !== null).catch(() => false);
      expect(framed).toBe(false);
      expect((await t.api('GET', `/v1/subscribers/${ids.get('framed@example.com')}`)).body.status).toBe('active');
    } finally {
      await browser.close();
    }
  }, 60_000);
});

describe('the calendar file of a registration', () => {
  it('keeps a first name with quotes, semicolons, commas and colons in one CN that an independent parser reads back', async () => {
    await createWebinar('quoted-names');
    const answer = await registerOnPage('quoted-names', { email: 'quotes@example.com', firstName: 'Anna "Annie"; van Dyk, Sr.: CEO' });
    expect(answer.status).toBe(200);
    expect((await confirmRegistration('quotes@example.com')).status).toBe(200);
    await drain();
    const [, mail] = received('quotes@example.com');
    const part = mail.parsed.attachments.find((a) => a.contentType.startsWith('text/calendar'))!;
    const event = Object.values(ical.sync.parseICS(part.content.toString('utf8'))).find((c: any) => c?.type === 'VEVENT') as any;
    expect(event.attendee.params.CN).toBe("Anna 'Annie' van Dyk, Sr.: CEO");
    expect(String(event.attendee.val).toLowerCase()).toBe('mailto:quotes@example.com');
    expect(event.organizer.val).toMatch(/^mailto:/);
  });
});

describe('one-click unsubscribe is never refused for rate', () => {
  // Its own app: the default limit (300 failed links a minute from one address), nothing raised.
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ clock });
    await createTopics(limited, ['offers']);
  });
  afterAll(() => limited.close());

  const oneClick = (url: string) =>
    fetch(url, { method: 'POST', headers: FORM, body: 'List-Unsubscribe=One-Click', redirect: 'manual' }).then(async (r) => ({ status: r.status, html: await r.text() }));

  it('accepts 450 one-click POSTs from one address within a minute, 50 of them on one link, while bad links from that address get an HTML 429 in German and English', async () => {
    const people = Array.from({ length: 100 }, (_, i) => ({ email: `relay-${i}@example.com`, topics: ['offers'] }));
    const ids = [...(await importConfirmed(limited, people)).values()];
    const signer = limited.app.get(TokenService);
    const urls = ids.map((id) => `${limited.baseUrl}/u/${signer.sign('unsubscribe', id)}`);
    // A mailbox provider's relay: every request from 127.0.0.1, four clicks per link, and one link clicked 50 times.
    const burst = [...urls, ...urls, ...urls, ...urls, ...Array(50).fill(urls[0])];
    const statuses: number[] = [];
    for (let i = 0; i < burst.length; i += 25) statuses.push(...(await Promise.all(burst.slice(i, i + 25).map(oneClick))).map((r) => r.status));
    expect(statuses).toHaveLength(450);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const [{ n }] = await limited.sql(`SELECT count(*)::int AS n FROM subscribers WHERE email LIKE 'relay-%' AND status = 'unsubscribed'`);
    expect(n).toBe(100);

    // Junk links from the same address: counted, and refused beyond 300 a minute.
    const [kid, body] = signer.sign('unsubscribe', ids[0]).split('.');
    const forged = (i: number) => `${limited.baseUrl}/u/${kid}.${body}.${String(i).padStart(27, 'x')}`;
    const junk: number[] = [];
    for (let i = 0; i < 300; i += 50) junk.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => oneClick(forged(i + j))))).map((r) => r.status));
    expect(junk.filter((s) => s !== 404)).toEqual([]);
    const german = await fetch(forged(301), { method: 'POST', headers: { ...FORM, 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' }, body: 'List-Unsubscribe=One-Click' });
    expect(german.status).toBe(429);
    expect(german.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(Number(german.headers.get('retry-after'))).toBeGreaterThan(0);
    const germanHtml = await german.text();
    expect(germanHtml).toContain('<html lang="de">');
    expect(germanHtml).toContain('Zu viele Anfragen');
    const english = await fetch(`${limited.baseUrl}/p/not-a-token`, { headers: { 'accept-language': 'en-US,en;q=0.8' } });
    expect(english.status).toBe(429);
    expect(english.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const englishHtml = await english.text();
    expect(englishHtml).toContain('<html lang="en">');
    expect(englishHtml).toContain('Too many requests');

    // Genuine links from the over-limit address still work: the owner is never locked out.
    const later = await importConfirmed(limited, [{ email: 'after-the-flood@example.com', topics: ['offers'] }]);
    const id = later.get('after-the-flood@example.com')!;
    expect((await oneClick(`${limited.baseUrl}/u/${signer.sign('unsubscribe', id)}`)).status).toBe(200);
    expect((await fetch(`${limited.baseUrl}/p/${signer.sign('preferences', id)}`)).status).toBe(200);
  }, 120_000);

  it('counts genuine links of erased people as failures, without ever refusing a genuine link', async () => {
    const small = await startTestApp({ clock, env: { CUSTOMER_RATE_LIMIT_PER_IP: '3' } });
    try {
      await createTopics(small, ['offers']);
      const ids = await importConfirmed(small, [
        { email: 'erased-1@example.com', topics: ['offers'] },
        { email: 'alive@example.com', topics: ['offers'] },
      ]);
      const signer = small.app.get(TokenService);
      const dead = `${small.baseUrl}/u/${signer.sign('unsubscribe', ids.get('erased-1@example.com')!)}`;
      await small.api('DELETE', `/v1/subscribers/${ids.get('erased-1@example.com')}`);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await oneClick(dead)).status);
      expect(statuses).toEqual([404, 404, 404, 404, 404]);
      expect((await oneClick(`${small.baseUrl}/u/abcd.efgh.ijkl`)).status).toBe(429);
      expect((await oneClick(`${small.baseUrl}/u/${signer.sign('unsubscribe', ids.get('alive@example.com')!)}`)).status).toBe(200);

      // The public form has no link: every request counts, and its 429 speaks the form's language.
      const webinar = await small.api('POST', '/v1/webinars', {
        body: { slug: 'busy', topic: 'offers', title: { de: 'Webinar', en: 'Webinar' }, joinUrl: 'https://meet.example.com/j/1', startsAt: '2026-04-01T09:00:00Z', endsAt: '2026-04-01T10:00:00Z' },
      });
      expect(webinar.status).toBe(201);
      const form = await Promise.all([1, 2, 3].map(() => fetch(`${small.baseUrl}/webinars/busy/register?lang=en`).then((r) => r.status)));
      expect(form).toEqual([200, 200, 200]);
      const busy = await fetch(`${small.baseUrl}/webinars/busy/register`, { method: 'POST', headers: FORM, body: 'lang=de&email=a%40example.com' });
      expect(busy.status).toBe(429);
      expect(await busy.text()).toContain('Zu viele Anfragen');
    } finally {
      await small.close();
    }
  });
});
