// Renders mails from templates/: MJML is compiled to HTML once per (message, template version,
// locale); the HTML still holds Handlebars placeholders, so per recipient only a precompiled
// Handlebars function runs.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Inject, Injectable, OnModuleInit, Optional } from '@nestjs/common';
import Handlebars from 'handlebars';
import { convert as convertHtmlToText, HtmlToTextOptions } from 'html-to-text';
import mjml2html from 'mjml';
import { BoundedCache } from '../common/bounded-cache';
import { readableOn } from '../config/colors';
import { APP_CONFIG, AppConfig, Brand, DEFAULT_BRAND } from '../config/config';
import { campaignBodyProblems, sanitizeCampaignBody } from './campaign-body';
import {
  CampaignBodyError,
  CampaignBodyValidation,
  Locale,
  LOCALES,
  MessageName,
  RenderedMail,
  TemplateRenderError,
  TemplateRenderer,
} from './template-renderer';

/** dist/rendering and src/rendering are both two levels below the project root. */
export const DEFAULT_TEMPLATES_DIR = path.resolve(__dirname, '../../templates');

export const RENDERING_OPTIONS = Symbol('RENDERING_OPTIONS');

export interface RenderingOptions {
  templatesDir?: string;
  /** The company's look; defaults to the configured brand, else DEFAULT_BRAND. */
  brand?: Brand;
}

/** What the templates read as @brand: the brand in the mail's language. */
interface BrandFrame {
  name: string;
  logoUrl: string | null;
  address: string;
  imprintUrl: string | null;
  privacyUrl: string | null;
}

// The dark-mode palette (prefers-color-scheme: dark in mj-head): fixed greys, so text stays
// readable whatever colours a client inverts; the brand colour only for buttons and, lightened
// until it is readable on the dark card, for links.
const DARK = { backdrop: '#111827', card: '#1f2937', text: '#e5e7eb', muted: '#9ca3af' };

/** Placeholders of the MJML sources, replaced by the brand's colours before MJML compiles them. */
function brandColors(brand: Brand): Record<string, string> {
  return {
    __BRAND_PRIMARY__: brand.colors.primary,
    __BRAND_TEXT__: brand.colors.text,
    __BRAND_BACKGROUND__: brand.colors.background,
    __BRAND_LINK_DARK__: readableOn(brand.colors.primary, DARK.card),
    __DARK_BACKDROP__: DARK.backdrop,
    __DARK_CARD__: DARK.card,
    __DARK_TEXT__: DARK.text,
    __DARK_MUTED__: DARK.muted,
  };
}

export type LayoutName = 'marketing' | 'service';
type CompileOptions = NonNullable<Parameters<typeof Handlebars.compile>[1]>;
type TemplateFn = Handlebars.TemplateDelegate<Record<string, unknown>>;
type LayoutStrings = Record<string, string>;

// The layout decides the footer: only marketing mails carry an unsubscribe link, and service mails
// (double opt-in, reminders) must not look like advertising.
export const MESSAGE_LAYOUTS: Record<MessageName, LayoutName> = {
  'confirm-subscription': 'service',
  'confirm-reminder': 'service',
  campaign: 'marketing',
  digest: 'marketing',
  // Transactional: about the customer's own order, never advertising.
  'order-confirmation': 'service',
  'shipment-shipped': 'service',
  'shipment-out-for-delivery': 'service',
  'shipment-problem': 'service',
  // The direct result of the customer's own webinar registration.
  'webinar-registration': 'service',
  'webinar-update': 'service',
  'webinar-cancellation': 'service',
  'webinar-reminder': 'service',
  'webinar-registration-confirm': 'service',
};

// Comments rather than tags, so a layout is still a valid file on its own (MJML and Handlebars
// both ignore them) and a missing slot is caught when the message is compiled.
const MJML_CONTENT_SLOT = '<!-- @content -->';
const TEXT_CONTENT_SLOT = '{{!-- @content --}}';

