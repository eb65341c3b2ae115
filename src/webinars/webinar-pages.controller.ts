// The public webinar pages: registration (/webinars/:slug/register), its double opt-in link
// (/webinars/:slug/confirm/:token) and the self-service unregister link from every registration
// mail (/webinars/unregister/:token). Server-rendered, in German and English, usable without
// JavaScript; GET never changes anything.
//
// The form registers nobody by itself: it asks the address's owner (WebinarRegistrationRequests),
// and answers every valid submission for an open webinar with the same "check your inbox" page,
// whether the address is unknown, known, registered already, blocked or over a limit. Only a
// personal link (?t=, a signed 'webinar_register' token mailed to a subscriber) registers its
// holder at once: holding it proves the mailbox.
//
// The registration form has no subscriber to bind a CSRF token to, so it uses a signed double
// submit: GET sets a random SameSite=Strict cookie and puts HMAC(cookie) in the form; a POST from
// another site carries neither the cookie nor a way to compute the field.
import { Body, Controller, Get, Header, HttpCode, Inject, Param, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { isEmail } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Public } from '../auth/scopes';
import { Clock } from '../common/clock';
import { ApiForm, ApiLangQuery, ApiPage, PAGE_INVALID_LINK, PAGE_TOO_MANY } from '../common/openapi';
import { DomainException, ErrorCode } from '../common/problem';
import { isTimeZone, timeZoneNames } from '../common/time-zones';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { CustomerPageLimitFilter, CustomerRateLimitGuard, CustomerRateLimits } from '../pages/customer-rate-limit.guard';
import { PageRenderer, PageStrings, requestLocale } from '../pages/page-renderer';
import { TokenService } from '../links/tokens';
import { normalizeEmail } from '../addresses/email';
import { formatWhen, pick, seriesLabel } from './webinar-content';
import { WebinarRegistrationRequestsService } from './webinar-registration-requests.service';
import { RegisterResult, WebinarRegistrationsService } from './webinar-registrations.service';
import { WebinarRow, webinarText } from './webinar.entity';
import { WebinarsService } from './webinars.service';

const FORM_COOKIE = 'tactful_form';
const fill = (template: string, values: Record<string, string | number>) => template.replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ''));
const field = (value: unknown): string => (typeof value === 'string' ? value.trim() : '');

interface FormValues {
  email: string;
  firstName: string;
  timeZone: string;
  series: boolean;
}

const SLUG = { name: 'slug', description: 'The webinar’s slug (`registrationUrl` of the webinar).', schema: { type: 'string' } };
const UNREGISTER_TOKEN = { name: 'token', description: 'The signed unregister link from the registration mail.', schema: { type: 'string' } };
const CONFIRM_TOKEN = { name: 'token', description: 'The signed link of the “confirm your registration” mail.', schema: { type: 'string' } };
const PERSONAL_TOKEN = {
  name: 't',
  required: false,
  type: 'string',
  description: 'A personal registration link (signed, from a mail to a subscriber): the form registers its holder at once, without the confirmation mail.',
};
const FORM_TOO_MANY = 'Too many form requests from this address: a page in the visitor’s language, with Retry-After.';

