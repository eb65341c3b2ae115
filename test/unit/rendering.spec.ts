// Rules for the mail templates and their renderer: two parts in two languages, compiled once,
// recipient data never executed, campaign bodies checked before they are stored.

import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Test } from '@nestjs/testing';
import Handlebars from 'handlebars';
import { DEFAULT_BRAND } from '../../src/config/config';
import { DEFAULT_TEMPLATES_DIR, MjmlTemplateRenderer } from '../../src/rendering/mjml-template-renderer';
import { RenderingModule } from '../../src/rendering/rendering.module';
import {
  CampaignData,
  DigestData,
  ConfirmSubscriptionData,
  Locale,
  OrderConfirmationData,
  ShipmentMailData,
  WebinarMailData,
  WebinarRegistrationConfirmData,
  LOCALES,
  MessageDataMap,
  MessageName,
  TemplateRenderError,
  TemplateRenderer,
} from '../../src/rendering/template-renderer';

// The company's look comes from the renderer's brand, not from each mail's data.
const layout = {
  companyName: 'Beispiel GmbH',
  postalAddress: 'Hauptstraße 1, 10115 Berlin',
};
const brand = { ...DEFAULT_BRAND, name: layout.companyName, address: { de: layout.postalAddress, en: layout.postalAddress } };

const confirm: ConfirmSubscriptionData = {
  firstName: 'Anna',
  // & and = are what HTML escaping changes in a URL, so they prove the href survives intact.
  confirmUrl: 'https://mail.example.com/confirm/tok_123?src=mail&lang=de',
  topicNames: ['Messen und Termine', 'Zahlungsziele'],
};

const campaign: CampaignData = {
  subject: 'Die Frühjahrsmesse zieht in Halle 4',
  bodyHtml: '<h1>Neue Halle</h1><p>Die Messe findet <a href="https://example.com/messe">in Halle 4</a> statt.</p>',
  preferencesUrl: 'https://mail.example.com/p/tok_abc',
  unsubscribeUrl: 'https://mail.example.com/u/tok_abc',
  topicName: 'Messen und Termine',
};

const digest: DigestData = {
  preferencesUrl: 'https://mail.example.com/p/tok_abc',
  unsubscribeUrl: 'https://mail.example.com/u/tok_abc',
  biweekly: false,
  entryCount: 2,
  singleEntry: false,
  firstTitle: 'Die Messe zieht um',
  moreCount: 1,
  sections: [
    {
      topicName: 'Messen und Termine',
      entries: [
        { title: 'Die Messe zieht um', summary: 'Ab Juni in Halle 4.', url: 'https://example.com/messe?src=digest&lang=de' },
        { title: 'Längere Zahlungsziele', summary: '60 statt 30 Tage.', url: null },
      ],
    },
  ],
};

const order: OrderConfirmationData = {
  orderNumber: 'A-10023',
  placedOn: '2. März 2026',
  items: [
    { name: 'Kaffeebecher, blau', quantity: 2 },
    { name: 'Untersetzer & Filz', quantity: 1 },
  ],
};

const shipment: ShipmentMailData = {
  orderNumber: 'A-10023',
  carrierName: 'DHL',
  trackingNumber: '00340434161094042557',
  // & and = again: the tracking link must survive HTML escaping intact.
  trackingUrl: 'https://tracking.example.com/track?piececode=00340434161094042557&lang=de',
  items: [{ name: 'Kaffeebecher, blau', quantity: 2 }],
  stillComing: [
    { name: 'Untersetzer & Filz', quantity: 1, separately: true },
    { name: 'Teekanne', quantity: 1, separately: false },
  ],
  returned: false,
};

const webinar: WebinarMailData = {
  firstName: 'Anna',
  title: 'Zahlungsziele <richtig> nutzen',
  when: 'Dienstag, 10. März 2026, 10:00–11:00 Uhr (Europe/Berlin)',
  seriesLabel: 'Teil 2 der Reihe „Liquidität“',
  // & and = again: join and unregister links must survive HTML escaping intact.
  joinUrl: 'https://meet.example.com/j/123?pwd=abc&lang=de',
  unregisterUrl: 'https://mail.example.com/webinars/unregister/tok_w1',
  registerUrl: 'https://mail.example.com/webinars/zahlungsziele/register?lang=de',
  byCustomer: false,
};

