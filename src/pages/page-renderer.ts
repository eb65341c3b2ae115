// Server-rendered customer pages: Handlebars templates in templates/pages, compiled once, with
// HTML escaping on and prototype access off. No JavaScript is needed to use any page.
import { Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import Handlebars from 'handlebars';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readableOn } from '../config/colors';
import { APP_CONFIG, AppConfig, Brand, Locale } from '../config/config';

const PAGES_DIR = resolve(__dirname, '../../templates/pages');

export type PageStrings = Record<string, string>;

/**
 * The brand's colours as CSS custom properties, light and dark, for the layout's static stylesheet.
 * A <style> block of its own, fixed at start-up, so the CSP can allow it by its hash. In dark mode
 * the brand colour stays on buttons (with white text) and is lightened for links and focus.
 */
export function brandStyle(brand: Brand): string {
  const { primary, text, background } = brand.colors;
  const darkCard = '#1f2937';
  return (
    `<style>:root { --brand: ${primary}; --brand-link: ${primary}; --ink: ${text}; --bg: ${background}; }\n` +
    `@media (prefers-color-scheme: dark) { :root { --brand-link: ${readableOn(primary, darkCard)}; --ink: #e5e7eb; --bg: #111827; } }</style>`
  );
}

/**
 * The Content-Security-Policy of every page: nothing from elsewhere, never in a frame (the
 * one-button confirm and unsubscribe forms must not be clickjacked), forms post only here, images
 * come from here or the brand logo's origin. The
 * pages' inline <style> and <script> blocks are allowed by their SHA-256, not by 'unsafe-inline';
 * a block must therefore be plain text in its template (no {{…}} inside), which this checks.
 */
export function contentSecurityPolicy(templates: string[], imageOrigins: string[] = []): string {
  const hashes = (tag: 'style' | 'script') =>
    templates.flatMap((text) =>
      [...text.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map(([, body]) => {
        if (body.includes('{{')) throw new Error(`a <${tag}> block in templates/pages holds a template expression; its CSP hash would not match`);
        return `'sha256-${createHash('sha256').update(body, 'utf8').digest('base64')}'`;
      }),
    );
  const styles = hashes('style');
  const scripts = hashes('script');
  return [
    `default-src 'self'`,
    `script-src ${scripts.length ? scripts.join(' ') : `'none'`}`,
    `style-src ${styles.length ? styles.join(' ') : `'self'`}`,
    `img-src ${["'self'", ...imageOrigins].join(' ')}`,
    `form-action 'self'`,
    `frame-ancestors 'none'`,
    `base-uri 'none'`,
    `object-src 'none'`,
  ].join('; ');
}

/**
 * The page language a visitor asked for: `?lang` (or the `lang` field of a posted form), else the
 * first of de/en in Accept-Language, else `fallback`.
 */
export function requestLocale(request: FastifyRequest, fallback: Locale): Locale {
  for (const source of [request.query, request.body]) {
    const lang = source && typeof source === 'object' ? (source as { lang?: unknown }).lang : undefined;
    if (lang === 'de' || lang === 'en') return lang;
  }
  const header = request.headers['accept-language'];
  if (typeof header !== 'string') return fallback;
  const ranked = header
    .split(',')
    .map((part, i) => {
      const [tag, ...params] = part.trim().toLowerCase().split(';');
      const q = Number(params.map((p) => p.trim()).find((p) => p.startsWith('q='))?.slice(2) ?? 1);
      return { primary: tag.split('-')[0], q: Number.isFinite(q) ? q : 0, i };
    })
    .filter((x) => x.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  const found = ranked.find((x) => x.primary === 'de' || x.primary === 'en');
  return found ? (found.primary as Locale) : fallback;
}

@Injectable()
export class PageRenderer {
  private readonly hbs = Handlebars.create();
  private readonly pages = new Map<string, Handlebars.TemplateDelegate>();
  private readonly layout: Handlebars.TemplateDelegate;
  private readonly strings: Record<Locale, PageStrings>;
  /** Sent with every page (see CustomerPageHeaders). */
  readonly contentSecurityPolicy: string;

  private readonly brandStyle: string;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.brandStyle = brandStyle(config.brand);
    const sources: string[] = [this.brandStyle];
    for (const file of readdirSync(PAGES_DIR).filter((f) => f.endsWith('.hbs'))) {
      const source = readFileSync(join(PAGES_DIR, file), 'utf8');
      sources.push(source);
      this.pages.set(file.replace(/\.hbs$/, ''), this.hbs.compile(source, { strict: false }));
    }
    this.layout = this.pages.get('layout')!;
    // i18n.json, plus the strings of a feature kept in a file of its own (i18n.<feature>.json).
    const files = ['i18n.json', ...readdirSync(PAGES_DIR).filter((f) => /^i18n\.[\w-]+\.json$/.test(f)).sort()];
    const parts = files.map((f) => JSON.parse(readFileSync(join(PAGES_DIR, f), 'utf8')) as Record<Locale, PageStrings>);
    this.strings = { de: Object.assign({}, ...parts.map((p) => p.de)), en: Object.assign({}, ...parts.map((p) => p.en)) };
    // The brand's logo is the one thing a page loads from elsewhere.
    this.contentSecurityPolicy = contentSecurityPolicy(sources, config.brand.logoUrl ? [new URL(config.brand.logoUrl).origin] : []);
  }

  t(locale: Locale): PageStrings {
    return this.strings[locale];
  }

  render(page: string, locale: Locale, title: string, data: Record<string, unknown>): string {
    const template = this.pages.get(page);
    if (!template) throw new Error(`no page template ${page}`);
    const options = { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false };
    const body = template({ ...data, t: this.strings[locale], locale }, options);
    const brand = this.config.brand;
    return this.layout(
      {
        body,
        title,
        locale,
        t: this.strings[locale],
        brandStyle: this.brandStyle,
        brand: { name: brand.name, logoUrl: brand.logoUrl, address: brand.address[locale], imprintUrl: brand.imprintUrl, privacyUrl: brand.privacyUrl },
      },
      options,
    );
  }

  /** What a link of a preview or test send opens: it says so, and nothing changes. */
  previewLink(locale: Locale): string {
    const t = this.strings[locale];
    return this.message(locale, t.previewTitle, [t.previewBody]);
  }

  /** A short page with a heading and a few sentences (confirmations, errors). */
  message(locale: Locale, heading: string, paragraphs: string[], extra: { notice?: string; link?: { href: string; label: string } } = {}): string {
    return this.render('message', locale, heading, { heading, paragraphs, ...extra });
  }
}
