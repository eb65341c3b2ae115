// What the customer sees, judged by outside referees: every kind of mail (captured from the SMTP
// sink) and every customer page, in German and English, for a company with its own look.
// - axe-core in Chromium over every page: no serious or critical accessibility violation.
// - SpamAssassin's local rules (Debian package `spamassassin`) over every mail: score ≤ 1.0.
// - Screenshots of every mail and page at desktop (1280) and phone (390) widths, light and dark,
//   into test-artifacts/ (gitignored), with the dark palette and the phone layout checked.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext } from 'playwright-core';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { DigestsService } from '../../src/digests/digests.service';
import { TokenService } from '../../src/links/tokens';
import { ConfirmationService } from '../../src/subscribers/confirmation.service';
import { WebinarRegistrationsService } from '../../src/webinars/webinar-registrations.service';
import { startTestApp, TestApp } from '../support/app';
import { ARTIFACTS, launchBrowser } from '../support/browser';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SinkMessage, SmtpSink, startSmtpSink } from '../support/smtp-sink';

const run = promisify(execFile);
const LOCALES = ['de', 'en'] as const;
type Lang = (typeof LOCALES)[number];

const BRAND = {
  BRAND_NAME: 'Kaffeerösterei Beispiel',
  BRAND_COLOR_PRIMARY: '#7c2d12',
  BRAND_COLOR_TEXT: '#1c1917',
  BRAND_COLOR_BACKGROUND: '#f5f5f4',
  BRAND_ADDRESS_DE: 'Kaffeerösterei Beispiel GmbH, Hafenstraße 5, 20457 Hamburg',
  BRAND_ADDRESS_EN: 'Kaffeerösterei Beispiel GmbH, Hafenstraße 5, 20457 Hamburg, Germany',
  BRAND_IMPRINT_URL: 'https://www.kaffee-beispiel.de/impressum',
  BRAND_PRIVACY_URL: 'https://www.kaffee-beispiel.de/datenschutz',
  MAIL_FROM: 'Kaffeerösterei Beispiel <post@kaffee-beispiel.de>',
};

/** Every message the templates know; each must be captured in both languages. */
const KINDS = [
  'confirm_subscription',
  'confirm_reminder',
  'campaign',
  'digest',
  'order_confirmation',
  'shipment_shipped',
  'shipment_out_for_delivery',
  'shipment_exception',
  'webinar_confirmation',
  'webinar_update',
  'webinar_cancellation',
  'webinar_reminder',
];

let t: TestApp;
let sink: SmtpSink;
let browser: Browser;
const clock = new FakeClock('2026-03-02T09:00:00Z'); // Monday, 10:00 in Berlin
const drain = () => t.app.get(DeliveryWorker).drain();
const local = (url: string) => url.replace('http://tactful.test', t.baseUrl);
const tokens = () => t.app.get(TokenService);

/** The kind of a captured mail, from its Feedback-ID (`ref:kind:class:tactful`). */
function kindOf(mail: SinkMessage): string {
  const header = mail.parsed.headers.get('feedback-id');
  return String(header ?? '').split(':')[1] ?? 'unknown';
}
const langOf = (mail: SinkMessage): Lang => (/<html lang="de"/.test(String(mail.parsed.html)) ? 'de' : 'en');
const to = (email: string) => sink.messages.filter((m) => m.envelope.rcptTo.includes(email));

