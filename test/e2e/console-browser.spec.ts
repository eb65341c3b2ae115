// The console in Chromium, as a marketer and a support agent use it: sign in with a key, compose a
// campaign, preview it in both languages, read the audience dry run, schedule it and watch its
// progress to the end (the real worker and scheduler, a real SMTP sink), look up a customer and
// read why a mail was deferred, read the listening and operations pages; a read-only key sees no
// write button. axe-core checks every console page (no serious or critical violation), and each
// is photographed at desktop (1280) and phone (390) width into test-artifacts/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { FakeClock } from '../../src/common/clock';
import { startTestApp, TestApp } from '../support/app';
import { ARTIFACTS, launchBrowser } from '../support/browser';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core over the page as it stands; the serious and critical violations, described. */
async function axeProblems(page: Page): Promise<string[]> {
  // evaluate() runs outside the page's Content-Security-Policy, which would refuse an injected <script>.
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${page.url()}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes
          .map((n) => n.target.join(' '))
          .slice(0, 3)
          .join(', ')}`,
    );
}

const checked: string[] = [];
const problems: string[] = [];
/** axe, then a desktop and a phone screenshot of the page as it is now. */
async function inspect(page: Page, name: string): Promise<void> {
  problems.push(...(await axeProblems(page)));
  checked.push(name);
  const viewport = page.viewportSize();
  await page.screenshot({ path: join(ARTIFACTS, `console-${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  problems.push(...(await axeProblems(page)).map((p) => `(phone) ${p}`));
  await page.screenshot({ path: join(ARTIFACTS, `console-${name}-phone.png`), fullPage: true });
  await page.setViewportSize(viewport ?? { width: 1280, height: 900 });
}

/**
 * A mail page (preview, a mail as received) under its own sandboxing policy, which runs no script,
 * axe's included: checked in a context that bypasses the policy, signed in with the same cookie.
 */
async function inspectMail(browser: Browser, from: Page, url: string, name: string): Promise<void> {
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
  await context.addCookies(await from.context().cookies());
  const mail = await context.newPage();
  await mail.goto(url);
  await inspect(mail, name);
  await context.close();
}