// No hard wrap, like the written text parts: clients reflow paragraphs, and fixed breaks at
// 78 columns look ragged on a phone.
const HTML_TO_TEXT_OPTIONS: HtmlToTextOptions = {
  wordwrap: false,
  selectors: [
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    { selector: 'img', format: 'skip' },
    { selector: 'h1', options: { uppercase: false } },
    { selector: 'h2', options: { uppercase: false } },
    { selector: 'h3', options: { uppercase: false } },
    { selector: 'table', options: { uppercaseHeaderCells: false } },
  ],
};

// Strict: a template that names a missing value throws instead of mailing an empty link.
// knownHelpersOnly: templates can call only the built-ins, htmlToText and allowedHtml, nothing found at run time.
const HTML_COMPILE_OPTIONS: CompileOptions = {
  strict: true,
  knownHelpersOnly: true,
  knownHelpers: { htmlToText: true, allowedHtml: true, excerpt: true },
};
// Subject and text part are not HTML: escaping would put "&amp;" in front of the reader.
const PLAIN_COMPILE_OPTIONS: CompileOptions = { ...HTML_COMPILE_OPTIONS, noEscape: true };

// The 4.6+ defaults, spelled out so an upgrade or a stray option cannot turn prototype access on.
const RUNTIME_OPTIONS = {
  allowProtoPropertiesByDefault: false,
  allowProtoMethodsByDefault: false,
} as const;

interface MessageSources {
  version: string;
  layout: LayoutName;
  /** Contents by path relative to the templates folder. */
  files: ReadonlyMap<string, string>;
}

interface CompiledMessage {
  subject: TemplateFn;
  /** The inbox preview line (mj-preview), as plain text. */
  preheader: TemplateFn;
  html: TemplateFn;
  text: TemplateFn;
  strings: LayoutStrings;
}

@Injectable()
export class MjmlTemplateRenderer extends TemplateRenderer implements OnModuleInit {
  private readonly templatesDir: string;
  // Its own environment, so no helper or partial registered elsewhere in the process leaks in.
  private readonly handlebars = Handlebars.create();
  private readonly sources = new Map<string, MessageSources>();
  // Promises, so concurrent first renders share one compilation instead of racing to compile.
  private readonly compiled = new Map<string, Promise<CompiledMessage>>();
  private readonly textOfHtml = new BoundedCache<string, string>(32);
  private readonly allowedHtml = new BoundedCache<string, string>(32);
  private compileCount = 0;
  private readonly brand: Brand;
  private readonly brandFrames: Record<Locale, BrandFrame>;

