// Both parts of every mail say the same things. Every message is rendered in every locale and in
// every branch of its templates (each condition both true and false, through representative data),
// the HTML part is turned into text, and its sentences and links must be the text part's.
// The class of bug this catches: an {{#if}} between MJML elements, which MJML drops, so the
// HTML part offered "Register again" for a webinar the organiser had cancelled.

import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import Handlebars from 'handlebars';
import { convert } from 'html-to-text';
import { DEFAULT_TEMPLATES_DIR, MESSAGE_LAYOUTS, MjmlTemplateRenderer, strayBlockExpression } from '../../src/rendering/mjml-template-renderer';
import { Brand, DEFAULT_BRAND } from '../../src/config/config';
import { LOCALES, Locale, MessageDataMap, MessageName } from '../../src/rendering/template-renderer';

const layout = {
  replyAddress: 'hallo@beispiel.example',
  preferencesUrl: 'https://mail.example.com/p/tok_abc',
};
const links = { unsubscribeUrl: 'https://mail.example.com/u/tok_abc' };
const feedback = { usefulUrl: 'https://mail.example.com/f/tok_1?r=useful', notUsefulUrl: 'https://mail.example.com/f/tok_1?r=not_useful' };

const webinar = {
  ...layout,
  firstName: 'Anna',
  title: 'Zahlungsziele nutzen',
  when: 'Dienstag, 10. März 2026, 10:00–11:00 Uhr (Europe/Berlin)',
  seriesLabel: 'Teil 2 der Reihe „Liquidität“',
  joinUrl: 'https://meet.example.com/j/123?pwd=abc&lang=de',
  unregisterUrl: 'https://mail.example.com/webinars/unregister/tok_w1',
  registerUrl: 'https://mail.example.com/webinars/zahlungsziele/register?lang=de',
  byCustomer: false,
};
const shipment = {
  ...layout,
  orderNumber: 'A-10023',
  carrierName: 'DHL',
  trackingNumber: '00340434161094042557',
  trackingUrl: 'https://tracking.example.com/track?piececode=00340434161094042557&lang=de',
  items: [{ name: 'Kaffeebecher, blau', quantity: 2 }],
  stillComing: [
    { name: 'Untersetzer', quantity: 1, separately: true },
    { name: 'Teekanne', quantity: 1, separately: false },
  ],
  returned: false,
};
const confirm = { ...layout, firstName: 'Anna', confirmUrl: 'https://mail.example.com/confirm/tok_123', topicNames: ['Messen', 'Zahlungsziele'] };
const digest = {
  ...layout,
  ...links,
  biweekly: false,
  entryCount: 2,
  singleEntry: false,
  firstTitle: 'Die Messe zieht um',
  moreCount: 1,
  sections: [
    {
      topicName: 'Messen',
      entries: [
        { title: 'Die Messe zieht um', summary: 'Ab Juni in Halle 4.', url: 'https://example.com/messe', feedback },
        { title: 'Längere Zahlungsziele', summary: '60 statt 30 Tage.', url: null, feedback: null },
      ],
    },
  ],
  dropQuestions: [{ topicName: 'Messen', url: 'https://mail.example.com/f/drop_1' }],
};

