// The public webinar registration page in a real browser: German and English, with and without
// JavaScript, by keyboard, a wrong address corrected, the confirmation link followed (double
// opt-in), a second submission answered exactly like the first.
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { startTestApp, TestApp } from '../support/app';
import { ARTIFACTS, launchBrowser } from '../support/browser';
import { createTopics } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

describe('the webinar registration page in Chromium', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let browser: Browser;
  let url: string;
  const clock = new FakeClock('2026-03-02T09:00:00Z');

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
    browser = await launchBrowser();
    await createTopics(t, ['payment-terms']);
    const res = await t.api('POST', '/v1/webinars', {
      body: {
        slug: 'zahlungsziele',
        topic: 'payment-terms',
        title: { de: 'Zahlungsziele richtig nutzen', en: 'Making the most of payment terms' },
        description: { de: 'Was 60 Tage Zahlungsziel bedeuten.\n\nMit Beispielen aus dem Großhandel.', en: 'What 60 days of payment terms mean.' },
        startsAt: '2026-03-10T09:00:00Z',
        endsAt: '2026-03-10T10:00:00Z',
        joinUrl: 'https://meet.example.com/j/42',
        capacity: 3,
        series: { key: 'liquiditaet', title: { de: 'Liquidität', en: 'Cash flow' } },
        part: 1,
      },
    });
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
    url = `${t.baseUrl}/webinars/zahlungsziele/register`;
  }, 60_000);
  /** The link of the newest "confirm your registration" mail to this address, on this server. */
  const confirmLink = async (email: string) => {
    await t.app.get(DeliveryWorker).drain();
    const mail = sink.messages.filter((m) => m.envelope.rcptTo.includes(email) && /confirm/.test(m.parsed.text ?? '')).at(-1);
    return /http:\/\/tactful\.test(\/webinars\/[\w-]+\/confirm\/[\w.-]+)/.exec(mail!.parsed.text!)![1];
  };

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await sink?.close();
  });

  it('registers by keyboard in German, corrects a wrong address, and takes the visitor’s own time zone', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'America/New_York', locale: 'de-DE' });
    const page = await context.newPage();
    await page.goto(url);
    expect(await page.getAttribute('html', 'lang')).toBe('de');
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Zahlungsziele richtig nutzen');
    expect(await page.locator('main').innerText()).toContain('Dienstag, 10. März 2026, 10:00–11:00 Uhr (Europe/Berlin)');
    // Every visible control has a label (screen readers, click targets).
    const unlabeled = await page.$$eval('main input:not([type=hidden]), main select', (els) =>
      els.filter((el) => (el as HTMLInputElement).labels?.length === 0).map((el) => el.id),
    );
    expect(unlabeled).toEqual([]);
    expect(await page.getByLabel('Ihre Zeitzone').inputValue()).toBe('America/New_York');

    await page.getByLabel('E-Mail-Adresse').fill('anna@');
    await page.getByLabel('E-Mail-Adresse').press('Enter');
    await page.waitForSelector('[role=alert]');
    expect(await page.getByRole('alert').innerText()).toContain('Bitte geben Sie eine gültige E-Mail-Adresse ein');
    expect(await page.getByLabel('E-Mail-Adresse').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('E-Mail-Adresse').inputValue()).toBe('anna@');
    expect(await t.sql(`SELECT 1 FROM webinar_registrations`)).toEqual([]);

    await page.getByLabel('E-Mail-Adresse').fill('anna@example.de');
    await page.keyboard.press('Tab');
    await page.keyboard.type('Anna');
    await page.getByLabel(/Auch für alle weiteren Teile der Reihe „Liquidität“/).check();
    await page.getByRole('button', { name: 'Kostenlos anmelden' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('h1:has-text("Bitte sehen Sie in Ihr Postfach")');
    const body = await page.locator('main').innerText();
    expect(body).toContain('Angemeldet sind Sie, sobald Sie den Link anklicken');
    expect(body).toContain('Mit der Bestätigung melden Sie sich auch für alle weiteren Teile der Reihe an.');
    expect(body).toContain('Durch diese Anmeldung erhalten Sie keinen Newsletter');
    expect(body).not.toContain('anna@example.de');
    await page.screenshot({ path: join(ARTIFACTS, 'webinar-check-inbox-desktop.png'), fullPage: true });
    expect(await t.sql(`SELECT 1 FROM subscribers WHERE email = 'anna@example.de'`)).toEqual([]);

    // The link in the mail opens a page with one button (a prefetch changes nothing); the button registers.
    await page.goto(t.baseUrl + (await confirmLink('anna@example.de')));
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Anmeldung bestätigen');
    expect(await page.locator('main').innerText()).toContain('Auch für alle weiteren Teile der Reihe „Liquidität“.');
    await page.getByRole('button', { name: 'Anmeldung bestätigen' }).click();
    await page.waitForSelector('h1:has-text("Sie sind angemeldet")');
    expect(await page.locator('main').innerText()).toContain('Wir haben die Bestätigung mit dem Kalendereintrag an anna@example.de geschickt.');
    await page.screenshot({ path: join(ARTIFACTS, 'webinar-registered-desktop.png'), fullPage: true });

    const [subscriber] = await t.sql(
      `SELECT s.status, s.source, s.locale, s.time_zone, s.attributes, r.source AS registration_source,
              (SELECT count(*)::int FROM topic_subscriptions ts WHERE ts.subscriber_id = s.id) AS topics,
              (SELECT count(*)::int FROM webinar_series_registrations sr WHERE sr.subscriber_id = s.id) AS series
       FROM subscribers s JOIN webinar_registrations r ON r.subscriber_id = s.id WHERE s.email = 'anna@example.de'`,
    );
    expect(subscriber).toEqual({
      status: 'pending',
      source: 'webinar',
      locale: 'de',
      time_zone: 'America/New_York',
      attributes: { firstName: 'Anna' },
      registration_source: 'page',
      topics: 0,
      series: 1,
    });
    await t.app.get(DeliveryWorker).drain();
    const [ask, mail] = sink.messages.filter((m) => m.envelope.rcptTo.includes('anna@example.de'));
    expect(ask.parsed.subject).toBe('Bitte bestätigen Sie Ihre Anmeldung: Zahlungsziele richtig nutzen');
    expect(mail.parsed.subject).toBe('Anmeldung bestätigt: Zahlungsziele richtig nutzen');
    expect(mail.parsed.text).toContain('Hallo Anna,');
    expect(mail.parsed.text).toContain('Dienstag, 10. März 2026, 05:00–06:00 Uhr (America/New_York)');

    // The same address again, registered now: the same answer as the first time (the form must not
    // tell a registered address from an unknown or an erased one), and no further mail.
    await page.goto(url);
    await page.getByLabel('E-Mail-Adresse').fill('anna@example.de');
    await page.getByLabel(/Auch für alle weiteren Teile der Reihe „Liquidität“/).check();
    await page.getByRole('button', { name: 'Kostenlos anmelden' }).click();
    await page.waitForSelector('h1:has-text("Bitte sehen Sie in Ihr Postfach")');
    expect(await page.locator('main').innerText()).toBe(body);
    await t.app.get(DeliveryWorker).drain();
    expect(sink.messages.filter((m) => m.envelope.rcptTo.includes('anna@example.de'))).toHaveLength(2);
    await context.close();
  });

  it('works without JavaScript in English on a phone, keeping the webinar’s time zone', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 740 }, javaScriptEnabled: false, timezoneId: 'Asia/Tokyo' });
    const page = await context.newPage();
    await page.goto(`${url}?lang=en`);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator('main').innerText()).toContain('Tuesday, 10 March 2026, 10:00–11:00 (Europe/Berlin)');
    expect(await page.getByLabel('Your time zone').inputValue()).toBe('Europe/Berlin');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(375);
    await page.getByLabel('Email address').fill('ben@example.com');
    await page.getByRole('button', { name: 'Register for free' }).click();
    await page.waitForSelector('h1:has-text("Please check your inbox")');
    await page.screenshot({ path: join(ARTIFACTS, 'webinar-check-inbox-phone.png'), fullPage: true });
    await page.goto(t.baseUrl + (await confirmLink('ben@example.com')));
    await page.getByRole('button', { name: 'Confirm registration' }).click();
    await page.waitForSelector('h1:has-text("You are registered")');
    await page.screenshot({ path: join(ARTIFACTS, 'webinar-registered-phone.png'), fullPage: true });
    const [row] = await t.sql(`SELECT s.locale, s.time_zone FROM subscribers s WHERE s.email = 'ben@example.com'`);
    expect(row).toEqual({ locale: 'en', time_zone: 'Europe/Berlin' });
    await context.close();
  });

  it('shows a full webinar without a form, and says why', async () => {
    await t.api('POST', '/v1/webinars/' + (await t.sql(`SELECT id FROM webinars WHERE slug = 'zahlungsziele'`))[0].id + '/registrations', { body: { email: 'third@example.com' } });
    const page = await browser.newPage();
    await page.goto(`${url}?lang=en`);
    expect(await page.getByRole('status').innerText()).toBe('Sorry, this webinar is fully booked.');
    expect(await page.locator('form').count()).toBe(0);
    await page.close();
  });
});