  constructor(
    @Optional() @Inject(RENDERING_OPTIONS) options?: RenderingOptions,
    @Optional() @Inject(APP_CONFIG) config?: AppConfig,
  ) {
    super();
    this.templatesDir = options?.templatesDir ?? DEFAULT_TEMPLATES_DIR;
    this.brand = options?.brand ?? config?.brand ?? DEFAULT_BRAND;
    const frame = (locale: Locale): BrandFrame => ({
      name: this.brand.name,
      logoUrl: this.brand.logoUrl,
      address: this.brand.address[locale],
      imprintUrl: this.brand.imprintUrl,
      privacyUrl: this.brand.privacyUrl,
    });
    this.brandFrames = { de: frame('de'), en: frame('en') };
    // An excerpt for the inbox preview line: whole words, at most about 140 characters.
    this.handlebars.registerHelper('excerpt', (text: unknown) => {
      if (typeof text !== 'string') throw new Error('excerpt needs a string');
      const flat = text.replace(/\[[^\]]*\]/g, '').replace(/\s+/g, ' ').trim();
      if (flat.length <= 140) return flat;
      return `${flat.slice(0, 140).replace(/\s+\S*$/, '')} …`;
    });
    // A campaign body is the same for thousands of recipients; convert it once.
    this.handlebars.registerHelper('htmlToText', (html: unknown) => {
      if (typeof html !== 'string') throw new Error('htmlToText needs an HTML string');
      return this.textOfHtml.getOrCreate(html, () => convertHtmlToText(html, HTML_TO_TEXT_OPTIONS));
    });
    // The campaign body as it may go out: cleaned by the same allow-list that checked it when it
    // was stored (campaign-body.ts), so a body stored before that check cannot carry anything else.
    this.handlebars.registerHelper('allowedHtml', (html: unknown) => {
      if (typeof html !== 'string') throw new Error('allowedHtml needs an HTML string');
      return this.allowedHtml.getOrCreate(html, () => sanitizeCampaignBody(html));
    });
  }

  /** Compiles every message at start-up: a broken template stops the app, not the first send. */
  async onModuleInit(): Promise<void> {
    await this.warmUp();
  }

  async warmUp(): Promise<void> {
    const work: Promise<CompiledMessage>[] = [];
    for (const message of Object.keys(MESSAGE_LAYOUTS)) {
      for (const locale of LOCALES) work.push(this.compiledMessage(message, locale));
    }
    await Promise.all(work);
  }

  /** How many times MJML ran; stays flat however many mails are rendered. */
  get mjmlCompileCount(): number {
    return this.compileCount;
  }

  async render(message: string, locale: Locale, data: Record<string, unknown>): Promise<RenderedMail> {
    const compiled = await this.compiledMessage(message, locale);
    try {
      // @-variables are layout-owned and cannot collide with recipient data.
      const frame = { locale, t: compiled.strings, subject: '', preheader: '', brand: this.brandFrames[locale] };
      // One options object for the three calls (Handlebars copies the frame, never the options).
      const options = { ...RUNTIME_OPTIONS, data: frame };
      // One line: the subject becomes a header, and a line break in the data must not end it.
      const subject = compiled.subject(data, options).replace(/\s+/g, ' ').trim();
      frame.subject = subject;
      frame.preheader = compiled.preheader(data, options).replace(/\s+/g, ' ').trim();
      const html = compiled.html(data, options);
      const text = tidyText(compiled.text(data, options));
      if (!subject || !text) throw new Error('rendered an empty subject or text part');
      return { subject, html, text };
    } catch (error) {
      throw new TemplateRenderError(`cannot render ${message}/${locale}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  templateVersion(message: string): string {
    return this.messageSources(message).version;
  }

  async validateCampaignBody(mjmlOrHtml: string): Promise<CampaignBodyValidation> {
    const errors: CampaignBodyError[] = [];
    const isDocument = /^\s*<mjml[\s>]/i.test(mjmlOrHtml);
    // A snippet is validated where it will end up: inside an mj-text of the layout.
    const prefix = '<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n<mj-text>\n';
    const source = isDocument ? mjmlOrHtml : `${prefix}${mjmlOrHtml}\n</mj-text>\n</mj-column>\n</mj-section>\n</mj-body>\n</mjml>`;
    const shift = isDocument ? 0 : prefix.split('\n').length - 1;
    const lastLine = mjmlOrHtml.split('\n').length;

    try {
      await mjml2html(source, { validationLevel: 'strict', ignoreIncludes: true, fonts: {}, keepComments: false });
    } catch (error) {
      const found = mjmlValidationErrors(error);
      if (found) {
        for (const e of found) {
          errors.push({ line: clamp(e.line - shift, 1, lastLine), message: e.message.trim() });
        }
      } else {
        // The parser gives no position for a document it cannot read at all.
        errors.push({ line: 1, message: errorMessage(error) });
      }
    }
    // Active content (scripts, frames, forms, handlers, javascript: links, mj-include, mj-raw, …) is
    // refused by the allow-list; where MJML already named the same element on the same line, once is enough.
    const mjmlErrors = [...errors];
    for (const problem of campaignBodyProblems(mjmlOrHtml)) {
      const named = problem.tag !== '' && mjmlErrors.some((e) => e.line === problem.line && e.message.includes(problem.tag));
      if (!named) errors.push({ line: problem.line, message: problem.message });
    }
    if (errors.length === 0) return { ok: true };
    return { ok: false, errors: errors.sort((a, b) => a.line - b.line) };
  }

  private compiledMessage(message: string, locale: Locale): Promise<CompiledMessage> {
    if (!LOCALES.includes(locale)) {
      return Promise.reject(new TemplateRenderError(`unknown locale "${String(locale)}"`));
    }
    let sources: MessageSources;
    try {
      sources = this.messageSources(message);
    } catch (error) {
      return Promise.reject(error);
    }
    const key = `${message}@${sources.version}/${locale}`;
    let compiled = this.compiled.get(key);
    if (!compiled) {
      compiled = this.compile(message, locale, sources);
      // A failed compilation is not cached, so a fixed template can be picked up by a retry.
      compiled.catch(() => this.compiled.delete(key));
      this.compiled.set(key, compiled);
    }
    return compiled;
  }

  private async compile(message: string, locale: Locale, sources: MessageSources): Promise<CompiledMessage> {
    const file = (relative: string): string => {
      const content = sources.files.get(relative);
      if (content === undefined) throw new TemplateRenderError(`template file missing: ${relative}`);
      return content;
    };
    const layoutPath = `layouts/${sources.layout}.mjml`;
    const filled = fillSlot(file(layoutPath), MJML_CONTENT_SLOT, file(`messages/${message}/${locale}.mjml`), layoutPath);
    // The partials are inlined here (from the files read once, so they count for the version), and
    // the brand's colours written into attributes MJML validates; any other include is left to MJML,
    // which refuses what lies outside the partials folder.
    const colors = brandColors(this.brand);
    const mjml = filled
      .replace(/<mj-include path="\.\.\/partials\/([\w-]+\.mjml)"\s*\/>/g, (include, name: string) => sources.files.get(`partials/${name}`) ?? include)
      .replace(/__(?:BRAND|DARK)_[A-Z_]+__/g, (token) => colors[token] ?? token);

    const stray = strayBlockExpression(mjml);
    if (stray) {
      throw new TemplateRenderError(
        `MJML of ${message}/${locale}: ${stray} stands between MJML elements, where MJML drops it; put the condition inside the mj-text`,
      );
    }

    this.compileCount += 1;
    let html: string;
    try {
      ({ html } = await mjml2html(mjml, {
        validationLevel: 'strict',
        // Includes are ours: resolved from the layout and confined to the partials folder.
        ignoreIncludes: false,
        filePath: path.join(this.templatesDir, layoutPath),
        includePath: path.join(this.templatesDir, 'partials'),
        fonts: {},
        keepComments: false,
      }));
    } catch (error) {
      throw new TemplateRenderError(`MJML of ${message}/${locale} is invalid: ${errorMessage(error)}`, { cause: error });
    }
    // MJML reports a denied or unreadable include only as an HTML comment.
    const brokenInclude = /<!-- mj-include[^>]*-->/.exec(html);
    if (brokenInclude) {
      throw new TemplateRenderError(`MJML of ${message}/${locale}: ${brokenInclude[0]}`);
    }

    // MJML indents its output; the indentation (a fifth of a layout's HTML) only costs
    // quoted-printable work and bytes in every mail. A line break stays where one was, so the
    // whitespace between elements (and what it renders as) is kept.
    html = html.replace(/\n[ \t\r\n]*/g, '\n');

    const textPath = `layouts/${sources.layout}.txt.hbs`;
    const text = fillSlot(file(textPath), TEXT_CONTENT_SLOT, file(`messages/${message}/${locale}.txt.hbs`), textPath);
    const subject = file(`messages/${message}/${locale}.subject.hbs`);
    const preheader = file(`messages/${message}/${locale}.preheader.hbs`);
    // Parse now so a Handlebars syntax error surfaces at start-up; compile() itself is lazy.
    for (const source of [html, text, subject, preheader]) this.handlebars.parse(source);

    return {
      subject: this.handlebars.compile(subject, PLAIN_COMPILE_OPTIONS),
      preheader: this.handlebars.compile(preheader, PLAIN_COMPILE_OPTIONS),
      html: this.handlebars.compile(html, HTML_COMPILE_OPTIONS),
      text: this.handlebars.compile(text, PLAIN_COMPILE_OPTIONS),
      strings: JSON.parse(file(`locales/${locale}.json`)) as LayoutStrings,
    };
  }

  /** Reads a message's files once; their hash is the template version. */
  private messageSources(message: string): MessageSources {
    const cached = this.sources.get(message);
    if (cached) return cached;
    if (!Object.hasOwn(MESSAGE_LAYOUTS, message)) {
      throw new TemplateRenderError(`unknown message "${message}"`);
    }
    const layout = MESSAGE_LAYOUTS[message as MessageName];
    const paths = [
      `layouts/${layout}.mjml`,
      `layouts/${layout}.txt.hbs`,
      ...this.listFiles('partials'),
      ...this.listFiles('locales'),
      ...this.listFiles(`messages/${message}`),
    ].sort();
    const hash = createHash('sha256');
    const files = new Map<string, string>();
    for (const relative of paths) {
      const content = readFileSync(path.join(this.templatesDir, relative), 'utf8');
      files.set(relative, content);
      hash.update(relative).update('\0').update(content).update('\0');
    }
    const sources = { version: hash.digest('hex').slice(0, 12), layout, files };
    this.sources.set(message, sources);
    return sources;
  }

  private listFiles(folder: string): string[] {
    return readdirSync(path.join(this.templatesDir, folder), { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => `${folder}/${entry.name}`);
  }
}

// The elements whose content MJML copies into the HTML as it is. Anywhere else (between sections,
// columns, texts) MJML keeps only its own elements: a Handlebars block there is silently dropped,
// and the text inside it goes out whatever the condition (a cancelled webinar offering
// "Register again").
const VERBATIM_ELEMENTS = /<(mj-text|mj-button|mj-title|mj-preview|mj-style|mj-raw|mj-table)\b[^>]*>[\s\S]*?<\/\1>/g;
const BLOCK_EXPRESSION = /\{\{~?\s*(?:[#^/]|else\b)[^}]*\}\}/;

/** The first Handlebars block expression outside the verbatim elements, if any. */
export function strayBlockExpression(mjml: string): string | undefined {
  const outside = mjml.replace(/<!--[\s\S]*?-->/g, '').replace(VERBATIM_ELEMENTS, '');
  return BLOCK_EXPRESSION.exec(outside)?.[0];
}

function fillSlot(layout: string, slot: string, content: string, layoutPath: string): string {
  const parts = layout.split(slot);
  if (parts.length !== 2) throw new TemplateRenderError(`${layoutPath} must contain ${slot} exactly once`);
  return parts[0] + content + parts[1];
}

/** Template line breaks around block helpers leave runs of blank lines; readers want at most one. */
// Trailing blanks off every line, at most one empty line in a row. The same as
// `.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trim()`, a third cheaper: each replace runs
// only when a cheap test finds something to replace (a multiline `$` is slow in V8).
function tidyText(text: string): string {
  let tidy = text;
  if (/[ \t][\n\r\u2028\u2029]/.test(tidy)) tidy = tidy.replace(/[ \t]+(?=[\n\r\u2028\u2029])/g, '');
  if (tidy.includes('\n\n\n')) tidy = tidy.replace(/\n{3,}/g, '\n\n');
  return tidy.trim();
}

function mjmlValidationErrors(error: unknown): { line: number; message: string }[] | undefined {
  const errors = (error as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return undefined;
  return errors.map((e: { line?: unknown; message?: unknown }) => ({
    line: typeof e.line === 'number' ? e.line : 1,
    message: String(e.message ?? 'invalid MJML'),
  }));
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