async function ok(res: Promise<{ status: number; body: any }>, status = 201): Promise<any> {
  const answer = await res;
  if (answer.status !== status) throw new Error(`expected ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** Drives the app through every kind of mail in both languages; returns people and links the pages need. */
async function sendEverything() {
  await createTopics(t, ['trade-fairs', 'markets']);
  const people: Record<Lang, { reader: string; unsubscribed: string; pendingId: string; webinarSlug: string }> = {} as never;
  for (const lang of LOCALES) {
    // Double opt-in, and (later) its one reminder.
    const pending = await ok(t.api('POST', '/v1/subscribers', { body: { email: `pending-${lang}@example.com`, locale: lang, topics: ['trade-fairs'] } }));
    const ids = await importConfirmed(t, [
      { email: `reader-${lang}@example.com`, locale: lang, topics: ['trade-fairs'] },
      { email: `gone-${lang}@example.com`, locale: lang, topics: ['trade-fairs'] },
      { email: `digest-${lang}@example.com`, locale: lang, topics: ['markets'], digestWeekday: 1, digestHour: 10 },
    ]);
    people[lang] = { reader: ids.get(`reader-${lang}@example.com`)!, unsubscribed: ids.get(`gone-${lang}@example.com`)!, pendingId: pending.id, webinarSlug: `roestkurs-${lang}` };
  }
  // A campaign to both readers (with feedback links), and a digest for the digest readers at their slot.
  const campaign = await createCampaign(t, {
    name: 'Frühjahrsmesse',
    topic: 'trade-fairs',
    subject: { de: 'Wir rösten live auf der Frühjahrsmesse', en: 'We roast live at the spring fair' },
    body: {
      de: '<h1>Besuchen Sie uns in Halle 4</h1><p>Vom 12. bis 15. März rösten wir am Stand B12 jeden Morgen eine neue Sorte. Kommen Sie vorbei und probieren Sie.</p>',
      en: '<h1>Visit us in hall 4</h1><p>From 12 to 15 March we roast a new coffee every morning at stand B12. Come by and taste it.</p>',
    },
  });
  await ok(t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} }), 200);
  await t.app.get(CampaignDispatchService).dispatchDue();
  await ok(
    t.api('POST', '/v1/digest-items', {
      body: {
        topic: 'markets',
        title: { de: 'Kaffeepreise sinken', en: 'Coffee prices fall' },
        summary: { de: 'Der Rohkaffee wird im April günstiger.', en: 'Green coffee gets cheaper in April.' },
        url: 'https://www.kaffee-beispiel.de/markt',
      },
    }),
  );
  await t.app.get(DigestsService).composeDue();
  await drain();

  // An order, and its parcel through shipped, out for delivery and a delivery problem.
  for (const lang of LOCALES) {
    const email = `buyer-${lang}@example.com`;
    const number = `K-${lang}-1`;
    await ok(t.api('POST', '/v1/orders', { body: { number, email, locale: lang, items: [{ sku: 'ESP', name: 'Espresso, 500 g', quantity: 2 }], placedAt: '2026-03-02T08:00:00Z' } }));
    const shipment = await ok(
      t.api('POST', '/v1/shipments', { body: { orderNumber: number, carrier: 'dhl', trackingNumber: `00340${lang === 'de' ? 1 : 2}`, trackingUrl: `https://track.example.com/00340?lang=${lang}` } }),
    );
    for (const [i, status] of ['out_for_delivery', 'exception'].entries()) {
      clock.advance(30 * 60_000);
      await drain();
      await ok(t.api('POST', `/v1/shipments/${shipment.id}/events`, { body: { eventId: `${lang}-${i}`, status, occurredAt: clock.now().toISOString() } }), 200);
    }
    clock.advance(30 * 60_000);
    await drain();
  }

  // A webinar per language: registration, a new time, a reminder and the organiser's cancellation.
  for (const lang of LOCALES) {
    const webinar = await ok(
      t.api('POST', '/v1/webinars', {
        body: {
          slug: people[lang].webinarSlug,
          topic: 'trade-fairs',
          title: { de: 'Röstkurs für Einsteiger', en: 'Roasting for beginners' },
          description: { de: 'Wie aus grünen Bohnen guter Kaffee wird.', en: 'How green beans become good coffee.' },
          joinUrl: 'https://meet.example.com/j/42',
          startsAt: '2026-03-20T09:00:00Z',
          endsAt: '2026-03-20T10:00:00Z',
        },
      }),
    );
    await ok(t.api('POST', `/v1/webinars/${webinar.id}/registrations`, { body: { email: `guest-${lang}@example.com`, locale: lang, firstName: 'Anna' } }));
    await drain();
    await ok(t.api('PATCH', `/v1/webinars/${webinar.id}`, { body: { startsAt: '2026-03-21T09:00:00Z', endsAt: '2026-03-21T10:00:00Z' } }), 200);
    await drain();
  }
  const before = clock.now();
  clock.set('2026-03-20T09:00:30Z');
  await t.app.get(WebinarRegistrationsService).sendDueReminders();
  await drain();
  // The German webinar stays (its registration page is judged); the English one is cancelled (its 410 page too).
  // The German one: a second guest unregisters themselves (the cancellation the customer asked for).
  const [stays] = (await ok(t.api('GET', '/v1/webinars'), 200)).filter((w: any) => w.slug === people.de.webinarSlug);
  await ok(t.api('POST', `/v1/webinars/${stays.id}/registrations`, { body: { email: 'leaver-de@example.com', locale: 'de' } }));
  await drain();
  const leave = to('leaver-de@example.com')
    .map((m) => /http:\/\/tactful\.test\/webinars\/unregister\/[\w.-]+/.exec(m.parsed.text ?? '')?.[0])
    .find(Boolean)!;
  expect((await fetch(local(leave), { method: 'POST', body: '', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(200);
  await drain();
  const [cancel] = (await ok(t.api('GET', '/v1/webinars'), 200)).filter((w: any) => w.slug === people.en.webinarSlug);
  await ok(t.api('POST', `/v1/webinars/${cancel.id}/cancel`), 200);
  await drain();
  clock.set(before);

  // The confirmation reminder, four days later; and the unsubscribed ones.
  clock.advance(4 * 86_400_000);
  await t.app.get(ConfirmationService).sendReminders();
  await drain();
  for (const lang of LOCALES) {
    const res = await fetch(local(tokens().url('unsubscribe', people[lang].unsubscribed)), { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(200);
  }
  return people;
}

let people: Awaited<ReturnType<typeof sendEverything>>;

beforeAll(async () => {
  sink = await startSmtpSink();
  t = await startTestApp({ clock, env: { SMTP_URL: sink.url, CUSTOMER_RATE_LIMIT_PER_IP: '5000', ...BRAND } });
  browser = await launchBrowser();
  people = await sendEverything();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
  await sink?.close();
});

describe('every kind of mail, in German and English', () => {
  it('is captured from the SMTP sink', () => {
    const seen = new Set(sink.messages.map((m) => `${kindOf(m)}/${langOf(m)}`));
    const missing = KINDS.flatMap((kind) => LOCALES.map((lang) => `${kind}/${lang}`)).filter((k) => !seen.has(k));
    expect(missing).toEqual([]);
  });

  it('shows the company, its address, imprint and privacy policy, never the word Tactful', () => {
    for (const mail of sink.messages) {
      const lang = langOf(mail);
      const html = String(mail.parsed.html);
      expect(html).toContain(BRAND.BRAND_NAME);
      expect(mail.parsed.text).toContain(lang === 'de' ? BRAND.BRAND_ADDRESS_DE : BRAND.BRAND_ADDRESS_EN);
      expect(html).toContain(`href="${BRAND.BRAND_IMPRINT_URL}"`);
      expect(html).toContain(`href="${BRAND.BRAND_PRIVACY_URL}"`);
      expect(`${html}\n${mail.parsed.text}\n${mail.parsed.subject}`).not.toMatch(/tactful(?!\.test)/i);
    }
  });

  it('has a preheader, a heading element, and light and dark colour schemes', () => {
    for (const mail of sink.messages) {
      const html = String(mail.parsed.html);
      const preheader = /<div style="display:none;[^"]*">([^<]+)<\/div>/.exec(html)?.[1]?.trim() ?? '';
      expect({ kind: kindOf(mail), preheader: preheader.length > 10 }).toEqual({ kind: kindOf(mail), preheader: true });
      if (kindOf(mail) !== 'campaign') expect({ kind: kindOf(mail), heading: /<h1[\s>]/.test(html) }).toEqual({ kind: kindOf(mail), heading: true });
      expect(html).toContain('<meta name="color-scheme" content="light dark">');
      expect(html).toMatch(/@media \(prefers-color-scheme: dark\)/);
    }
  });

  it('scores at most 1.0 with SpamAssassin, each of them (local rules, one process for the batch)', async () => {
    const spamassassin = ['/usr/bin/spamassassin', '/usr/local/bin/spamassassin'].find((p) => {
      try {
        return statSync(p).isFile();
      } catch {
        return false;
      }
    });
    if (!spamassassin) throw new Error('No spamassassin: install the Debian package (apt-get install -y spamassassin); .ci/run does it when missing.');
    const mails = sink.messages;
    // One mbox, one SpamAssassin process: loading the rules costs about a second, scoring a mail milliseconds.
    const mbox = mails.map((m) => `From tactful@localhost Mon Mar  2 09:00:00 2026\n${m.raw.replace(/\r\n/g, '\n').replace(/^(>*From )/gm, '>$1')}\n`).join('\n');
    const file = join(tmpdir(), `tactful-spam-${process.pid}.mbox`);
    writeFileSync(file, mbox);
    const started = performance.now();
    const { stdout } = await run(spamassassin, ['-L', '-t', '--mbox', file], { maxBuffer: 64 * 1024 * 1024 });
    const batchMs = performance.now() - started;
    const one = join(tmpdir(), `tactful-spam-${process.pid}.eml`);
    writeFileSync(one, mails[0].raw);
    const single = performance.now();
    await run(spamassassin, ['-L', '-t', one]);
    const oneProcessMs = performance.now() - single;
    const results = stdout
      .split(/^From tactful@localhost .*$/m)
      .filter((chunk) => /X-Spam-Status:/.test(chunk))
      .map((chunk) => {
        const status = /^X-Spam-Status: (.*(?:\n[ \t].*)*)/m.exec(chunk)?.[1].replace(/\s+/g, ' ') ?? '';
        const messageId = /^Message-ID: (.*)$/im.exec(chunk)?.[1].trim();
        const mail = mails.find((m) => m.parsed.messageId === messageId);
        return { mail: mail ? `${kindOf(mail)}/${langOf(mail)}` : messageId, score: Number(/score=(-?[\d.]+)/.exec(status)?.[1]), tests: /tests=([^ ]*(?: [A-Z_0-9,]+)*)/.exec(status)?.[1] ?? '' };
      });
    console.log(
      `SpamAssassin: ${results.length} mails in ${Math.round(batchMs)} ms in one process (a single start alone: ${Math.round(oneProcessMs)} ms); highest ${Math.max(...results.map((r) => r.score))}`,
    );
    writeFileSync(join(ARTIFACTS, 'spamassassin.json'), JSON.stringify(results, null, 2));
    expect(results).toHaveLength(mails.length);
    expect(results.filter((r) => !(r.score <= 1.0))).toEqual([]);
  }, 120_000);
});

/** The customer pages, with how to reach each: a path, or steps in the browser. */
function pages(lang: Lang): { name: string; url: string; method?: 'POST'; status?: number }[] {
  const p = people[lang];
  const sign = (purpose: 'preferences' | 'unsubscribe' | 'confirm', id: string) => local(tokens().url(purpose, id));
  const feedback = to(`reader-${lang}@example.com`)
    .map((m) => /http:\/\/tactful\.test\/f\/[\w.\-?=&]+/.exec(m.parsed.text ?? '')?.[0])
    .find(Boolean);
  const unregister = to(`guest-${lang}@example.com`)
    .map((m) => /http:\/\/tactful\.test\/webinars\/unregister\/[\w.-]+/.exec(m.parsed.text ?? '')?.[0])
    .find(Boolean);
  return [
    { name: 'preferences', url: sign('preferences', p.reader) },
    { name: 'preferences-unsubscribed', url: sign('preferences', p.unsubscribed) },
    { name: 'unsubscribe', url: sign('unsubscribe', p.reader) },
    { name: 'unsubscribe-already', url: sign('unsubscribe', p.unsubscribed) },
    { name: 'confirm', url: sign('confirm', p.pendingId) },
    { name: 'feedback', url: local(feedback!) },
    { name: 'webinar-register', url: `${t.baseUrl}/webinars/${people.de.webinarSlug}/register?lang=${lang}` },
    { name: 'webinar-unregister', url: local(unregister!) },
    { name: 'webinar-closed', url: `${t.baseUrl}/webinars/${people.en.webinarSlug}/register?lang=${lang}`, status: 410 },
    { name: 'invalid-link', url: `${t.baseUrl}/p/not-a-token`, status: 404 },
    { name: 'unknown-webinar', url: `${t.baseUrl}/webinars/no-such-webinar/register`, status: 404 },
  ];
}

async function context(lang: Lang, width: number, scheme: 'light' | 'dark'): Promise<BrowserContext> {
  return browser.newContext({
    viewport: { width, height: width < 500 ? 844 : 900 },
    locale: lang === 'de' ? 'de-DE' : 'en-US',
    extraHTTPHeaders: { 'accept-language': lang === 'de' ? 'de-DE,de;q=0.9' : 'en-US,en;q=0.9' },
    colorScheme: scheme,
    // axe is injected as a script; the pages' CSP (rightly) allows only their own.
    bypassCSP: true,
  });
}

describe.each(LOCALES)('every customer page in %s', (lang) => {
  const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

  it('speaks the language, shows the brand with imprint and privacy links, and has no serious or critical axe-core violation', async () => {
    const ctx = await context(lang, 1280, 'light');
    const found: { page: string; problems: unknown[] }[] = [];
    try {
      for (const spec of pages(lang)) {
        const page = await ctx.newPage();
        const res = await page.goto(spec.url);
        expect({ page: spec.name, status: res?.status() }).toEqual({ page: spec.name, status: spec.status ?? 200 });
        expect({ page: spec.name, lang: await page.getAttribute('html', 'lang') }).toEqual({ page: spec.name, lang });
        const footer = await page.locator('footer').innerText();
        expect(footer).toContain(BRAND.BRAND_NAME);
        expect(await page.locator(`footer a[href="${BRAND.BRAND_IMPRINT_URL}"]`).count()).toBe(1);
        expect(await page.locator(`footer a[href="${BRAND.BRAND_PRIVACY_URL}"]`).count()).toBe(1);
        expect(await page.content()).not.toMatch(/Tactful/);
        await page.evaluate(axeSource);
        const violations = await page.evaluate(async () => {
          const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
          const result = await axe.run(document, { resultTypes: ['violations'] });
          return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
        });
        const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        if (serious.length) found.push({ page: spec.name, problems: serious });
        await page.close();
      }
    } finally {
      await ctx.close();
    }
    expect(found).toEqual([]);
  }, 120_000);

  it('says an unsubscribed customer is unsubscribed and how to come back, without an unsubscribe button', async () => {
    const ctx = await context(lang, 1280, 'light');
    const page = await ctx.newPage();
    await page.goto(pages(lang).find((p) => p.name === 'unsubscribe-already')!.url);
    expect(await page.locator('h1').innerText()).toBe(lang === 'de' ? 'Sie sind bereits abgemeldet' : 'You are unsubscribed already');
    expect(await page.locator('button').count()).toBe(0);
    expect(await page.locator('main a[href*="/p/"]').count()).toBe(1);
    await page.goto(pages(lang).find((p) => p.name === 'preferences-unsubscribed')!.url);
    expect(await page.locator('form.unsubscribe').count()).toBe(0);
    expect(await page.getByTestId('unsubscribed').count()).toBe(1);
    await ctx.close();
  });

  it('keeps the first topic checkbox at least 24 × 24 px on a phone', async () => {
    const ctx = await context(lang, 390, 'light');
    const page = await ctx.newPage();
    await page.goto(pages(lang)[0].url);
    const box = await page.locator('input[name="topics"]').first().boundingBox();
    expect(box!.width).toBeGreaterThanOrEqual(24);
    expect(box!.height).toBeGreaterThanOrEqual(24);
    await ctx.close();
  });

  it('is photographed at 1280 and 390 px, light and dark; the dark one is dark', async () => {
    const dir = join(ARTIFACTS, 'pages');
    mkdirSync(dir, { recursive: true });
    for (const width of [1280, 390]) {
      for (const scheme of ['light', 'dark'] as const) {
        const ctx = await context(lang, width, scheme);
        for (const spec of pages(lang)) {
          const page = await ctx.newPage();
          await page.goto(spec.url);
          const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
          expect({ page: spec.name, scheme, background }).toEqual({ page: spec.name, scheme, background: scheme === 'dark' ? 'rgb(17, 24, 39)' : 'rgb(245, 245, 244)' });
          const file = join(dir, `${spec.name}-${lang}-${width}-${scheme}.png`);
          await page.screenshot({ path: file, fullPage: true });
          expect(statSync(file).size).toBeGreaterThan(1000);
          await page.close();
        }
        await ctx.close();
      }
    }
  }, 600_000);
});

describe('every mail, photographed', () => {
  it('at 1280 and 390 px, light and dark; dark mode turns the backdrop and the card dark and keeps text readable', async () => {
    const dir = join(ARTIFACTS, 'mails');
    mkdirSync(dir, { recursive: true });
    const seen = new Set<string>();
    for (const width of [1280, 390]) {
      for (const scheme of ['light', 'dark'] as const) {
        const ctx = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme, javaScriptEnabled: false });
        for (const mail of sink.messages) {
          const name = `${kindOf(mail).replace(/_/g, '-')}-${langOf(mail)}`;
          if (seen.has(`${name}/${width}/${scheme}`)) continue;
          seen.add(`${name}/${width}/${scheme}`);
          const page = await ctx.newPage();
          await page.setContent(String(mail.parsed.html), { waitUntil: 'load' });
          const colours = await page.evaluate(() => {
            const card = document.querySelector('.content') as HTMLElement;
            // The first mj-text: MJML writes its colour on the div inside the cell.
            const text = card.querySelector('td[style*="word-break"] > div') as HTMLElement;
            // MJML paints the backdrop twice: on the body and on the article wrapper inside it.
            const wrapper = document.querySelector('[role="article"]') as HTMLElement;
            const backdrop = [getComputedStyle(document.body).backgroundColor, getComputedStyle(wrapper).backgroundColor];
            return { body: backdrop[0] === backdrop[1] ? backdrop[0] : backdrop.join(' / '), card: getComputedStyle(card).backgroundColor, text: getComputedStyle(text).color };
          });
          expect({ name, scheme, colours }).toEqual({
            name,
            scheme,
            colours:
              scheme === 'dark'
                ? { body: 'rgb(17, 24, 39)', card: 'rgb(31, 41, 55)', text: 'rgb(229, 231, 235)' }
                : { body: 'rgb(245, 245, 244)', card: 'rgb(255, 255, 255)', text: expect.stringMatching(/^rgb\((28, 25, 23|17, 24, 39)\)$/) },
          });
          const file = join(dir, `${name}-${width}-${scheme}.png`);
          await page.screenshot({ path: file, fullPage: true });
          expect(statSync(file).size).toBeGreaterThan(1000);
          await page.close();
        }
        await ctx.close();
      }
    }
    expect(seen.size).toBe(KINDS.length * LOCALES.length * 4);
  }, 600_000);
});
