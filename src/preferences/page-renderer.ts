// Server-rendered customer pages: Handlebars templates in templates/pages, compiled once, with
// HTML escaping on and prototype access off. No JavaScript is needed to use any page.
import { Inject, Injectable } from '@nestjs/common';
import Handlebars from 'handlebars';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';

const PAGES_DIR = resolve(__dirname, '../../templates/pages');

export type PageStrings = Record<string, string>;

@Injectable()
export class PageRenderer {
  private readonly hbs = Handlebars.create();
  private readonly pages = new Map<string, Handlebars.TemplateDelegate>();
  private readonly layout: Handlebars.TemplateDelegate;
  private readonly strings: Record<Locale, PageStrings>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    for (const file of readdirSync(PAGES_DIR).filter((f) => f.endsWith('.hbs'))) {
      this.pages.set(file.replace(/\.hbs$/, ''), this.hbs.compile(readFileSync(join(PAGES_DIR, file), 'utf8'), { strict: false }));
    }
    this.layout = this.pages.get('layout')!;
    this.strings = JSON.parse(readFileSync(join(PAGES_DIR, 'i18n.json'), 'utf8'));
  }

  t(locale: Locale): PageStrings {
    return this.strings[locale];
  }

  render(page: string, locale: Locale, title: string, data: Record<string, unknown>): string {
    const template = this.pages.get(page);
    if (!template) throw new Error(`no page template ${page}`);
    const options = { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false };
    const body = template({ ...data, t: this.strings[locale], locale }, options);
    return this.layout(
      { body, title, locale, companyName: this.config.companyName, postalAddress: this.config.senderPostalAddress },
      options,
    );
  }

  /** A short page with a heading and a few sentences (confirmations, errors). */
  message(locale: Locale, heading: string, paragraphs: string[], extra: { notice?: string; link?: { href: string; label: string } } = {}): string {
    return this.render('message', locale, heading, { heading, paragraphs, ...extra });
  }
}