const registrationConfirm: WebinarRegistrationConfirmData = {
  ...layout,
  firstName: 'Anna',
  title: 'Zahlungsziele <richtig> nutzen',
  when: 'Dienstag, 10. März 2026, 10:00–11:00 Uhr (Europe/Berlin)',
  seriesLabel: 'Teil 2 der Reihe „Liquidität“',
  seriesTitle: 'Liquidität',
  confirmUrl: 'https://mail.example.com/webinars/zahlungsziele/confirm/tok_c1?x=1&y=2',
};

const fixtures: MessageDataMap = {
  'confirm-subscription': confirm,
  'confirm-reminder': confirm,
  campaign,
  digest,
  'order-confirmation': order,
  'shipment-shipped': shipment,
  'shipment-out-for-delivery': shipment,
  'shipment-problem': shipment,
  'webinar-registration': webinar,
  'webinar-update': webinar,
  'webinar-cancellation': webinar,
  'webinar-reminder': webinar,
  'webinar-registration-confirm': registrationConfirm,
};

const messages = Object.keys(fixtures) as MessageName[];

// A phrase only that message's template writes, per language.
const phrases: Record<MessageName, Record<Locale, string>> = {
  'confirm-subscription': { de: 'Anmeldung bestätigen', en: 'Confirm sign-up' },
  'confirm-reminder': { de: 'einzige Erinnerung', en: 'only reminder' },
  campaign: { de: 'Abmelden', en: 'Unsubscribe' },
  digest: { de: 'Gibt es nichts Neues, schreiben wir Ihnen nicht', en: 'When there is nothing new, we do not write' },
  'order-confirmation': { de: 'Vielen Dank für Ihre Bestellung', en: 'Thank you for your order' },
  'shipment-shipped': { de: 'Ihr Paket ist unterwegs', en: 'Your parcel is on its way' },
  'shipment-out-for-delivery': { de: 'Ihr Paket kommt heute', en: 'Your parcel arrives today' },
  'shipment-problem': { de: 'Bei der Zustellung gibt es ein Problem', en: 'There is a problem with your delivery' },
  'webinar-registration': { de: 'vielen Dank für Ihre Anmeldung zum Webinar', en: 'thank you for registering for the webinar' },
  'webinar-update': { de: 'Der Kalendereintrag im Anhang ersetzt den bisherigen', en: 'The attached calendar entry replaces the previous one' },
  'webinar-cancellation': { de: 'Mit dem Anhang wird der Termin aus Ihrem Kalender entfernt', en: 'The attachment removes the event from your calendar' },
  'webinar-reminder': { de: 'Sie sind für das Webinar', en: 'You are registered for the webinar' },
  'webinar-registration-confirm': { de: 'Angemeldet sind Sie erst, wenn Sie bestätigen', en: 'You are registered only once you confirm' },
};

const other = (locale: Locale): Locale => (locale === 'de' ? 'en' : 'de');
const escaped = (value: string): string => Handlebars.escapeExpression(value);
const cases = messages.flatMap((message) => LOCALES.map((locale) => [message, locale] as const));

