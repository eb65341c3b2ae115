// A customer in Chromium: from the "not useful" link in a mail to a recorded answer with a
// comment, by keyboard; then their preferences page shows how they rated the topic's mails.
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { startTestApp, TestApp } from '../support/app';
import { ARTIFACTS, launchBrowser } from '../support/browser';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

describe('the feedback page in Chromium', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let browser: Browser;
  const clock = new FakeClock('2026-03-02T09:00:00Z');

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
    browser = await launchBrowser();
    await createTopics(t, ['trade-fairs']);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await sink?.close();
  });

  it('records a "not useful" with a comment from the mail link, shows it escaped, and the preferences page shows the rating', async () => {
    const ids = await importConfirmed(t, [{ email: 'chromium@example.com', locale: 'en', topics: ['trade-fairs'] }]);
    const id = ids.get('chromium@example.com')!;
    const campaign = await createCampaign(t, {
      name: 'browser',
      topic: 'trade-fairs',
      subject: { en: 'Hall plans for spring' },
      body: { en: '<p>Plans.</p>' },
    });
    await t.api('POST', `/v1/campaigns/${campaign}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    await t.app.get(DeliveryWorker).drain();
    const mail = sink.messages.find((m) => m.envelope.rcptTo.includes('chromium@example.com'))!;
    const link = /Not useful: (http:\/\/tactful\.test\/f\/\S+)/.exec(mail.parsed.text ?? '')![1].replace('http://tactful.test', t.baseUrl);

    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(link);
    expect(await page.getByLabel('Not useful').isChecked()).toBe(true);
    expect(await page.getByLabel('Useful', { exact: true }).isChecked()).toBe(false);
    expect(await t.sql(`SELECT 1 FROM feedback WHERE subscriber_id = $1`, [id])).toEqual([]);
    await page.getByLabel('What would you like to hear about from us?').fill('Less <b>hall</b> plans, more exhibitor lists');
    await page.screenshot({ path: join(ARTIFACTS, 'feedback-phone.png'), fullPage: true });
    await page.getByLabel('What would you like to hear about from us?').press('Tab');
    await page.keyboard.press('Enter');
    await page.getByTestId('feedback-notice').waitFor();
    expect(await page.getByTestId('feedback-notice').innerText()).toContain('We noted your answer: Not useful');
    expect(await page.getByLabel('What would you like to hear about from us?').inputValue()).toBe('Less <b>hall</b> plans, more exhibitor lists');
    expect(await page.locator('main b').count()).toBe(0); // the comment is text, never markup
    expect(await t.sql(`SELECT rating, comment FROM feedback WHERE subscriber_id = $1`, [id])).toEqual([
      { rating: 'not_useful', comment: 'Less <b>hall</b> plans, more exhibitor lists' },
    ]);

    // Change of mind: the same page, the other answer.
    await page.getByLabel('Useful', { exact: true }).check();
    await page.getByRole('button', { name: 'Send answer' }).click();
    await page.getByText('We changed your answer to: Useful').waitFor();
    expect(await t.sql(`SELECT rating FROM feedback WHERE subscriber_id = $1`, [id])).toEqual([{ rating: 'useful' }]);

    const preferences = /http:\/\/tactful\.test\/p\/[\w.-]+/.exec(mail.parsed.text ?? '')![0].replace('http://tactful.test', t.baseUrl);
    await page.goto(preferences);
    const ratings = page.getByTestId('ratings-trade-fairs');
    expect(await ratings.innerText()).toContain('Your ratings of recent mails: 1 useful, 0 not useful');
    expect(await ratings.innerText()).toContain('Hall plans for spring: Useful');
    await page.getByLabel('What would you like to hear about from us?').fill('Trade fairs in Asia');
    await page.getByRole('button', { name: 'Send suggestion' }).click();
    await page.getByTestId('suggestion-notice').waitFor();
    expect(await t.sql(`SELECT text FROM topic_suggestions WHERE subscriber_id = $1`, [id])).toEqual([{ text: 'Trade fairs in Asia' }]);
    await page.close();
  }, 60_000);
});
