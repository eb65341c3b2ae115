// The console's front door: sign-in with an API key (exchanged for a session cookie), sign-out,
// the language, and the start page. The key is only ever in the body of the sign-in POST: never
// in a URL, never in a cookie, never logged (common/log-redaction.ts logs no bodies).
import { Body, Controller, Get, Header, HttpCode, Post, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../auth/scopes';
import { ApiForm, ApiLangQuery, ApiPage } from '../common/openapi';
import { Locale } from '../config/config';
import { ConsoleAnonymous, ConsoleGuard, ConsolePageFilter, sessionOf } from './console-access';
import { CONSOLE_PAGE_ANSWERS, CSRF_FIELD } from './console-openapi';
import { ConsoleSessionsService, consoleToken } from './console-sessions.service';
import { ConsoleView, safeNext } from './console-view';

const locale = (value: unknown, fallback: Locale): Locale => (value === 'de' || value === 'en' ? value : fallback);

@ApiTags('console')
@Public()
@UseGuards(ConsoleGuard)
@UseFilters(ConsolePageFilter)
@Controller('console')
export class ConsoleController {
  constructor(
    private readonly sessions: ConsoleSessionsService,
    private readonly view: ConsoleView,
  ) {}

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: the start page (customer lookup, the sections)' })
  @ApiLangQuery()
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'The start page.' }))
  home(@Req() request: FastifyRequest): string {
    const t = this.view.t(request);
    sessionOf(request);
    return this.view.page(request, 'home', t.homeTitle, {}, { section: null });
  }

  @Get('sign-in')
  @ConsoleAnonymous()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: the sign-in form (an API key, exchanged for a session)' })
  @ApiLangQuery()
  @ApiPage({ html: { 200: 'The sign-in form.' } })
  signInForm(@Req() request: FastifyRequest): string {
    return this.view.signIn(request, { next: '/console' });
  }

  @Post('sign-in')
  @ConsoleAnonymous()
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Console: sign in with an API key',
    description:
      'The key is checked once and exchanged for a session: a random 256-bit token in an HttpOnly, SameSite=Strict cookie for /console (Secure in production), stored only as its SHA-256. ' +
      'The session ends at sign-out, after CONSOLE_SESSION_IDLE_MINUTES without a request, CONSOLE_SESSION_MAX_HOURS after sign-in, or when the key is revoked.',
  })
  @ApiForm({
    type: 'object',
    required: ['apiKey'],
    properties: {
      apiKey: { type: 'string', maxLength: 200, description: 'An API key (tk_…); its scopes decide what the console shows and allows.' },
      lang: { type: 'string', enum: ['de', 'en'] },
      next: { type: 'string', description: 'The console page to go on to.', example: '/console/customers' },
    },
  })
  @ApiPage({
    html: {
      200: 'Signed in: a page that goes on to the console (meta refresh); sets the session cookie.',
      401: 'The sign-in form again: the key is unknown or revoked.',
      403: 'Not allowed: the form came from another site (Sec-Fetch-Site: cross-site).',
    },
    headers: {
      'Set-Cookie': { description: 'tactful_console=<session token>; Path=/console; HttpOnly; SameSite=Strict (; Secure)', schema: { type: 'string' } },
    },
  })
  async signIn(@Body() form: Record<string, unknown>, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const lang = locale(form?.lang, this.view.locale(request));
    const token = await this.sessions.open(form?.apiKey, lang);
    if (!token) {
      void reply.status(401);
      return this.view.signIn(request, { error: true, next: safeNext(form?.next) });
    }
    void reply.header('set-cookie', this.sessions.cookie(token));
    const t = this.view.t(request);
    const session = await this.sessions.resolve(token);
    (request as FastifyRequest & { consoleSession?: unknown }).consoleSession = session ?? undefined;
    return this.view.done(request, t.signedInTitle, t.signedInText, safeNext(form?.next));
  }

  @Post('sign-out')
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: sign out (the session ends; the cookie is cleared)' })
  @ApiForm({ type: 'object', required: ['csrf'], properties: { csrf: CSRF_FIELD } })
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'Signed out: the sign-in form.' }))
  async signOut(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    sessionOf(request);
    await this.sessions.close(consoleToken(request.headers.cookie));
    void reply.header('set-cookie', this.sessions.cookie(null));
    const locale = this.view.locale(request);
    (request as FastifyRequest & { consoleSession?: unknown }).consoleSession = undefined;
    return this.view.signIn(request, { next: '/console', locale, signedOut: true });
  }

  @Post('language')
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Console: the language of the session (changes no customer or campaign data)' })
  @ApiForm({
    type: 'object',
    required: ['csrf', 'lang'],
    properties: {
      csrf: CSRF_FIELD,
      lang: { type: 'string', enum: ['de', 'en'] },
      back: { type: 'string', description: 'The console page to go back to.', example: '/console' },
    },
  })
  @ApiPage(CONSOLE_PAGE_ANSWERS({ 200: 'A page that goes back (meta refresh) in the new language.' }))
  async language(@Body() form: Record<string, unknown>, @Req() request: FastifyRequest): Promise<string> {
    const session = sessionOf(request);
    const lang = locale(form?.lang, session.locale);
    await this.sessions.setLocale(session, lang);
    session.locale = lang;
    const t = this.view.t(request);
    return this.view.done(request, t.languageTitle, t.languageText, safeNext(form?.back));
  }
}