describe('MjmlTemplateRenderer', () => {
  const renderer = new MjmlTemplateRenderer({ brand });

  beforeAll(() => renderer.warmUp());

  describe.each(cases)('%s in %s', (message, locale) => {
    it('has a subject, an HTML part and a plain-text part, none empty', async () => {
      const mail = await renderer.render(message, locale, fixtures[message]);
      expect(mail.subject.length).toBeGreaterThan(5);
      expect(mail.html).toMatch(/^<!doctype html>/i);
      expect(mail.text.length).toBeGreaterThan(80);
    });

    it('is written in its own language in both parts', async () => {
      const mail = await renderer.render(message, locale, fixtures[message]);
      const own = phrases[message][locale];
      const foreign = phrases[message][other(locale)];
      expect(mail.html).toContain(own);
      expect(mail.text).toContain(own);
      expect(mail.html).not.toContain(foreign);
      expect(mail.text).not.toContain(foreign);
      expect(mail.html).toContain(`<html lang="${locale}"`);
    });

    it('leaves no Handlebars placeholder unrendered', async () => {
      const mail = await renderer.render(message, locale, fixtures[message]);
      for (const part of [mail.subject, mail.html, mail.text]) expect(part).not.toMatch(/\{\{|\}\}/);
    });

    it('shows the brand and the postal address in both parts', async () => {
      const mail = await renderer.render(message, locale, fixtures[message]);
      expect(mail.html).toContain(layout.companyName);
      expect(mail.html).toContain(escaped(layout.postalAddress));
      expect(mail.text).toContain(layout.postalAddress);
    });

    it('loads nothing remote: no tracking pixel, no web font', async () => {
      const mail = await renderer.render(message, locale, fixtures[message]);
      expect(mail.html).not.toMatch(/<img|<link|@import|googleapis/i);
    });
  });

  describe.each(LOCALES)('service mails in %s', (locale) => {
    it.each(['confirm-subscription', 'confirm-reminder'] as const)(
      '%s links the confirmation URL in HTML (button and fallback) and in text',
      async (message) => {
        const mail = await renderer.render(message, locale, confirm);
        expect(mail.html).toContain(`href="${escaped(confirm.confirmUrl)}"`);
        expect(mail.html.split(`href="${escaped(confirm.confirmUrl)}"`)).toHaveLength(3);
        expect(mail.text).toContain(confirm.confirmUrl);
      },
    );

    it('lists every chosen topic in both parts', async () => {
      const mail = await renderer.render('confirm-subscription', locale, confirm);
      for (const topic of confirm.topicNames) {
        expect(mail.html).toContain(`<li>${topic}</li>`);
        expect(mail.text).toContain(`- ${topic}`);
      }
    });

    it('greets by first name when known and politely without it', async () => {
      const named = await renderer.render('confirm-subscription', locale, confirm);
      const anonymous = await renderer.render('confirm-subscription', locale, { ...confirm, firstName: undefined });
      // The first line is the heading, as in the HTML part; the greeting follows it.
      const greeting = (text: string) => text.split('\n').filter(Boolean)[1];
      expect(greeting(named.text)).toContain('Anna');
      expect(greeting(anonymous.text)).toMatch(/^(Guten Tag|Hello),$/);
    });

    it('never carries an unsubscribe link, even when one is passed', async () => {
      const mail = await renderer.render('confirm-subscription', locale, {
        ...confirm,
        unsubscribeUrl: 'https://mail.example.com/u/should-not-appear',
      });
      expect(mail.html).not.toContain('should-not-appear');
      expect(mail.text).not.toContain('should-not-appear');
      expect(mail.html).not.toMatch(/Abmelden|Unsubscribe/);
    });

    it('links the preferences page only when a preferences URL is given', async () => {
      const preferencesUrl = 'https://mail.example.com/p/tok_pref';
      const withLink = await renderer.render('confirm-subscription', locale, { ...confirm, preferencesUrl });
      const without = await renderer.render('confirm-subscription', locale, confirm);
      expect(withLink.html).toContain(`href="${preferencesUrl}"`);
      expect(withLink.text).toContain(preferencesUrl);
      expect(without.html).not.toMatch(/Einstellungen ändern|Manage preferences/);
      expect(without.text).not.toMatch(/Einstellungen ändern|Manage preferences/);
    });
  });

  describe.each(LOCALES)('transactional mails in %s', (locale) => {
    const transactional = ['order-confirmation', 'shipment-shipped', 'shipment-out-for-delivery', 'shipment-problem'] as const;
    const shipmentMails = ['shipment-shipped', 'shipment-out-for-delivery', 'shipment-problem'] as const;

    it.each(transactional)('%s is never advertising: no unsubscribe link even when one is passed, and says it carries no advertising', async (message) => {
      const mail = await renderer.render(message, locale, { ...fixtures[message], unsubscribeUrl: 'https://mail.example.com/u/should-not-appear' });
      for (const part of [mail.html, mail.text]) {
        expect(part).not.toContain('should-not-appear');
        expect(part).not.toMatch(/Abmelden|Unsubscribe/);
        expect(part).toContain(locale === 'de' ? 'Sie enthält keine Werbung' : 'It contains no advertising');
      }
    });

    it.each(transactional)('%s lists the items with their quantities in both parts', async (message) => {
      const mail = await renderer.render(message, locale, fixtures[message]);
      expect(mail.subject).toContain('A-10023');
      expect(mail.html).toContain('<li>2 × Kaffeebecher, blau</li>');
      expect(mail.text).toContain('- 2 × Kaffeebecher, blau');
    });

    it.each(shipmentMails)('%s links the tracking page (button and fallback) and names the tracking number', async (message) => {
      const mail = await renderer.render(message, locale, shipment);
      expect(mail.html.split(`href="${escaped(shipment.trackingUrl)}"`)).toHaveLength(3);
      expect(mail.text).toContain(shipment.trackingUrl);
      expect(mail.html).toContain(shipment.trackingNumber);
      expect(mail.text).toContain(shipment.trackingNumber);
    });

    it.each(['shipment-shipped', 'shipment-out-for-delivery'] as const)('%s says what of a split order is still coming, and how', async (message) => {
      const partial = await renderer.render(message, locale, shipment);
      const [separately, later] = locale === 'de'
        ? ['bereits in einem eigenen Paket unterwegs', 'folgt in einem späteren Paket']
        : ['already on its way in a separate parcel', 'follows in a later parcel'];
      expect(partial.text).toContain(`- 1 × Untersetzer & Filz – ${separately}`);
      expect(partial.text).toContain(`- 1 × Teekanne – ${later}`);
      expect(partial.html).toContain(`1 × ${escaped('Untersetzer & Filz')} – ${separately}`);

      const whole = await renderer.render(message, locale, { ...shipment, stillComing: [] });
      for (const part of [whole.html, whole.text]) expect(part).not.toMatch(/Teekanne|kommt noch|Still to come/);
    });

    it('marks a partial shipment in the subject of the shipped mail', async () => {
      const partial = await renderer.render('shipment-shipped', locale, shipment);
      const whole = await renderer.render('shipment-shipped', locale, { ...shipment, stillComing: [] });
      expect(partial.subject).toBe(locale === 'de' ? 'Ein Teil Ihrer Bestellung A-10023 ist unterwegs' : 'Part of your order A-10023 is on its way');
      expect(whole.subject).toBe(locale === 'de' ? 'Ihre Bestellung A-10023 ist unterwegs' : 'Your order A-10023 is on its way');
    });

    it('tells the customer when a parcel with a problem goes back to the shop', async () => {
      const returned = await renderer.render('shipment-problem', locale, { ...shipment, returned: true });
      const problem = await renderer.render('shipment-problem', locale, shipment);
      const back = locale === 'de' ? 'auf dem Rückweg zu uns' : 'on its way back to us';
      expect(returned.text).toContain(back);
      expect(returned.html).toContain(back);
      expect(problem.text).not.toContain(back);
    });
  });

  describe.each(LOCALES)('campaign in %s', (locale) => {
    it('uses the campaign subject as the mail subject and the HTML title', async () => {
      const mail = await renderer.render('campaign', locale, campaign);
      expect(mail.subject).toBe(campaign.subject);
      expect(mail.html).toContain(`<title>${campaign.subject}</title>`);
    });

    it('links preferences and one-click unsubscribe in HTML and text', async () => {
      const mail = await renderer.render('campaign', locale, campaign);
      for (const url of [campaign.preferencesUrl, campaign.unsubscribeUrl]) {
        expect(mail.html).toContain(`href="${url}"`);
        expect(mail.text).toContain(url);
      }
    });

    it('embeds the trusted body as HTML and derives its text part from it', async () => {
      const mail = await renderer.render('campaign', locale, campaign);
      expect(mail.html).toContain(campaign.bodyHtml);
      expect(mail.text).toContain('Neue Halle');
      expect(mail.text).toContain('in Halle 4 [https://example.com/messe]');
    });

    it('says which topic the mail is sent for', async () => {
      const mail = await renderer.render('campaign', locale, campaign);
      expect(mail.html).toContain(campaign.topicName);
      expect(mail.text).toContain(campaign.topicName);
    });

    it('refuses to render without an unsubscribe link, naming the missing value', async () => {
      const { unsubscribeUrl: _dropped, ...withoutUnsubscribe } = campaign;
      await expect(renderer.render('campaign', locale, withoutUnsubscribe)).rejects.toThrow(TemplateRenderError);
      await expect(renderer.render('campaign', locale, withoutUnsubscribe)).rejects.toThrow(/unsubscribeUrl/);
    });
  });

  describe('recipient data is data, never template code', () => {
    const injection = "{{constructor.constructor('return process')()}}";
    const script = '<script>alert(1)</script>';

    it('renders a Handlebars expression in a value literally and inertly', async () => {
      const mail = await renderer.render('confirm-subscription', 'de', {
        ...confirm,
        firstName: injection,
        topicNames: [injection],
      });
      expect(mail.html).toContain(escaped(injection));
      expect(mail.text).toContain(injection);
      expect(mail.html + mail.text).not.toMatch(/\[object process\]|function Object/);
    });

    it('escapes markup in values in the HTML part', async () => {
      const mail = await renderer.render('campaign', 'en', { ...campaign, topicName: script, companyName: script });
      expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(mail.html).not.toContain(script);
    });

    it('keeps a subject with an expression literal', async () => {
      const mail = await renderer.render('campaign', 'en', { ...campaign, subject: injection });
      expect(mail.subject).toBe(injection);
    });

    it('reads only own properties of the data, never its prototype chain', async () => {
      const data = Object.assign(Object.create({ firstName: 'Prototyp' }) as object, { ...confirm, firstName: undefined });
      const mail = await renderer.render('confirm-subscription', 'de', data);
      expect(mail.html + mail.text).not.toContain('Prototyp');
    });
  });

  describe('compilation', () => {
    it('compiles MJML once per message and locale, however many mails are rendered', async () => {
      const fresh = new MjmlTemplateRenderer({ brand });
      await Promise.all(Array.from({ length: 20 }, () => fresh.render('campaign', 'de', campaign)));
      expect(fresh.mjmlCompileCount).toBe(1);

      for (let i = 0; i < 1_000; i += 1) {
        await fresh.render('campaign', 'de', { ...campaign, unsubscribeUrl: `https://mail.example.com/u/tok_${i}` });
      }
      expect(fresh.mjmlCompileCount).toBe(1);

      await fresh.render('campaign', 'en', campaign);
      expect(fresh.mjmlCompileCount).toBe(2);
    });

    it('prints a warm render rate for the record (not asserted; the ≥ 20,000/s target is measured in bench/)', async () => {
      const rounds = 20_000;
      const started = performance.now();
      for (let i = 0; i < rounds; i += 1) {
        await renderer.render('campaign', 'de', { ...campaign, unsubscribeUrl: `https://mail.example.com/u/tok_${i}` });
      }
      const perSecond = Math.round(rounds / ((performance.now() - started) / 1000));
      console.log(`campaign/de: ${perSecond} renders/s (subject + HTML + text) over ${rounds} renders`);
      expect(renderer.mjmlCompileCount).toBe(messages.length * LOCALES.length);
    });

    it('compiles every message and locale at start-up', async () => {
      const fresh = new MjmlTemplateRenderer({ brand });
      await fresh.onModuleInit();
      expect(fresh.mjmlCompileCount).toBe(messages.length * LOCALES.length);
      await fresh.render('confirm-reminder', 'en', confirm);
      expect(fresh.mjmlCompileCount).toBe(messages.length * LOCALES.length);
    });

    it('is provided as the TemplateRenderer port and compiled when the app starts', async () => {
      const moduleRef = await Test.createTestingModule({ imports: [RenderingModule] }).compile();
      await moduleRef.init();
      const port = moduleRef.get(TemplateRenderer);
      expect(port).toBeInstanceOf(MjmlTemplateRenderer);
      expect((port as MjmlTemplateRenderer).mjmlCompileCount).toBe(messages.length * LOCALES.length);
      await expect(port.render('confirm-subscription', 'en', confirm)).resolves.toMatchObject({ subject: expect.any(String) });
      await moduleRef.close();
    });

    it('rejects an unknown message or locale', async () => {
      await expect(renderer.render('newsletter-from-hell', 'de', {})).rejects.toThrow(/unknown message/);
      await expect(renderer.render('campaign', 'fr' as Locale, campaign)).rejects.toThrow(/unknown locale/);
    });
  });

  describe('template version', () => {
    let copy: string;
    beforeEach(() => {
      copy = mkdtempSync(path.join(tmpdir(), 'tactful-templates-'));
      cpSync(DEFAULT_TEMPLATES_DIR, copy, { recursive: true });
    });
    afterEach(() => rmSync(copy, { recursive: true, force: true }));

    it('is a short hash, different per message and stable for unchanged files', () => {
      const versions = messages.map((message) => renderer.templateVersion(message));
      for (const version of versions) expect(version).toMatch(/^[0-9a-f]{12}$/);
      expect(new Set(versions).size).toBe(messages.length);
      expect(new MjmlTemplateRenderer({ templatesDir: copy, brand }).templateVersion('campaign')).toBe(
        renderer.templateVersion('campaign'),
      );
    });

    it('changes when a file of the message changes, and only for that message', async () => {
      const before = new MjmlTemplateRenderer({ templatesDir: copy, brand });
      const campaignBefore = before.templateVersion('campaign');
      const confirmBefore = before.templateVersion('confirm-subscription');

      writeFileSync(path.join(copy, 'messages/campaign/de.subject.hbs'), 'Neu: {{subject}}\n');
      const after = new MjmlTemplateRenderer({ templatesDir: copy, brand });
      expect(after.templateVersion('campaign')).not.toBe(campaignBefore);
      expect(after.templateVersion('confirm-subscription')).toBe(confirmBefore);
      expect((await after.render('campaign', 'de', campaign)).subject).toBe(`Neu: ${campaign.subject}`);
    });

    it('changes for every message when a shared partial changes', () => {
      const before = new MjmlTemplateRenderer({ templatesDir: copy, brand });
      const versions = messages.map((message) => before.templateVersion(message));
      writeFileSync(path.join(copy, 'partials/header.mjml'), '<mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section>\n');
      const after = new MjmlTemplateRenderer({ templatesDir: copy, brand });
      messages.forEach((message, i) => expect(after.templateVersion(message)).not.toBe(versions[i]));
    });

    it('refuses a layout partial that reaches outside the partials folder', async () => {
      writeFileSync(
        path.join(copy, 'partials/header.mjml'),
        '<mj-include path="/etc/passwd" />\n<mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section>\n',
      );
      const renderer = new MjmlTemplateRenderer({ templatesDir: copy, brand });
      await expect(renderer.render('campaign', 'de', campaign)).rejects.toThrow(/mj-include/);
    });
  });

  describe('validateCampaignBody', () => {
    const document = (body: string): string =>
      ['<mjml>', '<mj-body>', '<mj-section>', '<mj-column>', body, '</mj-column>', '</mj-section>', '</mj-body>', '</mjml>'].join('\n');

    it('accepts a valid MJML document', async () => {
      await expect(renderer.validateCampaignBody(document('<mj-text>Hallo</mj-text>'))).resolves.toEqual({ ok: true });
    });

    it('accepts a plain HTML snippet, which is placed in an mj-text of the layout', async () => {
      const snippet = '<h1>Neue Halle</h1>\n<p>Die Messe findet <a href="https://example.com">in Halle 4</a> statt.</p>';
      await expect(renderer.validateCampaignBody(snippet)).resolves.toEqual({ ok: true });
    });

    it('rejects an unknown tag, naming its line', async () => {
      const result = await renderer.validateCampaignBody(document('<mj-blink>Hallo</mj-blink>'));
      expect(result).toEqual({ ok: false, errors: [{ line: 5, message: expect.stringContaining('mj-blink') }] });
    });

    it('rejects mj-text outside mj-column, naming its line', async () => {
      const body = ['<mjml>', '<mj-body>', '<mj-section>', '<mj-text>Hallo</mj-text>', '</mj-section>', '</mj-body>', '</mjml>'].join('\n');
      const result = await renderer.validateCampaignBody(body);
      expect(result).toEqual({ ok: false, errors: [{ line: 4, message: expect.stringContaining('mj-text') }] });
    });

    it('rejects an invalid attribute value, naming its line', async () => {
      const result = await renderer.validateCampaignBody(document('<mj-text color="banana">Hallo</mj-text>'));
      expect(result).toEqual({ ok: false, errors: [{ line: 5, message: expect.stringContaining('banana') }] });
    });

    it('rejects mj-include, so a body can never read a file from the server', async () => {
      const body = ['<mjml>', '<mj-body>', '<mj-include path="/etc/passwd" />', '</mj-body>', '</mjml>'].join('\n');
      const result = await renderer.validateCampaignBody(body);
      expect(result).toEqual({ ok: false, errors: [{ line: 3, message: expect.stringContaining('mj-include') }] });
    });

    it('rejects mj-include in an HTML snippet too', async () => {
      const result = await renderer.validateCampaignBody('<p>Hallo</p>\n<mj-include path="../../.env" />');
      expect(result).toMatchObject({ ok: false, errors: [{ line: 2 }] });
    });

    it('reports errors in a snippet at the snippet’s own line numbers', async () => {
      const snippet = '<p>eins</p>\n<p>zwei</p>\n</mj-text><mj-blink>drei</mj-blink><mj-text>';
      const result = await renderer.validateCampaignBody(snippet);
      expect(result).toEqual({ ok: false, errors: [{ line: 3, message: expect.stringContaining('mj-blink') }] });
    });

    it('rejects a document MJML cannot parse at all, at line 1', async () => {
      const result = await renderer.validateCampaignBody('<mjml><<<>>');
      expect(result).toMatchObject({ ok: false, errors: [{ line: 1 }] });
    });
  });
});

