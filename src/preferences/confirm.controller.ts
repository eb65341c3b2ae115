// Double opt-in pages. GET only shows a button (mail scanners prefetch links); POST confirms.
import { Controller, Get, Header, HttpCode, Inject, Param, Post, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../auth/scopes';
import { ApiForm, ApiPage, PAGE_INVALID_LINK, PAGE_TOO_MANY } from '../common/openapi';
import { APP_CONFIG, AppConfig, Locale } from '../config/config';
import { ConfirmationService } from '../subscribers/confirmation.service';
import { CustomerPageLimitFilter, CustomerRateLimitGuard, CustomerRateLimits } from '../pages/customer-rate-limit.guard';
import { PageRenderer, requestLocale } from '../pages/page-renderer';
import { TokenService } from '../links/tokens';

@ApiTags('customer pages')
@ApiParam({ name: 'token', description: 'The signed link from the double opt-in mail.', schema: { type: 'string' } })
@Public()
@UseGuards(CustomerRateLimitGuard)
@UseFilters(CustomerPageLimitFilter)
@Controller('confirm')
export class ConfirmController {
  constructor(
    private readonly tokens: TokenService,
    private readonly pages: PageRenderer,
    private readonly confirmation: ConfirmationService,
    private readonly limits: CustomerRateLimits,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private async subscriber(token: string): Promise<{ id: string; locale: Locale; status: string } | null> {
    const id = this.tokens.verify('confirm', token);
    if (!id) return null;
    return this.confirmation.confirmable(id);
  }

  /** The one "invalid link" page; a genuine link whose person is gone counts as a failed attempt. */
  private async notFound(reply: FastifyReply, known?: Locale): Promise<string> {
    // Unless the link names its person: the visitor's language (?lang, Accept-Language), else the default.
    const locale = known ?? requestLocale(reply.request, this.config.defaultLocale);
    await this.limits.countFailure(reply.request);
    const t = this.pages.t(locale);
    void reply.status(404);
    return this.pages.message(locale, t.notFoundTitle, [t.notFoundBody]);
  }

  @Get(':token')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Double opt-in: a page with the confirm button (GET changes nothing; mail scanners prefetch links)' })
  @ApiPage({ html: { 200: 'A page with the confirm button and the topics to confirm (confirmed already: a page saying so).', 404: PAGE_INVALID_LINK, 429: PAGE_TOO_MANY } })
  async show(@Param('token') token: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const subscriber = await this.subscriber(token);
    if (!subscriber) return this.notFound(reply);
    const t = this.pages.t(subscriber.locale);
    if (subscriber.status !== 'pending') {
      return this.pages.message(subscriber.locale, t.confirmedTitle, [t.alreadyConfirmed], {
        link: { href: this.tokens.url('preferences', subscriber.id), label: t.preferencesLink },
      });
    }
    const topics = await this.confirmation.pendingTopicNames(subscriber.id, subscriber.locale);
    return this.pages.render('confirm', subscriber.locale, t.confirmTitle, {
      action: `/confirm/${encodeURIComponent(token)}`,
      topics: topics.map((x) => x.name),
    });
  }

  @Post(':token')
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Confirm the subscription: the person and their pending topics become confirmed, with this browser as evidence' })
  @ApiForm({ type: 'object', properties: {} }, { required: false, description: 'The page’s form has only its button.' })
  @ApiPage({ html: { 200: 'Confirmed (or: confirmed already), with a link to the preferences page.', 404: `${PAGE_INVALID_LINK} Also when nothing is pending any more.`, 429: PAGE_TOO_MANY } })
  async confirm(@Param('token') token: string, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const subscriber = await this.subscriber(token);
    if (!subscriber) return this.notFound(reply);
    const result = await this.confirmation.confirm(subscriber.id, request.ip ?? null, request.headers['user-agent'] ?? null);
    const t = this.pages.t(subscriber.locale);
    if (result === 'not_pending') return this.notFound(reply, subscriber.locale);
    return this.pages.message(subscriber.locale, t.confirmedTitle, [t.confirmedBody], {
      notice: result === 'already_confirmed' ? t.alreadyConfirmed : undefined,
      link: { href: this.tokens.url('preferences', subscriber.id), label: t.preferencesLink },
    });
  }
}