describe('the console in Chromium', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let browser: Browser;
  let page: Page;
  let marketingKey: string;
  let readKey: string;
  const clock = new FakeClock('2026-03-02T09:00:00Z'); // Monday, 10:00 in Berlin

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await startTestApp({
      clock,
      env: {
        SMTP_URL: sink.url,
        WORKER_ENABLED: 'true',
        WORKER_POLL_MS: '50',
        SCHEDULER_ENABLED: 'true',
        SCHEDULER_DISPATCH_CAMPAIGNS_SECONDS: '1',
        SCHEDULER_CAMPAIGN_PROGRESS_SECONDS: '1',
      },
    });
    browser = await launchBrowser();
    await createTopics(t, ['trade-fairs', 'offers']);
    await importConfirmed(t, [
      { email: 'anna@example.de', locale: 'de', topics: ['trade-fairs', 'offers'] },
      { email: 'ben@example.com', locale: 'en', topics: ['trade-fairs'] },
      { email: 'clara@example.com', locale: 'en', topics: ['trade-fairs'] },
    ]);
    marketingKey = (await t.api('POST', '/v1/api-keys', { body: { name: 'marketing', scopes: ['read', 'campaigns:write'] } })).body.key;
    readKey = (await t.api('POST', '/v1/api-keys', { body: { name: 'support desk', scopes: ['read'] } })).body.key;
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await sink?.close();
  });

  it('signs in with a key that never reaches the address bar', async () => {
    await page.goto(`${t.baseUrl}/console/campaigns`);
    await page.getByLabel('Language').selectOption('en');
    await inspect(page, 'sign-in');
    await page.getByLabel('API key').fill(marketingKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${t.baseUrl}/console/campaigns`);
    expect(page.url()).not.toContain(marketingKey);
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'tactful_console')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
    expect(JSON.stringify(cookies)).not.toContain(marketingKey);
    await inspect(page, 'campaigns');
  });

  it('composes a campaign, previews both languages with inert links, reads the dry run, schedules it and watches it to the end', async () => {
    await page.getByRole('link', { name: 'New campaign' }).click();
    await inspect(page, 'campaign-new');
    await page.getByLabel('Name').fill('Spring fair');
    await page.getByLabel('Topic').selectOption('trade-fairs');
    const german = page.getByRole('group', { name: 'Deutsch' });
    await german.getByLabel('Subject').fill('Die Frühjahrsmesse zieht um');
    await german.getByLabel('Body (HTML)').fill('<p>Die Messe findet in Halle 4 statt.</p>');
    const english = page.getByRole('group', { name: 'English' });
    await english.getByLabel('Subject').fill('The spring fair moves');
    await english.getByLabel('Body (HTML)').fill('<p>The fair takes place in hall 4.</p>');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.waitForURL(/\/console\/campaigns\/[0-9a-f-]{36}$/);
    const campaignUrl = page.url();
    expect(await page.getByTestId('campaign-status').innerText()).toBe('draft');
    await inspect(page, 'campaign-draft');

    await page.getByRole('link', { name: 'Preview German' }).click();
    expect(await page.locator('body').innerText()).toContain('Die Messe findet in Halle 4 statt.');
    const links = await page.locator('a[href]').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
    expect(links.filter((h) => /\/(p|u|f)\//.test(h)).every((h) => /\/(p|u|f)\/preview\?/.test(h))).toBe(true);
    await inspectMail(browser, page, page.url(), 'campaign-preview-de');
    await page.goto(`${campaignUrl}/preview?locale=en`);
    expect(await page.locator('body').innerText()).toContain('The fair takes place in hall 4.');
    await page.goto(campaignUrl);

    await page.getByRole('link', { name: 'Audience dry run' }).click();
    const dryRun = page.getByTestId('dry-run');
    expect(await dryRun.locator('[data-group="now"]').innerText()).toContain('now: 3');
    expect(await dryRun.locator('[data-group="never"]').innerText()).toContain('never: 0');
    await inspect(page, 'campaign-dry-run');
    await page.getByRole('link', { name: 'Back to the campaign' }).click();

    await page.getByRole('button', { name: 'Schedule' }).click();
    await page.waitForURL(campaignUrl);
    // The page refreshes itself while the campaign dispatches and sends: no reload from here.
    await page.getByTestId('campaign-status').filter({ hasText: 'completed' }).waitFor({ timeout: 45_000 });
    expect(await page.getByTestId('progress-label').innerText()).toBe('100 % done');
    expect(await page.getByTestId('progress').locator('[data-key="sent"] td').innerText()).toBe('3');
    await inspect(page, 'campaign-completed');
    await page.getByRole('link', { name: 'Decisions by reason' }).click();
    expect(await page.getByTestId('stats').innerText()).toContain('Sent\t3');
    await inspect(page, 'campaign-stats');
    expect(sink.messages.filter((m) => /spring fair moves|Frühjahrsmesse/.test(m.parsed.subject ?? ''))).toHaveLength(3);
  }, 90_000);

  it('looks a customer up and reads why a mail was deferred, and opens the mail she got', async () => {
    const second = await createCampaign(t, { name: 'fair hotels', topic: 'trade-fairs', subject: { de: 'Hotels zur Messe', en: 'Fair hotels' } });
    await t.api('POST', `/v1/campaigns/${second}/schedule`, { body: {} });
    for (let i = 0; i < 60; i++) {
      if ((await t.api('GET', `/v1/campaigns/${second}`)).body.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await page.goto(`${t.baseUrl}/console`);
    await inspect(page, 'home');
    await page.getByLabel('Customer’s e-mail address').fill('anna@example.de');
    await page.getByRole('button', { name: 'Look up customer' }).click();
    const notGot = page.getByTestId('not-got');
    expect(await notGot.innerText()).toMatch(/Hotels zur Messe.*Deferred, Folded into the next digest \(cadence\); goes with the next newsletter on/s);
    expect(await page.getByTestId('next-digest').innerText()).toMatch(/2026/);
    await inspect(page, 'customer');
    await page.getByRole('link', { name: 'View the mail as received' }).first().click();
    expect(await page.locator('body').innerText()).toContain('Die Frühjahrsmesse zieht um');
    expect(await page.locator('a[href*="/u/"]').evaluateAll((as) => as.every((a) => /\/u\/preview\?/.test((a as HTMLAnchorElement).href)))).toBe(true);
    await inspectMail(browser, page, page.url(), 'customer-mail');
  }, 60_000);

  it('reads the listening page: the rating, the comment and the drop after “not useful”', async () => {
    const mail = sink.messages.find((m) => m.envelope.rcptTo.includes('ben@example.com') && /spring fair/.test(m.parsed.subject ?? ''))!;
    const link = /Not useful: (http:\/\/tactful\.test\/f\/\S+)/.exec(mail.parsed.text ?? '')![1].replace('http://tactful.test', t.baseUrl);
    const customer = await browser.newPage();
    await customer.goto(link);
    await customer.getByLabel('What would you like to hear about from us?').fill('Fewer hall plans, please');
    await customer.getByRole('button', { name: 'Send answer' }).click();
    await customer.getByTestId('feedback-notice').waitFor();
    await customer.close();

    await page.goto(`${t.baseUrl}/console/listening`);
    expect(await page.getByTestId('counts-trade-fairs').innerText()).toBe('0 useful, 1 not useful (0 % useful)');
    expect(await page.locator('[data-topic="trade-fairs"]').innerText()).toContain('“Fewer hall plans, please”');
    expect(await page.locator('[data-topic="trade-fairs"] svg rect').count()).toBeGreaterThan(0);
    await inspect(page, 'listening');
    await page.goto(`${t.baseUrl}/console/operations`);
    expect(await page.getByTestId('outbox').innerText()).toContain('Sent');
    await inspect(page, 'operations');
  }, 60_000);

  it('shows a read-only key no write button, and in German on request', async () => {
    const reader = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await reader.goto(`${t.baseUrl}/console/sign-in`);
    await reader.getByLabel(/API-Schlüssel|API key/).fill(readKey);
    await reader.getByLabel(/Sprache|Language/).selectOption('de');
    await reader.getByRole('button', { name: /Anmelden|Sign in/ }).click();
    await reader.waitForURL(`${t.baseUrl}/console`);
    await reader.getByRole('link', { name: 'Kampagnen' }).first().click();
    expect(await reader.getByRole('link', { name: 'Neue Kampagne' }).count()).toBe(0);
    await reader.getByRole('link', { name: 'Spring fair' }).click();
    expect(await reader.getByRole('button', { name: /Planen|Kampagne abbrechen/ }).count()).toBe(0);
    expect(await reader.locator('header').innerText()).toContain('nur lesen');
    await inspect(reader, 'campaign-read-only-de');
    await reader.close();
  }, 60_000);

  it('found no serious or critical accessibility problem on any console page', () => {
    expect(checked.length).toBeGreaterThanOrEqual(10);
    expect(problems).toEqual([]);
  });
});