describe('webinar mails', () => {
  const renderer = new MjmlTemplateRenderer({ brand });
  const withUnregister = ['webinar-registration', 'webinar-update', 'webinar-reminder'] as const;

  describe.each(LOCALES)('in %s', (locale) => {
    it.each(withUnregister)('%s links the join URL and the unregister link in both parts, and never an unsubscribe link', async (message) => {
      const mail = await renderer.render(message, locale, { ...webinar, unsubscribeUrl: 'https://mail.example.com/u/should-not-appear' });
      expect(mail.html).toContain(`href="${escaped(webinar.joinUrl)}"`);
      expect(mail.html).toContain(`href="${escaped(webinar.unregisterUrl)}"`);
      expect(mail.text).toContain(webinar.joinUrl);
      expect(mail.text).toContain(webinar.unregisterUrl);
      expect(mail.html).not.toContain('should-not-appear');
    });

    it('escapes the title and names the time and the series part', async () => {
      const mail = await renderer.render('webinar-reminder', locale, webinar);
      expect(mail.html).toContain('Zahlungsziele &lt;richtig&gt; nutzen');
      expect(mail.html).not.toContain('<richtig>');
      expect(mail.subject).toContain('Zahlungsziele <richtig> nutzen');
      expect(mail.text).toContain(webinar.when);
      expect(mail.text).toContain(webinar.seriesLabel);
    });

    it('says whether the customer unregistered or the webinar was cancelled, and offers re-registration only to the former', async () => {
      const cancelled = await renderer.render('webinar-cancellation', locale, webinar);
      const unregistered = await renderer.render('webinar-cancellation', locale, { ...webinar, byCustomer: true });
      expect(cancelled.subject).toMatch(locale === 'de' ? /^Abgesagt:/ : /^Cancelled:/);
      expect(unregistered.subject).toMatch(locale === 'de' ? /^Abgemeldet:/ : /^Unregistered:/);
      expect(cancelled.text).not.toContain(webinar.registerUrl);
      expect(unregistered.text).toContain(webinar.registerUrl);
      expect(unregistered.html).toContain(`href="${escaped(webinar.registerUrl)}"`);
    });
  });
});