/** Per message: the data of each branch. Together they set every condition both ways (checked below). */
const variants: { [M in MessageName]: Record<string, unknown>[] } = {
  'confirm-subscription': [confirm, { ...confirm, firstName: null, preferencesUrl: null }],
  'confirm-reminder': [confirm, { ...confirm, firstName: null, preferencesUrl: null }],
  campaign: [
    {
      ...layout,
      ...links,
      subject: 'Die Messe zieht um',
      bodyHtml: '<h1>Neue Halle</h1><p>Die Messe findet <a href="https://example.com/messe">in Halle 4</a> statt.</p>',
      topicName: 'Messen',
      feedback,
    },
    { ...layout, ...links, replyAddress: null, subject: 'Kurz', bodyHtml: '<p>Nur ein Satz.</p>', topicName: 'Messen', feedback: null },
  ],
  digest: [
    digest,
    {
      ...digest,
      replyAddress: null,
      biweekly: true,
      entryCount: 1,
      singleEntry: true,
      moreCount: 0,
      sections: [{ topicName: 'Messen', entries: [{ title: 'Nur eins', summary: 'Kurz.', url: null }] }],
      dropQuestions: [],
    },
  ],
  'order-confirmation': [
    { ...layout, orderNumber: 'A-10023', placedOn: '2. März 2026', items: shipment.items },
    { ...layout, preferencesUrl: null, orderNumber: 'A-10024', placedOn: '3. März 2026', items: shipment.items },
  ],
  'shipment-shipped': [shipment, { ...shipment, stillComing: [], preferencesUrl: null }],
  'shipment-out-for-delivery': [shipment, { ...shipment, stillComing: [], preferencesUrl: null }],
  'shipment-problem': [shipment, { ...shipment, returned: true, stillComing: [], preferencesUrl: null }],
  'webinar-registration': [webinar, { ...webinar, firstName: null, seriesLabel: null, preferencesUrl: null }],
  'webinar-update': [webinar, { ...webinar, firstName: null, seriesLabel: null, preferencesUrl: null }],
  'webinar-cancellation': [webinar, { ...webinar, byCustomer: true, firstName: null, seriesLabel: null, preferencesUrl: null }],
  'webinar-reminder': [webinar, { ...webinar, firstName: null, seriesLabel: null, preferencesUrl: null }],
  'webinar-registration-confirm': [
    { ...layout, firstName: 'Anna', title: webinar.title, when: webinar.when, seriesLabel: webinar.seriesLabel, seriesTitle: 'Liquidität', confirmUrl: 'https://mail.example.com/webinars/zahlungsziele/confirm/tok_c1' },
    { ...layout, firstName: null, title: webinar.title, when: webinar.when, seriesLabel: null, seriesTitle: null, confirmUrl: 'https://mail.example.com/webinars/zahlungsziele/confirm/tok_c1', preferencesUrl: null },
  ],
};
const messages = Object.keys(variants) as MessageName[];

// Sentences only the HTML part can say: they are about its button, and the text part prints the link itself.
const HTML_ONLY = [/^falls die schaltfläche nicht funktioniert/, /^if the button does not work/];

/** What a part says: its sentences, lower-cased, without punctuation, links or formatting. */
function sentences(text: string): Set<string> {
  const found = new Set<string>();
  for (const piece of text.replace(/https?:\/\/\S+/g, ' ').split(/[\n.!?:·–|]+/)) {
    const sentence = piece
      .toLowerCase()
      .replace(/[^\p{L}\p{N}@]+/gu, ' ')
      .trim();
    if (sentence.length > 1) found.add(sentence);
  }
  return found;
}

/** The HTML part as a reader of it sees the words: hidden text (the inbox preview line) is not read. */
function htmlAsText(html: string): string {
  const visible = html.replace(/<div style="display:none;[^"]*"[^>]*>[\s\S]*?<\/div>/g, '');
  return convert(visible, {
    wordwrap: false,
    selectors: [
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'img', format: 'skip' },
      { selector: 'h1', options: { uppercase: false } },
      { selector: 'h2', options: { uppercase: false } },
    ],
  });
}

const unescape = (value: string) =>
  value
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

/** Every link target: hrefs in HTML (mailto as its address), the URLs and addresses written in text. */
function htmlLinks(html: string): Set<string> {
  const body = html.slice(html.indexOf('<body'));
  return new Set([...body.matchAll(/href="([^"]+)"/g)].map(([, href]) => unescape(href).replace(/^mailto:/, '')));
}
function textLinks(text: string, candidates: Set<string>): Set<string> {
  const urls = [...text.matchAll(/https?:\/\/[^\s\]]+/g)].map(([url]) => url);
  const addresses = [...candidates].filter((c) => !/^https?:/.test(c) && text.includes(c));
  return new Set([...urls, ...addresses]);
}

/** Names tested by #if/#unless/#each in a template, with the data names they are tested on. */
function conditionNames(source: string): Set<string> {
  const names = new Set<string>();
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as { type?: string; path?: { original?: string }; params?: { type: string; original?: string }[] };
    // #each over a list that is never empty (an order's items) has no second branch; #if and #unless have.
    if (n.type === 'BlockStatement' && ['if', 'unless'].includes(n.path?.original ?? '')) {
      const param = n.params?.[0];
      if (param?.type === 'PathExpression' && param.original && !param.original.startsWith('@')) names.add(param.original.replace(/^this\./, ''));
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) value.forEach(visit);
      else if (value && typeof value === 'object') visit(value);
    }
  };
  visit(Handlebars.parse(source));
  return names;
}

