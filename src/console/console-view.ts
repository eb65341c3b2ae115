// How a console page is put together: the language (the session's, or ?lang), the frame around
// every page (navigation, who is signed in, sign-out and language forms with the CSRF token),
// dates and numbers in words, and the few pages every console route may answer (sign-in, not
// allowed, not found).
import { Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { scopesAllow } from '../auth/scopes';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { PageRenderer, PageStrings, requestLocale } from '../pages/page-renderer';
import type { ConsoleRequest } from './console-sessions.service';

export type ConsoleSection = 'customers' | 'campaigns' | 'listening' | 'operations' | null;

const SECTIONS: { key: Exclude<ConsoleSection, null>; href: string }[] = [
  { key: 'customers', href: '/console/customers' },
  { key: 'campaigns', href: '/console/campaigns' },
  { key: 'listening', href: '/console/listening' },
  { key: 'operations', href: '/console/operations' },
];

const formats = new Map<string, Intl.DateTimeFormat>();
function formatter(locale: Locale, timeZone: string, style: 'full' | 'short'): Intl.DateTimeFormat {
  const key = `${locale} ${timeZone} ${style}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(locale === 'de' ? 'de-DE' : 'en-GB', {
      dateStyle: style === 'full' ? 'full' : 'medium',
      timeStyle: 'short',
      timeZone,
    });
    formats.set(key, format);
  }
  return format;
}

/** "{n} mails" style templates: {name} replaced by the value. */
export const fill = (template: string, values: Record<string, string | number>): string =>
  template.replace(/\{(\w+)\}/g, (_, k: string) => String(values[k] ?? ''));

@Injectable()
export class ConsoleView {
  constructor(
    private readonly pages: PageRenderer,
    @Inject(APP_CONFIG) readonly config: AppConfig,
  ) {}

  locale(request: FastifyRequest): Locale {
    const fixed = (request as FastifyRequest & { consoleLocale?: Locale }).consoleLocale;
    if (fixed) return fixed;
    const query = (request.query ?? {}) as { lang?: unknown };
    if (query.lang === 'de' || query.lang === 'en') return query.lang;
    return (request as ConsoleRequest).consoleSession?.locale ?? requestLocale(request, this.config.defaultLocale);
  }

  t(request: FastifyRequest): PageStrings {
    return this.pages.consoleT(this.locale(request));
  }

  /** A date in words in `timeZone` (the console's default zone unless given), with the zone named. */
  when(at: Date | string | null | undefined, locale: Locale, timeZone = this.config.defaultTimeZone, style: 'full' | 'short' = 'short'): string | null {
    if (at === null || at === undefined) return null;
    const date = typeof at === 'string' ? new Date(at) : at;
    return `${formatter(locale, timeZone, style).format(date)} (${timeZone})`;
  }

  number(n: number, locale: Locale): string {
    return n.toLocaleString(locale === 'de' ? 'de-DE' : 'en-GB');
  }

  page(
    request: FastifyRequest,
    page: string,
    title: string,
    data: Record<string, unknown>,
    options: { section?: ConsoleSection; refreshSeconds?: number; goTo?: string } = {},
  ): string {
    const locale = this.locale(request);
    const t = this.pages.consoleT(locale);
    const session = (request as ConsoleRequest).consoleSession;
    const path = request.url.split('?')[0];
    const frame = {
      signedIn: !!session,
      keyName: session?.apiKeyName,
      keyPrefix: session?.apiKeyPrefix,
      scopes: session?.scopes.join(', '),
      readOnly: session ? !scopesAllow(session.scopes, ['subscribers:write', 'campaigns:write', 'topics:write']) : false,
      csrf: session?.csrf,
      nav: session ? SECTIONS.map((s) => ({ href: s.href, label: t[`nav_${s.key}`], current: s.key === options.section })) : [],
      otherLocale: locale === 'de' ? 'en' : 'de',
      otherLocaleName: locale === 'de' ? 'English' : 'Deutsch',
      back: path,
      refreshSeconds: options.refreshSeconds,
      goTo: options.goTo,
    };
    return this.pages.renderConsole(page, locale, title, { ...data, csrf: session?.csrf, title }, frame);
  }

  signIn(request: FastifyRequest, state: { error?: boolean; expired?: boolean; next?: string; locale?: Locale; signedOut?: boolean } = {}): string {
    if (state.locale) (request as FastifyRequest & { consoleLocale?: Locale }).consoleLocale = state.locale;
    const t = this.t(request);
    const path = request.url.split('?')[0];
    const next = state.next ?? (request.method === 'GET' && path !== '/console/sign-in' ? path : '/console');
    return this.page(request, 'sign-in', t.signInTitle, {
      error: state.error ? t.signInWrong : null,
      expired: !state.error && state.expired ? t.signInExpired : null,
      signedOut: state.signedOut ? t.signedOutText : null,
      next: safeNext(next),
      isDe: this.locale(request) === 'de',
    });
  }

  forbidden(request: FastifyRequest, why: 'scope' | 'csrf'): string {
    const t = this.t(request);
    return this.page(request, 'message', t.forbiddenTitle, { heading: t.forbiddenTitle, text: why === 'csrf' ? t.forbiddenCsrf : t.forbiddenScope });
  }

  /** After a form did something: says what, and goes on to `goTo` (meta refresh, so no JavaScript and no 303 the document would have to describe). */
  done(request: FastifyRequest, heading: string, text: string, goTo: string): string {
    return this.page(request, 'done', heading, { heading, text, goTo }, { goTo });
  }

  notFound(request: FastifyRequest, text: string): string {
    const t = this.t(request);
    return this.page(request, 'message', t.notFoundTitle, { heading: t.notFoundTitle, text });
  }
}

/** Where to go after signing in: a console path only (never another site). */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/console(\/[A-Za-z0-9/_-]*)?$/.test(next) ? next : '/console';
}
