// The customer pages behind the links in every mail. Server-rendered, no JavaScript needed.
// GET never changes anything (mail scanners prefetch links); changes are POSTs. A forged,
// truncated or foreign token, and a genuine one whose person is gone, get the same 404 page: no
// oracle. The sample links of previews and test sends (PREVIEW_TOKEN) get a page saying so.
import { Body, Controller, Get, Header, HttpCode, Inject, Param, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Handlebars from 'handlebars';
import { Public } from '../auth/scopes';
import { ApiForm, ApiLangQuery, ApiPage, PAGE_INVALID_LINK, PAGE_TOO_MANY } from '../common/openapi';
import { DomainException, ErrorCode } from '../common/problem';
import { timeZoneNames } from '../common/time-zones';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { isForeignKeyViolation } from '../database/pg-errors';
import { FeedbackService } from '../feedback/feedback.service';
import { CustomerPageLimitFilter, CustomerRateLimitGuard, CustomerRateLimits } from '../pages/customer-rate-limit.guard';
import { PageRenderer, PageStrings, requestLocale } from '../pages/page-renderer';
import { ChangeNote, PAUSE_WEEKS, PreferenceChange, PreferencesService, PreferencesState } from './preferences.service';
import { PREVIEW_TOKEN, TokenService } from '../links/tokens';
import { CsrfTokens } from '../pages/csrf-tokens';

// Building an Intl.DateTimeFormat costs ≈ 0.1–0.2 ms, using one ≈ 1 µs: one per (locale, zone),
// kept for the life of the process (bounded by the IANA zone list × 2 locales).
const dateFormats = new Map<string, Intl.DateTimeFormat>();

function formatWhen(at: Date, locale: Locale, timeZone: string): string {
  const key = `${locale} ${timeZone}`;
  let format = dateFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(locale === 'de' ? 'de-DE' : 'en-GB', { dateStyle: 'full', timeStyle: 'short', timeZone });
    dateFormats.set(key, format);
  }
  return `${format.format(at)} (${timeZone})`;
}

// The time-zone <select> has ≈ 420 options, the same on every page but for the selected one: its
// HTML is built once (the zones both Node and PostgreSQL know, read at start-up), and each page only
// marks its zone (a zone outside the list goes first). An option without a value attribute submits
// its text, so the zone is written once (≈ 10 kB less).
const timeZoneOption = (zone: string, selected: boolean) => `<option${selected ? ' selected' : ''}>${Handlebars.escapeExpression(zone)}</option>`;
let zoneList: { zones: string[]; html: string } | null = null;

function timeZoneOptions(selected: string): Handlebars.SafeString {
  const zones = timeZoneNames();
  if (zoneList?.zones !== zones) zoneList = { zones, html: zones.map((z) => timeZoneOption(z, false)).join('') };
  const options = zoneList.html;
  const plain = timeZoneOption(selected, false);
  const at = zones.includes(selected) ? options.indexOf(plain) : -1;
  if (at < 0) return new Handlebars.SafeString(timeZoneOption(selected, true) + options);
  const mark = at + '<option'.length;
  return new Handlebars.SafeString(`${options.slice(0, mark)} selected${options.slice(mark)}`);
}

const fill = (template: string, values: Record<string, string | number>) => template.replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ''));

function describe(note: ChangeNote, t: PageStrings, locale: Locale, state: PreferencesState): string {
  const weekdays = t.weekdays.split(',');
  const topicName = (key: string) => {
    const topic = state.topics.find((x) => x.key === key);
    return topic ? (locale === 'de' ? topic.nameDe : topic.nameEn) : key;
  };
  switch (note.kind) {
    case 'topicOn':
      return fill(t.changeTopicOn, { x: topicName(note.topic) });
    case 'topicOff':
      return fill(t.changeTopicOff, { x: topicName(note.topic) });
    case 'cadence':
      return fill(t.changeCadence, { x: t[note.cadence] });
    case 'slot':
      return fill(t.changeSlot, { x: `${weekdays[note.weekday - 1]}, ${String(note.hour).padStart(2, '0')}:00` });
    case 'timeZone':
      return fill(t.changeTimeZone, { x: note.timeZone });
    case 'language':
      return fill(t.changeLanguage, { x: note.locale === 'de' ? 'Deutsch' : 'English' });
    case 'pause':
      return fill(t.changePause, { x: formatWhen(note.until, locale, state.timeZone) });
    case 'resume':
      return t.changeResume;
  }
}

