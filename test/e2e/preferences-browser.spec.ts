// A customer in a real browser: from the mail's preferences link to a saved change, by mouse and
// by keyboard, on desktop and phone widths; then the timeline and the next campaign reflect it.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { startTestApp, TestApp } from '../support/app';
import { ARTIFACTS, launchBrowser } from '../support/browser';
import { createCampaign, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

describe('the preferences page in Chromium', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let browser: Browser;
  const clock = new FakeClock('2026-03-02T09:00:00Z'); // Monday 10:00 in Berlin

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
    browser = await launchBrowser();
    for (const [key, de, en] of [
      ['trade-fairs', 'Messen und Termine', 'Trade fairs and dates'],
      ['offers', 'Neue Angebote', 'New offers'],
    ]) {
      await t.api('POST', '/v1/topics', { body: { key, nameDe: de, nameEn: en, descriptionEn: `When ${en.toLowerCase()} change.` } });
    }
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await sink?.close();
  });

  async function preferencesLinkFromMail(email: string): Promise<string> {
    const campaign = await createCampaign(t, { name: `to ${email}`, topic: 'trade-fairs' });
    await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    await t.app.get(DeliveryWorker).drain();
    const mail = sink.messages.filter((m) => m.envelope.rcptTo.includes(email)).pop()!;
    const link = /http:\/\/tactful\.test\/p\/[\w.-]+/.exec(mail.parsed.text ?? '')![0];
    return link.replace('http://tactful.test', t.baseUrl);
  }

  it('lets a customer drop a topic and switch to every two weeks; the page, the timeline and the next campaign show it', async () => {
    const ids = await importConfirmed(t, [{ email: 'browser@example.com', locale: 'en', topics: ['trade-fairs', 'offers'], digestWeekday: 4, digestHour: 9 }]);
    const id = ids.get('browser@example.com')!;
    const link = await preferencesLinkFromMail('browser@example.com');

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(link);
    await page.screenshot({ path: join(ARTIFACTS, 'preferences-desktop.png'), fullPage: true });
    const before = await page.getByTestId('next-newsletter').innerText();
    // Today's mail (Monday 10:00) holds the week until Monday 9 March 10:00, past the 09:00 slot hour: Tuesday.
    expect(before).toContain('Tuesday, 10 March 2026 at 09:00');
    await page.getByLabel('Trade fairs and dates').uncheck();
    await page.getByLabel('at most once every two weeks').check();
    await page.getByRole('button', { name: 'Save' }).click();

    await page.waitForSelector('[role=status]');
    const notice = await page.getByRole('status').innerText();
    expect(notice).toContain('Unsubscribed from: Trade fairs and dates');
    expect(notice).toContain('Rhythm: at most once every two weeks');
    const after = await page.getByTestId('next-newsletter').innerText();
    expect(after).not.toBe(before);
    expect(after).toContain('Tuesday, 17 March 2026 at 09:00');
    expect(await page.getByLabel('Trade fairs and dates').isChecked()).toBe(false);

    const timeline = await t.api('GET', `/v1/subscribers/${id}/timeline`);
    expect(timeline.body.cadence).toBe('biweekly');
    expect(timeline.body.nextMarketingSlot).toBe('2026-03-16T09:00:00.000Z');

    clock.advance(15 * 86_400_000);
    const next = await createCampaign(t, { name: 'after the change', topic: 'trade-fairs' });
    await t.api('POST', `/v1/campaigns/${next}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    const stats = await t.api('GET', `/v1/campaigns/${next}/stats`);
    expect(stats.body.byReason).toEqual({ suppressed_unsubscribed: 1 });
    await page.close();
  }, 60_000);

  it('works with the keyboard alone, and on a phone-sized screen', async () => {
    await importConfirmed(t, [{ email: 'keys@example.de', locale: 'de', topics: ['trade-fairs'] }]);
    const link = await preferencesLinkFromMail('keys@example.de');
    const page: Page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await page.goto(link);
    await page.screenshot({ path: join(ARTIFACTS, 'preferences-mobile.png'), fullPage: true });
    // Nothing wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

    // Tab to the "Neue Angebote" checkbox and tick it with the space bar, then tab to Save and press Enter.
    let focused = '';
    for (let i = 0; i < 40 && focused !== 'topic-offers'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id ?? '');
    }
    expect(focused).toBe('topic-offers');
    await page.keyboard.press('Space');
    for (let i = 0; i < 80 && (await page.evaluate(() => document.activeElement?.textContent?.trim())) !== 'Speichern'; i++) {
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Enter');
    await page.waitForSelector('[role=status]');
    expect(await page.getByRole('status').innerText()).toContain('Thema abonniert: Neue Angebote');
    await page.close();
  }, 60_000);
});
