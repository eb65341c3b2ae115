// The console's live preview of a draft and a campaign's decisions by reason over time, in
// Chromium: with JavaScript the preview of both languages follows the typing; without it a
// preview button per language renders the form's words into its frame, the page staying where it
// is; the links in a preview are inert (preview pages, or nowhere outside the frame). The campaign
// page shows its decisions hour by hour from the per-campaign rollup, in English and German.
// axe-core checks each page (no serious or critical violation); screenshots go to test-artifacts/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { CampaignProgressService } from '../../src/campaigns/campaign-progress.service';
import { FakeClock } from '../../src/common/clock';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { Reason, REASON_LABELS } from '../../src/reasons/reason-codes';
import { startTestApp, TestApp } from '../support/app';
import { ARTIFACTS, launchBrowser } from '../support/browser';
import { createCampaign, createTopics, importConfirmed } from '../support/seed';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const HOUR = 3_600_000;

const problems: string[] = [];
const checked: string[] = [];
/** axe-core (serious and critical only), then desktop and phone screenshots. */
async function inspect(page: Page, name: string): Promise<void> {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 1280 ? 900 : 844 });
    // evaluate() runs outside the page's Content-Security-Policy, which would refuse an injected <script>.
    await page.evaluate(AXE);
    const violations: { id: string; impact: string | null; nodes: { target: string[] }[] }[] = await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run: (c: unknown, o: unknown) => Promise<{ violations: never[] }> } }).axe;
      return (await axe.run(document, { resultTypes: ['violations'] })).violations;
    });
    problems.push(
      ...violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${name} (${width}): ${v.impact} ${v.id} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    );
    await page.screenshot({ path: join(ARTIFACTS, `console-${name}-${width === 1280 ? 'desktop' : 'phone'}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  checked.push(name);
}

/** The frame of the preview in this language. */
const frameOf = (page: Page, locale: 'de' | 'en'): Frame => page.frame({ name: `preview-${locale}` })!;
async function frameText(page: Page, locale: 'de' | 'en', wanted: string): Promise<string> {
  // A locator, not a function in the page: it works with the page's JavaScript off too.
  const frame = frameOf(page, locale);
  await frame.getByText(wanted).first().waitFor({ state: 'attached', timeout: 15_000 }); // the mail's hidden preheader may come first
  return frame.locator('body').innerText();
}

describe('the console’s live preview and decisions over time, in Chromium', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let browser: Browser;
  let key: string;
  const clock = new FakeClock('2026-03-02T09:10:00Z'); // Monday, 10:10 in Berlin

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await startTestApp({ clock, env: { SMTP_URL: sink.url } });
    browser = await launchBrowser();
    await createTopics(t, ['trade-fairs']);
    const ids = await importConfirmed(t, [
      { email: 'anna@example.de', locale: 'de', topics: ['trade-fairs'] },
      { email: 'ben@example.com', locale: 'en', topics: ['trade-fairs'] },
      { email: 'clara@example.com', locale: 'en', topics: ['trade-fairs'] },
    ]);
    await t.api('PATCH', `/v1/subscribers/${ids.get('clara@example.com')}`, { body: { status: 'paused' } });
    key = (await t.api('POST', '/v1/api-keys', { body: { name: 'marketing', scopes: ['read', 'campaigns:write'] } })).body.key;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await sink?.close();
  });

  async function signIn(options: { javaScriptEnabled: boolean; lang: 'de' | 'en' }): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, javaScriptEnabled: options.javaScriptEnabled });
    const page = await context.newPage();
    await page.goto(`${t.baseUrl}/console/sign-in`);
    await page.getByLabel(/API-Schlüssel|API key/).fill(key);
    await page.getByLabel(/Sprache|Language/).selectOption(options.lang);
    await page.getByRole('button', { name: /Anmelden|Sign in/ }).click();
    await page.waitForURL(`${t.baseUrl}/console`);
    return page;
  }

  it('previews both languages as you type, with inert links, through the mail’s own renderer', async () => {
    const page = await signIn({ javaScriptEnabled: true, lang: 'en' });
    await page.goto(`${t.baseUrl}/console/campaigns/new`);
    await page.getByLabel('Name').fill('Hall plan');
    await page.getByLabel('Topic').selectOption('trade-fairs');
    const german = page.getByRole('group', { name: 'Deutsch' });
    await german.getByLabel('Subject').fill('Der Hallenplan');
    await german.getByLabel('Body (HTML)').fill('<p>Die Messe findet in Halle 4 statt. <a href="https://example.org/plan">Plan</a></p>');
    const english = page.getByRole('group', { name: 'English' });
    await english.getByLabel('Subject').fill('The hall plan');
    await english.getByLabel('Body (HTML)').fill('<p>The fair takes place in hall 4.</p>');
    expect(await frameText(page, 'de', 'Die Messe findet in Halle 4 statt.')).toContain('Der Hallenplan');
    expect(await frameText(page, 'en', 'The fair takes place in hall 4.')).toContain('The hall plan');
    // It follows the typing, and renders as the mail does (the topic's name, the preview's note).
    await english.getByLabel('Body (HTML)').pressSequentially(' Doors open at nine.');
    expect(await frameText(page, 'en', 'Doors open at nine.')).toContain('Topic trade-fairs');
    expect(page.url()).toBe(`${t.baseUrl}/console/campaigns/new`);

    // Inert: the customer links are preview samples; a link elsewhere goes nowhere outside the frame.
    for (const locale of ['de', 'en'] as const) {
      const links = await frameOf(page, locale)
        .locator('a[href]')
        .evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
      expect(links.filter((h) => /\/(p|u|f)\//.test(h)).length).toBeGreaterThan(0);
      expect(links.filter((h) => /\/(p|u|f)\//.test(h)).every((h) => /\/(p|u|f)\/preview\?/.test(h))).toBe(true);
    }
    const pages = page.context().pages().length;
    await frameOf(page, 'de').getByRole('link', { name: 'Plan' }).click();
    await page.waitForTimeout(300);
    expect(page.url()).toBe(`${t.baseUrl}/console/campaigns/new`);
    expect(page.context().pages()).toHaveLength(pages);
    expect(page.frame({ name: 'preview-de' })?.url() ?? '').not.toContain('example.org');
    expect(await page.getByLabel('Name').inputValue()).toBe('Hall plan'); // nothing lost from the form

    // A body that does not read is named in its frame, not rendered.
    await german.getByLabel('Body (HTML)').fill('<mj-section><mj-column><mj-text>Halle 4</mj-text>');
    await frameOf(page, 'de').waitForFunction(() => !document.body?.innerText.includes('Die Messe findet'), undefined, { timeout: 15_000 });
    await german.getByLabel('Body (HTML)').fill('<p>Die Messe findet in Halle 4 statt.</p>');
    await frameText(page, 'de', 'Die Messe findet in Halle 4 statt.');
    await inspect(page, 'campaign-live-preview');
    await page.context().close();
  }, 90_000);

  it('without JavaScript, renders the form’s words into a language’s frame on its preview button, in German', async () => {
    const page = await signIn({ javaScriptEnabled: false, lang: 'de' });
    await page.goto(`${t.baseUrl}/console/campaigns/new`);
    await page.getByLabel('Thema').selectOption('trade-fairs');
    const german = page.getByRole('group', { name: 'Deutsch' });
    await german.getByLabel('Betreff').fill('Ohne Skript');
    await german.getByLabel('Text (HTML)').fill('<p>Vorschau ohne JavaScript.</p>');
    await page.getByRole('button', { name: 'Vorschau Deutsch' }).click();
    expect(await frameText(page, 'de', 'Vorschau ohne JavaScript.')).toContain('Ohne Skript');
    expect(page.url()).toBe(`${t.baseUrl}/console/campaigns/new`);
    // No English words yet and no fallback: the English frame says so.
    await page.getByRole('button', { name: 'Vorschau Englisch' }).click();
    await frameText(page, 'en', 'Betreff');
    // axe runs as a script: the page without JavaScript is photographed (the same page with it is checked above).
    await page.screenshot({ path: join(ARTIFACTS, 'console-campaign-preview-no-js-de-desktop.png'), fullPage: true });
    await page.context().close();
  }, 60_000);

  it('shows a campaign’s decisions by reason over time, hour by hour, in English and German', async () => {
    const opener = await createCampaign(t, { name: 'opener', topic: 'trade-fairs' });
    await t.api('POST', `/v1/campaigns/${opener}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();
    clock.advance(HOUR);
    await t.app.get(DeliveryWorker).drain();
    await t.app.get(CampaignProgressService).tick(); // completed: its page stops refreshing itself
    // A second one inside the window: folded into the next digest an hour later.
    clock.advance(HOUR);
    const second = await createCampaign(t, { name: 'second', topic: 'trade-fairs' });
    await t.api('POST', `/v1/campaigns/${second}/schedule`, { body: {} });
    await t.app.get(CampaignDispatchService).dispatchDue();

    const page = await signIn({ javaScriptEnabled: true, lang: 'en' });
    await page.goto(`${t.baseUrl}/console/campaigns/${opener}`);
    const table = page.getByTestId('over-time-table');
    const heads = await table.locator('thead th').allInnerTexts();
    expect(heads).toEqual(['When', REASON_LABELS[Reason.Sent].en, REASON_LABELS[Reason.SuppressedPaused].en, 'Total']);
    // Suppressed at its dispatch (10:10 Berlin), sent an hour later.
    expect(await table.locator('tbody tr').allInnerTexts()).toEqual(['2 Mar 10:00\t0\t1\t1', '2 Mar 11:00\t2\t0\t2']);
    expect(await table.locator('tfoot').innerText()).toBe('Total\t2\t1\t3');
    expect(await page.getByTestId('over-time').locator('svg rect').count()).toBeGreaterThan(2);
    await inspect(page, 'campaign-over-time');

    await page.goto(`${t.baseUrl}/console/campaigns/${second}?lang=de`);
    expect(await page.getByRole('heading', { name: 'Entscheidungen nach Grund im Zeitverlauf' }).count()).toBe(1);
    const deTable = page.getByTestId('over-time-table');
    expect(await deTable.locator('thead th').allInnerTexts()).toEqual([
      'Wann',
      REASON_LABELS[Reason.DeferredCadence].de,
      REASON_LABELS[Reason.SuppressedPaused].de,
      'Insgesamt',
    ]);
    expect(await deTable.locator('tbody tr').allInnerTexts()).toEqual(['02.03. 12:00\t2\t1\t3']);
    await inspect(page, 'campaign-over-time-de');
    await page.context().close();
  }, 60_000);

  it('found no serious or critical accessibility problem', () => {
    expect(checked).toHaveLength(3);
    expect(problems).toEqual([]);
  });
});