/** Every value found under a (dotted) name anywhere in the data, arrays included. */
function valuesNamed(data: unknown, name: string): unknown[] {
  const [head, ...rest] = name.split('.');
  const found: unknown[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (!value || typeof value !== 'object') return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === head) found.push(...(rest.length ? valuesNamed(inner, rest.join('.')).concat(inner == null ? [inner] : []) : [inner]));
      walk(inner);
    }
  };
  walk(data);
  return found;
}
const truthy = (value: unknown) => (Array.isArray(value) ? value.length > 0 : Boolean(value));

function templateFiles(message: MessageName, locale: Locale): string[] {
  const dir = path.join(DEFAULT_TEMPLATES_DIR, 'messages', message);
  return readdirSync(dir)
    .filter((file) => file.startsWith(`${locale}.`))
    .map((file) => readFileSync(path.join(dir, file), 'utf8'));
}

// The layout's own conditions (logo, imprint, privacy) are set both ways by three brands.
const brands: Brand[] = [
  { ...DEFAULT_BRAND, name: 'Beispiel GmbH', address: { de: 'Hauptstraße 1, 10115 Berlin', en: 'Hauptstraße 1, 10115 Berlin, Germany' } },
  {
    ...DEFAULT_BRAND,
    name: 'Beispiel GmbH',
    logoUrl: 'https://cdn.beispiel.example/logo.png',
    imprintUrl: 'https://beispiel.example/impressum',
    privacyUrl: 'https://beispiel.example/datenschutz',
  },
  { ...DEFAULT_BRAND, name: 'Beispiel GmbH', privacyUrl: 'https://beispiel.example/datenschutz' },
];

describe('HTML and text parts say the same things', () => {
  const renderers = brands.map((brand) => new MjmlTemplateRenderer({ brand }));
  beforeAll(() => Promise.all(renderers.map((r) => r.warmUp())));

  const cases = messages.flatMap((message) => LOCALES.map((locale) => [message, locale] as const));

  it.each(cases)('the variants of %s (%s) set every #if and #unless of its templates both true and false', (message, locale) => {
    const layout = readFileSync(path.join(DEFAULT_TEMPLATES_DIR, 'layouts', `${MESSAGE_LAYOUTS[message]}.txt.hbs`), 'utf8');
    const names = new Set([...templateFiles(message, locale), layout].flatMap((source) => [...conditionNames(source)]));
    const uncovered: string[] = [];
    for (const name of names) {
      const seen = variants[message].map((data) => valuesNamed(data, name));
      const hasTrue = seen.some((values) => values.some(truthy));
      const hasFalse = seen.some((values) => values.length === 0 || values.some((v) => !truthy(v)));
      if (!hasTrue || !hasFalse) uncovered.push(name);
    }
    expect(uncovered).toEqual([]);
  });

  const branches = cases.flatMap(([message, locale]) =>
    variants[message].flatMap((data, i) => brands.map((_, b) => [message, locale, i, b, data] as const)),
  );

  it.each(branches)('%s in %s, branch %i, brand %i: same sentences and same links in both parts', async (message, locale, _i, b, data) => {
    const mail = await renderers[b].render(message, locale, data as MessageDataMap[typeof message]);
    const fromHtml = sentences(htmlAsText(mail.html));
    const fromText = sentences(mail.text);
    const onlyInHtml = [...fromHtml].filter((s) => !fromText.has(s) && !HTML_ONLY.some((re) => re.test(s)));
    const onlyInText = [...fromText].filter((s) => !fromHtml.has(s));
    expect({ onlyInHtml, onlyInText }).toEqual({ onlyInHtml: [], onlyInText: [] });

    const hrefs = htmlLinks(mail.html);
    expect([...textLinks(mail.text, hrefs)].sort()).toEqual([...hrefs].sort());
  });

  it('would catch a condition placed between MJML elements', () => {
    expect(strayBlockExpression('<mj-column>{{#if byCustomer}}<mj-text>Register again</mj-text>{{/if}}</mj-column>')).toBe('{{#if byCustomer}}');
    expect(strayBlockExpression('<mj-column><mj-text>{{#if byCustomer}}Register again{{/if}}</mj-text></mj-column>')).toBeUndefined();
  });
});
