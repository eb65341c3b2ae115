// Double opt-in pages. GET only shows a button (mail scanners prefetch links); POST confirms.
import { Controller, Get, Header, HttpCode, Param, Post, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DataSource } from 'typeorm';
import { Public } from '../auth/scopes';
import { Locale } from '../config/config';
import { ConfirmationService } from '../subscribers/confirmation.service';
import { CustomerPageLimitFilter, CustomerRateLimitGuard, CustomerRateLimits } from './customer-rate-limit.guard';
import { PageRenderer } from './page-renderer';
import { TokenService } from './tokens';

@ApiExcludeController()
@Public()
@UseGuards(CustomerRateLimitGuard)
@UseFilters(CustomerPageLimitFilter)
@Controller('confirm')
export class ConfirmController {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly tokens: TokenService,
    private readonly pages: PageRenderer,
    private readonly confirmation: ConfirmationService,
    private readonly limits: CustomerRateLimits,
  ) {}

  private async subscriber(token: string): Promise<{ id: string; locale: Locale; status: string } | null> {
    const id = this.tokens.verify('confirm', token);
    if (!id) return null;
    const [row] = await this.db.query(`SELECT id, locale, status FROM subscribers WHERE id = $1`, [id]);
    return row ?? null;
  }

  /** The one "invalid link" page; a genuine link whose person is gone counts as a failed attempt. */
  private async notFound(reply: FastifyReply, locale: Locale): Promise<string> {
    await this.limits.countFailure(reply.request);
    const t = this.pages.t(locale);
    void reply.status(404);
    return this.pages.message(locale, t.notFoundTitle, [t.notFoundBody]);
  }

  @Get(':token')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  async show(@Param('token') token: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const subscriber = await this.subscriber(token);
    if (!subscriber) return this.notFound(reply, 'en');
    const t = this.pages.t(subscriber.locale);
    if (subscriber.status !== 'pending') {
      return this.pages.message(subscriber.locale, t.confirmedTitle, [t.alreadyConfirmed], {
        link: { href: this.tokens.url('preferences', subscriber.id), label: t.preferencesLink },
      });
    }
    const topics: { name: string }[] = await this.db.query(
      `SELECT CASE WHEN $2 = 'de' THEN t.name_de ELSE t.name_en END AS name
       FROM topic_subscriptions ts JOIN topics t ON t.id = ts.topic_id
       WHERE ts.subscriber_id = $1 AND ts.status = 'pending' ORDER BY t.key`,
      [subscriber.id, subscriber.locale],
    );
    return this.pages.render('confirm', subscriber.locale, t.confirmTitle, {
      action: `/confirm/${encodeURIComponent(token)}`,
      topics: topics.map((x) => x.name),
    });
  }

  @Post(':token')
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  async confirm(@Param('token') token: string, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const subscriber = await this.subscriber(token);
    if (!subscriber) return this.notFound(reply, 'en');
    const result = await this.confirmation.confirm(subscriber.id, request.ip ?? null, request.headers['user-agent'] ?? null);
    const t = this.pages.t(subscriber.locale);
    if (result === 'not_pending') return this.notFound(reply, subscriber.locale);
    return this.pages.message(subscriber.locale, t.confirmedTitle, [t.confirmedBody], {
      notice: result === 'already_confirmed' ? t.alreadyConfirmed : undefined,
      link: { href: this.tokens.url('preferences', subscriber.id), label: t.preferencesLink },
    });
  }
}