const TOKEN = { name: 'token', description: 'The signed link from the mail (`preview`: the inert sample link of a preview or test send).', schema: { type: 'string' } };
const CSRF = { type: 'string', description: 'The hidden field of the page the form came from.' } as const;

const asArray = (value: unknown): string[] => (value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)]);

@ApiTags('customer pages')
@ApiParam(TOKEN)
@Public()
@UseGuards(CustomerRateLimitGuard)
@UseFilters(CustomerPageLimitFilter)
@Controller()
export class PreferencesController {
  constructor(
    private readonly tokens: TokenService,
    private readonly pages: PageRenderer,
    private readonly preferences: PreferencesService,
    private readonly csrf: CsrfTokens,
    private readonly feedback: FeedbackService,
    private readonly limits: CustomerRateLimits,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The one "invalid link" page; a genuine link whose person is gone counts as a failed attempt. */
  private async notFound(reply: FastifyReply): Promise<string> {
    await this.limits.countFailure(reply.request);
    // Nobody is known from this link: the visitor's language (?lang, Accept-Language), else the default.
    const locale = requestLocale(reply.request, this.config.defaultLocale);
    const t = this.pages.t(locale);
    void reply.status(404);
    return this.pages.message(locale, t.notFoundTitle, [t.notFoundBody]);
  }

  /** A sample link from a preview or test send: says so, changes nothing (GET and POST alike). */
  private preview(request: FastifyRequest): string {
    return this.pages.previewLink(requestLocale(request, this.config.defaultLocale));
  }

  private async load(purpose: 'preferences' | 'unsubscribe', token: string): Promise<PreferencesState | null> {
    const id = this.tokens.verify(purpose, token);
    return id ? this.preferences.state(id) : null;
  }

  private render(
    token: string,
    state: PreferencesState,
    locale: Locale,
    changes: ChangeNote[] | null,
    suggestion: { notice?: string; error?: string } = {},
  ): string {
    const t = this.pages.t(locale);
    const weekdays = t.weekdays.split(',');
    const weekly = state.cadence === 'weekly';
    const paused = state.pausedUntil !== null;
    return this.pages.render('preferences', locale, t.prefsTitle, {
      email: state.email,
      action: `/p/${token}`,
      unsubscribeAction: `/u/${this.tokens.sign('unsubscribe', state.id)}`,
      // Nothing left to unsubscribe from: the page says how to come back instead.
      unsubscribed: state.status === 'unsubscribed',
      csrf: this.csrf.csrfToken(state.id),
      langLink: `/p/${token}?lang=${locale === 'de' ? 'en' : 'de'}`,
      otherLocale: locale === 'de' ? 'en' : 'de',
      otherLocaleName: locale === 'de' ? 'English' : 'Deutsch',
      isDe: state.locale === 'de',
      changes: changes?.map((c) => describe(c, t, locale, state)) ?? [],
      nothingChanged: changes !== null && changes.length === 0,
      nextNewsletter: state.nextNewsletter ? formatWhen(state.nextNewsletter, locale, state.timeZone) : null,
      // Why none is coming, in the customer's words (a pause with an end is shown below instead).
      noNewsletterBecause: !state.nextNewsletter && state.noNewsletterBecause ? t[`noNewsletter_${state.noNewsletterBecause}`] : null,
      pausedUntil: state.pausedUntil ? formatWhen(state.pausedUntil, locale, state.timeZone) : null,
      topics: state.topics.map((x) => {
        const rated = x.ratings;
        return {
          key: x.key,
          name: locale === 'de' ? x.nameDe : x.nameEn,
          description: locale === 'de' ? x.descriptionDe : x.descriptionEn,
          checked: x.subscribed,
          ratings: rated
            ? {
                label: fill(t.ratingsLabel, { useful: rated.useful, notUseful: rated.notUseful }),
                recent: rated.recent.map((r) => ({
                  title: locale === 'de' ? r.titleDe : r.titleEn,
                  useful: r.rating === 'useful',
                  rating: r.rating === 'useful' ? t.feedbackUseful : t.feedbackNotUseful,
                })),
              }
            : null,
          droppedByYou: x.droppedAt && !x.subscribed ? fill(t.droppedByYou, { x: formatWhen(x.droppedAt, locale, state.timeZone) }) : null,
        };
      }),
      suggestAction: `/p/${token}/suggest`,
      suggestionNotice: suggestion.notice,
      suggestionError: suggestion.error,
      weekly,
      weekdays: weekdays.map((label, i) => ({ value: i + 1, label, selected: state.digestWeekday === i + 1 })),
      hours: Array.from({ length: 24 }, (_, h) => ({ value: h, label: `${String(h).padStart(2, '0')}:00`, selected: state.digestHour === h })),
      timeZoneOptions: timeZoneOptions(state.timeZone),
      pauses: [
        { value: 0, label: t.pauseNone, selected: !paused },
        ...PAUSE_WEEKS.map((n) => ({ value: n, label: fill(t.pauseWeeks, { n }), selected: false })),
      ],
      recent: state.recent.map((r) => ({
        iso: r.at.toISOString(),
        when: formatWhen(r.at, locale, state.timeZone),
        label: [t[`kind_${r.kind}`] ?? t.kind_other, locale === 'de' ? r.topicDe : r.topicEn].filter(Boolean).join(' · '),
      })),
    });
  }

  @Get('p/:token')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'The preferences page: topics, cadence, digest slot, time zone, language, pause, one-click unsubscribe; the next newsletter' })
  @ApiLangQuery()
  @ApiPage({ html: { 200: 'The preferences page (for the sample link of a preview: a page saying so).', 404: PAGE_INVALID_LINK, 429: PAGE_TOO_MANY } })
  async show(
    @Param('token') token: string,
    @Query('lang') lang: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (token === PREVIEW_TOKEN) return this.preview(request);
    const state = await this.load('preferences', token);
    if (!state) return this.notFound(reply);
    const locale: Locale = lang === 'de' || lang === 'en' ? lang : state.locale;
    return this.render(token, state, locale, null);
  }

  /** "Suggest a topic": free text, stored under the subscriber (exported and erased with them). */
  @Post('p/:token/suggest')
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Suggest a topic (free text, stored under the subscriber, erased with them)' })
  @ApiForm({
    type: 'object',
    required: ['csrf'],
    properties: { csrf: CSRF, suggestion: { type: 'string', maxLength: 2000, example: 'Trade fair dates in Austria' } },
  })
  @ApiPage({
    html: { 200: 'The preferences page, thanking for the suggestion.', 400: 'The preferences page with the error: the suggestion is empty or too long.', 404: PAGE_INVALID_LINK, 429: PAGE_TOO_MANY },
    problems: [{ 403: 'The form has expired or did not come from the person’s page (csrf).' }],
  })
  async suggest(
    @Param('token') token: string,
    @Body() form: Record<string, unknown>,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (token === PREVIEW_TOKEN) return this.preview(request);
    const id = this.tokens.verify('preferences', token);
    const state = id ? await this.preferences.state(id) : null;
    if (!id || !state) return this.notFound(reply);
    if (!this.csrf.checkCsrf(id, form?.csrf)) {
      throw new DomainException(ErrorCode.Forbidden, 'The form has expired or did not come from your preferences page; reload the page and send again.');
    }
    const t = this.pages.t(state.locale);
    try {
      await this.feedback.suggest(id, form?.suggestion);
    } catch (error) {
      // Erased since the page was loaded: the same invalid-link page as any other.
      if (isForeignKeyViolation(error)) return this.notFound(reply);
      if (!(error instanceof DomainException) || error.code !== ErrorCode.Validation) throw error;
      void reply.status(400);
      return this.render(token, state, state.locale, null, { error: error.errors?.[0]?.message.startsWith('must not') ? t.suggestEmpty : error.detail });
    }
    return this.render(token, state, state.locale, null, { notice: t.suggestThanks });
  }

  @Post('p/:token')
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Save the preferences (the person chose: confirmed consent for the topics ticked); effective at once for every mail not yet handed to SMTP' })
  @ApiForm({
    type: 'object',
    required: ['csrf'],
    properties: {
      csrf: CSRF,
      topics: { type: 'array', items: { type: 'string' }, description: 'The topic keys ticked (repeat the field); none ticked: every topic off.' },
      cadence: { type: 'string', enum: ['weekly', 'biweekly'] },
      weekday: { type: 'integer', minimum: 1, maximum: 7, description: 'Digest weekday (weekly cadence), ISO.' },
      hour: { type: 'integer', minimum: 0, maximum: 23 },
      timeZone: { type: 'string', format: 'time-zone', example: 'Europe/Berlin' },
      locale: { type: 'string', enum: ['de', 'en'] },
      pause: { type: 'integer', enum: [0, ...PAUSE_WEEKS], description: 'Pause for this many weeks; 0 ends a pause.' },
    },
  })
  @ApiPage({
    html: { 200: 'The preferences page, listing what changed.', 404: PAGE_INVALID_LINK, 429: PAGE_TOO_MANY },
    problems: [{ 403: 'The form has expired or did not come from the person’s page (csrf).' }],
  })
  async save(
    @Param('token') token: string,
    @Body() form: Record<string, unknown>,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (token === PREVIEW_TOKEN) return this.preview(request);
    const id = this.tokens.verify('preferences', token);
    if (!id) return this.notFound(reply);
    if (!this.csrf.checkCsrf(id, form?.csrf)) {
      throw new DomainException(ErrorCode.Forbidden, 'The form has expired or did not come from your preferences page; reload the page and save again.');
    }
    const number = (v: unknown) => (v === undefined ? undefined : Number(v));
    const change: PreferenceChange = {
      topics: asArray(form.topics),
      cadence: form.cadence as PreferenceChange['cadence'],
      digestWeekday: number(form.weekday),
      digestHour: number(form.hour),
      timeZone: form.timeZone as string | undefined,
      locale: form.locale as Locale | undefined,
      pauseWeeks: number(form.pause),
    };
    // The person: the link reached their mailbox (and the form came from their page: CSRF).
    const notes = await this.preferences.apply(id, change, { kind: 'person', ip: request.ip ?? null, userAgent: request.headers['user-agent'] ?? null });
    // Erased since the page was loaded (or meanwhile): the same invalid-link page as any other.
    const state = notes && (await this.preferences.state(id));
    if (!notes || !state) return this.notFound(reply);
    return this.render(token, state, state.locale, notes);
  }

  @Get('u/:token')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'The unsubscribe page: one button (GET changes nothing; mail scanners prefetch links)' })
  @ApiPage({ html: { 200: 'A page with the one unsubscribe button.', 404: PAGE_INVALID_LINK, 429: PAGE_TOO_MANY } })
  async showUnsubscribe(@Param('token') token: string, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    if (token === PREVIEW_TOKEN) return this.preview(request);
    const state = await this.load('unsubscribe', token);
    if (!state) return this.notFound(reply);
    const t = this.pages.t(state.locale);
    if (state.status === 'unsubscribed') {
      return this.pages.render('unsubscribe', state.locale, t.unsubAlreadyTitle, { already: true, preferencesUrl: `/p/${this.tokens.sign('preferences', state.id)}` });
    }
    return this.pages.render('unsubscribe', state.locale, t.unsubTitle, { action: `/u/${token}`, done: false });
  }

  /**
   * RFC 8058 one-click: form-encoded or multipart, no cookies, no CSRF, no redirect, repeatable,
   * and never refused for rate (a genuine link passes the rate limit uncounted).
   */
  @Post('u/:token')
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'One-click unsubscribe (RFC 8058): every topic off, at once; repeatable',
    description: 'What a mail client posts for the `List-Unsubscribe-Post` header: no cookie, no CSRF, no redirect. A genuine link is never refused for rate.',
  })
  @ApiForm(
    { type: 'object', properties: { 'List-Unsubscribe': { type: 'string', enum: ['One-Click'] } } },
    { multipart: true, required: false, description: 'RFC 8058: `List-Unsubscribe=One-Click`, form-encoded or multipart.' },
  )
  @ApiPage({ html: { 200: 'Unsubscribed (or: unsubscribed already), with a link to the preferences page.', 404: PAGE_INVALID_LINK, 429: PAGE_TOO_MANY } })
  async unsubscribe(@Param('token') token: string, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    if (token === PREVIEW_TOKEN) return this.preview(request);
    const id = this.tokens.verify('unsubscribe', token);
    if (!id) return this.notFound(reply);
    const result = await this.preferences.unsubscribeAll(id);
    const state = await this.preferences.state(id);
    if (!state) return this.notFound(reply);
    const t = this.pages.t(state.locale);
    return this.pages.render('unsubscribe', state.locale, t.unsubTitle, {
      done: true,
      message: result === 'done' ? t.unsubDone : t.unsubAlready,
      preferencesUrl: `/p/${this.tokens.sign('preferences', id)}`,
    });
  }
}