@ApiTags('customer pages')
@Public()
@UseGuards(CustomerRateLimitGuard)
@UseFilters(CustomerPageLimitFilter)
@Controller('webinars')
export class WebinarPagesController {
  private readonly secureCookie: boolean;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly pages: PageRenderer,
    private readonly tokens: TokenService,
    private readonly webinars: WebinarsService,
    private readonly registrations: WebinarRegistrationsService,
    private readonly requests: WebinarRegistrationRequestsService,
    private readonly limits: CustomerRateLimits,
  ) {
    this.secureCookie = config.publicUrl.startsWith('https:');
  }

  @Get(':slug/register')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'The public registration page of a webinar (sets the form cookie)' })
  @ApiParam(SLUG)
  @ApiLangQuery()
  @ApiQuery(PERSONAL_TOKEN)
  @ApiPage({
    html: { 200: 'The registration form (with a valid personal link: the address filled in).', 404: 'No webinar has this slug.', 410: 'The webinar was cancelled or has started.', 429: FORM_TOO_MANY },
    headers: { 'Set-Cookie': { description: 'tactful_form: the random half of the form’s signed double submit (SameSite=Strict, HttpOnly).', schema: { type: 'string' } } },
  })
  async show(
    @Param('slug') slug: string,
    @Query('lang') lang: string | undefined,
    @Query('t') personal: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const webinar = await this.webinars.bySlug(slug);
    const locale = this.localeFor(lang, webinar);
    if (!webinar) return this.notFound(reply);
    const closed = this.closedPage(reply, webinar, locale);
    if (closed) return closed;
    const holder = await this.personalHolder(personal);
    const values = { email: holder?.email ?? '', firstName: holder?.firstName ?? '', timeZone: holder?.timeZone ?? '', series: false };
    return this.form(webinar, locale, this.formCookie(request, reply), values, [], holder ? personal! : null);
  }

  @Post(':slug/register')
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Ask to register from the public page (needs the form cookie and its csrf field): double opt-in',
    description:
      'Registers nobody by itself: the address gets one “confirm your registration” mail (at most one per address and webinar a day, ' +
      'three per address a day, WEBINAR_CONFIRM_MAILS_PER_IP_HOUR per client address), and only its link registers. The answer is ' +
      'the same “check your inbox” page for an unknown, known, registered, erased, bounced or complained address and over a limit ' +
      '(no oracle, nothing to mail strangers with). With a valid personal link (`t`, for the address it was mailed to) the holder ' +
      'is registered at once: a new address then becomes a pending subscriber without newsletter consent.',
  })
  @ApiParam(SLUG)
  @ApiForm({
    type: 'object',
    required: ['csrf', 'email', 'timeZone'],
    properties: {
      csrf: { type: 'string', description: 'The hidden field of the form (signed with the tactful_form cookie).' },
      email: { type: 'string', format: 'email', maxLength: 254 },
      firstName: { type: 'string', maxLength: 100 },
      timeZone: { type: 'string', format: 'time-zone', example: 'Europe/Berlin' },
      series: { type: 'string', enum: ['1'], description: 'Also every later part of the series.' },
      lang: { type: 'string', enum: ['de', 'en'] },
      t: { type: 'string', description: 'The personal registration link’s token, when the form was opened from one.' },
    },
  })
  @ApiPage({
    html: {
      200: '“Check your inbox” (the same page for every address); with a valid personal link: registered.',
      403: 'The form has expired or did not come from this page (cookie and csrf): a page with a link back to the form.',
      404: 'No webinar has this slug.',
      409: 'The webinar is fully booked.',
      410: 'The webinar was cancelled or has started.',
      422: 'The form again, with the errors (e-mail address, time zone).',
      429: FORM_TOO_MANY,
    },
  })
  async register(
    @Param('slug') slug: string,
    @Body() form: Record<string, unknown>,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const webinar = await this.webinars.bySlug(slug);
    const locale = this.localeFor(field(form?.lang), webinar);
    if (!webinar) return this.notFound(reply);
    const t = this.pages.t(locale);
    const cookie = cookieValue(request.headers.cookie, FORM_COOKIE);
    if (!cookie || !this.checkFormToken(cookie, form?.csrf)) {
      void reply.status(403);
      return this.pages.message(locale, t.webinarFormExpiredTitle, [t.webinarFormExpiredBody], { link: { href: this.pageUrl(webinar, locale), label: t.webinarBackToForm } });
    }
    const values: FormValues = {
      email: field(form.email).slice(0, 254),
      firstName: field(form.firstName).replace(/[<>\r\n]/g, '').slice(0, 100),
      timeZone: field(form.timeZone),
      series: form.series === '1',
    };
    const errors: { field: string; message: string }[] = [];
    if (!isEmail(values.email)) errors.push({ field: 'email', message: t.webinarEmailInvalid });
    if (!isTimeZone(values.timeZone)) errors.push({ field: 'timeZone', message: t.webinarTimeZoneInvalid });
    const personal = typeof form.t === 'string' && form.t !== '' ? form.t : null;
    const holder = await this.personalHolder(personal ?? undefined);
    if (errors.length) {
      void reply.status(422);
      return this.form(webinar, locale, cookie, values, errors, holder ? personal : null);
    }
    const closed = this.closedPage(reply, webinar, locale);
    if (closed) return closed;
    const input = { email: values.email, locale, timeZone: values.timeZone, firstName: values.firstName || undefined, series: values.series };
    const evidence = { ip: request.ip ?? null, userAgent: request.headers['user-agent'] ?? null };
    const seriesRequested = values.series && webinar.series_id !== null;
    // The holder of a personal link, for the address it was mailed to: registered at once.
    if (holder && normalizeEmail(values.email) === holder.email) {
      const result = await this.registrations.register(webinar.id, input, 'page', evidence);
      return this.outcomePage(reply, locale, holder.email, result, seriesRequested);
    }
    // Full for everyone alike: the answer does not depend on the address.
    if (webinar.capacity !== null && webinar.registered >= webinar.capacity) {
      void reply.status(409);
      return this.pages.message(locale, t.webinarFullTitle, [t.webinarFullBody]);
    }
    await this.requests.request(webinar.id, { ...input, series: seriesRequested }, evidence);
    return this.pages.message(locale, t.webinarCheckInboxTitle, [
      t.webinarCheckInboxBody,
      ...(seriesRequested ? [t.webinarCheckInboxSeries] : []),
      t.webinarCheckInboxAlready,
      t.webinarCheckInboxNoMail,
      t.webinarRegisteredNoNewsletter,
    ]);
  }

  @Get(':slug/confirm/:token')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'The page of the “confirm your registration” link: one button (GET changes nothing; mail scanners prefetch links)' })
  @ApiParam(SLUG)
  @ApiParam(CONFIRM_TOKEN)
  @ApiLangQuery()
  @ApiPage({ html: { 200: 'The webinar and a button that confirms the registration.', 404: PAGE_INVALID_LINK, 410: 'The webinar was cancelled or has started.', 429: PAGE_TOO_MANY } })
  async showConfirm(
    @Param('slug') slug: string,
    @Param('token') token: string,
    @Query('lang') lang: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const found = await this.requestOf(slug, token);
    if (!found) return this.notFound(reply, this.localeFor(lang, null));
    const { request, webinar } = found;
    const locale: Locale = lang === 'de' || lang === 'en' ? lang : request.locale;
    const closed = this.closedPage(reply, webinar, locale);
    if (closed) return closed;
    const t = this.pages.t(locale);
    const text = webinarText(webinar);
    return this.pages.render('webinar-confirm', locale, t.webinarConfirmTitle, {
      intro: fill(t.webinarConfirmIntro, { x: request.email }),
      title: pick(text.title, locale),
      seriesLabel: seriesLabel(text, locale),
      when: formatWhen(webinar.starts_at, webinar.ends_at, locale, request.timeZone),
      startsIso: webinar.starts_at.toISOString(),
      seriesOption: request.series && text.series ? fill(t.webinarConfirmSeries, { x: pick(text.series.title, locale) }) : null,
      action: `/webinars/${encodeURIComponent(webinar.slug)}/confirm/${encodeURIComponent(token)}`,
    });
  }

  /** Confirms the registration the form asked for; repeatable (a second click finds it registered). */
  @Post(':slug/confirm/:token')
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Confirm a registration asked for on the public form (repeatable): registers, and the confirmation with the calendar entry goes' })
  @ApiParam(SLUG)
  @ApiParam(CONFIRM_TOKEN)
  @ApiForm({ type: 'object', properties: {} }, { required: false })
  @ApiPage({
    html: {
      200: 'Registered (or registered already).',
      404: PAGE_INVALID_LINK,
      409: 'The webinar is fully booked.',
      410: 'The webinar was cancelled or has started.',
      429: PAGE_TOO_MANY,
    },
  })
  async confirm(
    @Param('slug') slug: string,
    @Param('token') token: string,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const found = await this.requestOf(slug, token);
    if (!found) return this.notFound(reply, this.config.defaultLocale);
    const evidence = { ip: request.ip ?? null, userAgent: request.headers['user-agent'] ?? null };
    const result = await this.requests.confirm(found.request.id, found.webinar.id, evidence);
    // Forgotten or erased between loading and confirming: the same invalid-link page.
    if (!result) return this.notFound(reply, found.request.locale);
    return this.outcomePage(reply, result.locale, result.email, result, found.request.series && found.webinar.series_id !== null);
  }

  @Get('unregister/:token')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'The unregister page of a registration (GET changes nothing)' })
  @ApiParam(UNREGISTER_TOKEN)
  @ApiLangQuery()
  @ApiPage({ html: { 200: 'A page with the unregister button (not registered any more: a page saying so).', 404: PAGE_INVALID_LINK, 429: PAGE_TOO_MANY } })
  async showUnregister(@Param('token') token: string, @Query('lang') lang: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const found = await this.registrationOf(token);
    if (!found) return this.notFound(reply);
    const { registration, webinar } = found;
    const locale: Locale = lang === 'de' || lang === 'en' ? lang : registration.locale;
    const t = this.pages.t(locale);
    if (registration.status !== 'registered' && !registration.in_series) {
      return this.pages.message(locale, t.webinarUnregisterTitle, [t.webinarNotRegistered], this.registerAgainLink(webinar, locale, registration.subscriber_id));
    }
    const text = webinarText(webinar);
    return this.pages.render('webinar-unregister', locale, t.webinarUnregisterTitle, {
      title: pick(text.title, locale),
      when: formatWhen(webinar.starts_at, webinar.ends_at, locale, registration.time_zone),
      startsIso: webinar.starts_at.toISOString(),
      action: `/webinars/unregister/${encodeURIComponent(token)}`,
      seriesOption: registration.in_series && text.series ? fill(t.webinarUnregisterSeries, { x: pick(text.series.title, locale) }) : null,
    });
  }

  /** Repeatable and harmless: a second POST finds nothing left to end. */
  @Post('unregister/:token')
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Unregister (repeatable): the calendar event is cancelled, no reminder goes' })
  @ApiParam(UNREGISTER_TOKEN)
  @ApiForm({ type: 'object', properties: { leaveSeries: { type: 'string', enum: ['1'], description: 'Also leave the series (no later part is registered).' } } }, { required: false })
  @ApiPage({ html: { 200: 'Unregistered (or: not registered any more).', 404: PAGE_INVALID_LINK, 429: PAGE_TOO_MANY } })
  async unregister(@Param('token') token: string, @Body() form: Record<string, unknown> | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const found = await this.registrationOf(token);
    if (!found) return this.notFound(reply);
    const locale = found.registration.locale;
    const t = this.pages.t(locale);
    let result;
    try {
      result = await this.registrations.unregister(found.registration.id, form?.leaveSeries === '1');
    } catch (error) {
      // Erased (with the registration) between loading and unregistering: the same invalid-link page.
      if (error instanceof DomainException && error.code === ErrorCode.NotFound) return this.notFound(reply);
      throw error;
    }
    if (result.outcome === 'not_registered') return this.pages.message(locale, t.webinarUnregisterTitle, [t.webinarNotRegistered]);
    return this.pages.message(locale, t.webinarUnregisteredTitle, [t.webinarUnregisteredBody], this.registerAgainLink(found.webinar, locale, found.registration.subscriber_id));
  }

  // ---- rendering -----------------------------------------------------------------------------

  private form(webinar: WebinarRow, locale: Locale, cookie: string, values: FormValues, errors: { field: string; message: string }[], personal: string | null = null): string {
    const t = this.pages.t(locale);
    const text = webinarText(webinar);
    const title = pick(text.title, locale);
    const zone = values.timeZone || webinar.time_zone;
    const seats = webinar.capacity === null ? null : Math.max(0, webinar.capacity - webinar.registered);
    return this.pages.render('webinar-register', locale, title, {
      title,
      seriesLabel: seriesLabel(text, locale),
      when: formatWhen(webinar.starts_at, webinar.ends_at, locale, webinar.time_zone),
      startsIso: webinar.starts_at.toISOString(),
      description: pick(text.description, locale)
        .split(/\n\s*\n/)
        .map((p) => p.trim())
        .filter(Boolean),
      full: seats === 0,
      seatsLeft: seats !== null && seats <= 20 ? fill(t.webinarSeatsLeft, { n: seats }) : null,
      action: `/webinars/${webinar.slug}/register`,
      privacyUrl: this.config.brand.privacyUrl,
      csrf: this.formToken(cookie),
      personal,
      langLink: `/webinars/${webinar.slug}/register?lang=${locale === 'de' ? 'en' : 'de'}`,
      otherLocale: locale === 'de' ? 'en' : 'de',
      otherLocaleName: locale === 'de' ? 'English' : 'Deutsch',
      values,
      errors,
      emailError: errors.find((e) => e.field === 'email')?.message ?? null,
      timeZones: (timeZoneNames().includes(zone) ? timeZoneNames() : [zone, ...timeZoneNames()]).map((z) => ({ value: z, selected: z === zone })),
      seriesOption: text.series ? fill(t.webinarSeriesOption, { x: pick(text.series.title, locale) }) : null,
    });
  }

  /**
   * The answer of the public form. Registered, registered already, and an erased, bounced or
   * complained address that nothing was stored or sent for all get the same page (no oracle: a
   * second submission must not tell an unknown address from a blocked one); nothing is ever sent
   * twice, so the form cannot be used to mail someone again.
   */
  private outcomePage(reply: FastifyReply, locale: Locale, email: string, result: RegisterResult, seriesRequested: boolean): string {
    const t = this.pages.t(locale);
    switch (result.outcome) {
      case 'registered':
      case 'already_registered':
      case 'suppressed': {
        const parts = (full: boolean) => result.series.filter((p) => (p.outcome === 'full') === full).map((p) => p.part).join(', ');
        const lines: string[] = [];
        if (parts(false)) lines.push(fill(t.webinarSeriesRegistered, { x: parts(false) }));
        if (parts(true)) lines.push(fill(t.webinarSeriesFull, { x: parts(true) }));
        if (seriesRequested) lines.push(t.webinarSeriesLater);
        return this.pages.message(locale, t.webinarRegisteredTitle, [fill(t.webinarRegisteredBody, { x: email }), ...lines, t.webinarRegisteredNoNewsletter]);
      }
      case 'full':
        void reply.status(409);
        return this.pages.message(locale, t.webinarFullTitle, [t.webinarFullBody]);
      case 'closed':
        void reply.status(410);
        return this.pages.message(locale, t.webinarClosedTitle, [result.reason === 'cancelled' ? t.webinarCancelledBody : t.webinarStartedBody]);
    }
  }

  private closedPage(reply: FastifyReply, webinar: WebinarRow, locale: Locale): string | null {
    if (webinar.status === 'scheduled' && webinar.starts_at > this.clock.now()) return null;
    const t = this.pages.t(locale);
    void reply.status(410);
    return this.pages.message(locale, t.webinarClosedTitle, [webinar.status === 'cancelled' ? t.webinarCancelledBody : t.webinarStartedBody]);
  }

  /** The one "invalid link" page; a genuine unregister link whose registration is gone counts as a failed attempt. */
  private async notFound(reply: FastifyReply, known?: Locale): Promise<string> {
    // Unless the link names its person: the visitor's language (?lang, Accept-Language), else the default.
    const locale = known ?? requestLocale(reply.request, this.config.defaultLocale);
    if ((reply.request.params as { token?: unknown }).token !== undefined) await this.limits.countFailure(reply.request);
    const t: PageStrings = this.pages.t(locale);
    void reply.status(404);
    return this.pages.message(locale, t.notFoundTitle, [t.notFoundBody]);
  }

  /** For the holder of an unregister link: their personal link, so coming back needs no confirmation mail. */
  private registerAgainLink(webinar: WebinarRow, locale: Locale, subscriberId?: string) {
    if (webinar.status !== 'scheduled' || webinar.starts_at <= this.clock.now()) return {};
    return { link: { href: this.pageUrl(webinar, locale, subscriberId), label: this.pages.t(locale).webinarRegisterAgain } };
  }

  private pageUrl(webinar: WebinarRow, locale: Locale, subscriberId?: string): string {
    const personal = subscriberId ? `&t=${encodeURIComponent(this.tokens.sign('webinar_register', subscriberId))}` : '';
    return `/webinars/${webinar.slug}/register?lang=${locale}${personal}`;
  }

  /**
   * The subscriber a personal registration link was mailed to, if it verifies and they may get
   * webinar mail (not bounced or complained); else null, and the form is the anonymous one.
   */
  private async personalHolder(token: string | undefined): Promise<{ email: string; firstName: string; timeZone: string } | null> {
    if (typeof token !== 'string') return null;
    const id = this.tokens.verify('webinar_register', token);
    if (!id) return null;
    const subscriber = await this.registrations.personalHolder(id);
    return subscriber ? { email: subscriber.email, firstName: subscriber.first_name ?? '', timeZone: subscriber.time_zone } : null;
  }

  /** The registration request behind a confirmation link of this webinar, or null. */
  private async requestOf(slug: string, token: string) {
    const id = this.tokens.verify('webinar_confirm', token);
    if (!id) return null;
    const request = await this.requests.find(id);
    if (!request) return null;
    const webinar = await this.webinars.byId(request.webinarId);
    if (!webinar || webinar.slug !== slug) return null;
    return { request, webinar };
  }

  /** ?lang, else the webinar's language when it has only one, else the default. */
  private localeFor(lang: string | undefined, webinar: WebinarRow | null): Locale {
    if (lang === 'de' || lang === 'en') return lang;
    if (webinar && (webinar.title_de === null) !== (webinar.title_en === null)) return webinar.title_de ? 'de' : 'en';
    return this.config.defaultLocale;
  }

  private async registrationOf(token: string) {
    const id = this.tokens.verify('webinar', token);
    if (!id) return null;
    const registration = await this.registrations.forPage(id);
    if (!registration) return null;
    const webinar = await this.webinars.byId(registration.webinar_id);
    return webinar ? { registration, webinar } : null;
  }

  // ---- form token (signed double submit) -----------------------------------------------------

  private formCookie(request: FastifyRequest, reply: FastifyReply): string {
    const existing = cookieValue(request.headers.cookie, FORM_COOKIE);
    if (existing && /^[\w-]{22}$/.test(existing)) return existing;
    const value = randomBytes(16).toString('base64url');
    void reply.header(
      'set-cookie',
      `${FORM_COOKIE}=${value}; Path=/webinars; Max-Age=86400; HttpOnly; SameSite=Strict${this.secureCookie ? '; Secure' : ''}`,
    );
    return value;
  }

  private formToken(cookie: string): string {
    return createHmac('sha256', this.config.tokenSecret).update(`webinar-form:${cookie}`).digest('base64url').slice(0, 32);
  }

  private checkFormToken(cookie: string, given: unknown): boolean {
    if (typeof given !== 'string') return false;
    const expected = Buffer.from(this.formToken(cookie));
    const actual = Buffer.from(given);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return null;
}
