// The page behind every "useful / not useful" link and the "drop this topic?" question.
// GET only shows (link scanners prefetch every link in a mail); only the POST records.
import { Body, Controller, Get, Header, HttpCode, Inject, Param, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../auth/scopes';
import { ApiForm, ApiPage, PAGE_INVALID_LINK, PAGE_TOO_MANY } from '../common/openapi';
import { DomainException, ErrorCode } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/config';
import { isForeignKeyViolation } from '../database/pg-errors';
import { CustomerPageLimitFilter, CustomerRateLimitGuard, CustomerRateLimits } from '../pages/customer-rate-limit.guard';
import { PageRenderer, requestLocale } from '../pages/page-renderer';
import { CsrfTokens } from '../pages/csrf-tokens';
import { PREVIEW_TOKEN, TokenService } from '../links/tokens';
import { COMMENT_MAX, isRating, Rating, RATINGS } from './feedback.policy';
import { FeedbackService, FeedbackSubject } from './feedback.service';

const fill = (template: string, values: Record<string, string>) => template.replace(/\{(\w+)\}/g, (_, k) => values[k] ?? '');

@ApiTags('customer pages')
@ApiParam({ name: 'token', description: 'The signed “useful / not useful” (or “drop this topic?”) link from a mail (`preview`: an inert sample).', schema: { type: 'string' } })
@Public()
@UseGuards(CustomerRateLimitGuard)
@UseFilters(CustomerPageLimitFilter)
@Controller()
export class FeedbackController {
  constructor(
    private readonly tokens: TokenService,
    private readonly pages: PageRenderer,
    private readonly csrf: CsrfTokens,
    private readonly feedback: FeedbackService,
    private readonly limits: CustomerRateLimits,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private async load(token: string): Promise<FeedbackSubject | null> {
    const claims = this.tokens.verifyItem(token);
    return claims ? this.feedback.subject(claims) : null;
  }

  private async notFound(reply: FastifyReply): Promise<string> {
    await this.limits.countFailure(reply.request);
    // Nobody is known from this link: the visitor's language (?lang, Accept-Language), else the default.
    const locale = requestLocale(reply.request, this.config.defaultLocale);
    const t = this.pages.t(locale);
    void reply.status(404);
    return this.pages.message(locale, t.notFoundTitle, [t.notFoundBody]);
  }

  private render(token: string, subject: FeedbackSubject, state: { chosen?: Rating | null; comment?: string | null; notice?: string; error?: string; done?: boolean }): string {
    const t = this.pages.t(subject.locale);
    const chosen = state.chosen ?? subject.current?.rating ?? null;
    const isTopic = subject.kind === 'topic';
    return this.pages.render('feedback', subject.locale, isTopic ? fill(t.dropTitle, { x: subject.topicName }) : t.feedbackTitle, {
      action: `/f/${token}`,
      csrf: this.csrf.csrfToken(subject.subscriberId),
      preferencesUrl: `/p/${this.tokens.sign('preferences', subject.subscriberId)}`,
      isTopic,
      title: subject.title,
      topicName: subject.topicName,
      dropHeading: fill(t.dropTitle, { x: subject.topicName }),
      dropIntro: fill(t.dropIntro, { x: subject.topicName }),
      dropButton: fill(t.dropButton, { x: subject.topicName }),
      dropDone: fill(t.dropDone, { x: subject.topicName }),
      notSubscribed: fill(t.dropNotSubscribed, { x: subject.topicName }),
      subscribed: subject.subscribed,
      done: state.done ?? false,
      useful: chosen === 'useful',
      notUseful: chosen === 'not_useful',
      comment: state.comment !== undefined ? state.comment : (subject.current?.comment ?? ''),
      notice: state.notice,
      error: state.error,
    });
  }

  @Get('f/:token')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'The feedback page behind a mail’s “useful / not useful” link, or the “drop this topic?” question (GET records nothing)' })
  @ApiQuery({ name: 'v', required: false, enum: RATINGS, description: 'The answer the link stood for: pre-selected, not recorded.' })
  @ApiPage({ html: { 200: 'The feedback form (or the drop-topic question).', 404: PAGE_INVALID_LINK, 429: PAGE_TOO_MANY } })
  async show(
    @Param('token') token: string,
    @Query('v') v: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    // The sample link of a preview or test send: it says so and records nothing.
    if (token === PREVIEW_TOKEN) return this.pages.previewLink(requestLocale(request, this.config.defaultLocale));
    const subject = await this.load(token);
    if (!subject) return this.notFound(reply);
    return this.render(token, subject, { chosen: isRating(v) ? v : undefined });
  }

  @Post('f/:token')
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Record the answer: a rating with an optional comment, or “drop this topic” (the topic is revoked at once)' })
  @ApiForm({
    type: 'object',
    required: ['csrf'],
    properties: {
      csrf: { type: 'string', description: 'The hidden field of the page the form came from.' },
      rating: { type: 'string', enum: [...RATINGS], description: 'Rating links; a second answer replaces the first.' },
      comment: { type: 'string', maxLength: COMMENT_MAX },
    },
  })
  @ApiPage({
    html: { 200: 'The page again: recorded (or changed), or the topic dropped.', 400: 'The page again with the error: choose one, or the comment is too long.', 404: PAGE_INVALID_LINK, 429: PAGE_TOO_MANY },
    problems: [{ 403: 'The form has expired or did not come from this page (csrf).' }],
  })
  async answer(
    @Param('token') token: string,
    @Body() form: Record<string, unknown>,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    if (token === PREVIEW_TOKEN) return this.pages.previewLink(requestLocale(request, this.config.defaultLocale));
    const subject = await this.load(token);
    if (!subject) return this.notFound(reply);
    if (!this.csrf.checkCsrf(subject.subscriberId, form?.csrf)) {
      throw new DomainException(ErrorCode.Forbidden, 'The form has expired or did not come from this page; reload the page and send again.');
    }
    const t = this.pages.t(subject.locale);
    try {
      if (subject.kind === 'topic') {
        await this.feedback.dropTopic(subject.subscriberId, subject.topicId);
        return this.render(token, { ...subject, subscribed: false }, { done: true });
      }
      const outcome = await this.feedback.record(subject, form?.rating, form?.comment);
      const rating = form.rating as Rating;
      const saved = await this.feedback.subject({ subscriberId: subject.subscriberId, kind: subject.kind, itemId: subject.itemId });
      if (!saved) return this.notFound(reply);
      return this.render(token, saved, {
        notice: fill(outcome === 'recorded' ? t.feedbackRecorded : t.feedbackChanged, { x: rating === 'useful' ? t.feedbackUseful : t.feedbackNotUseful }),
      });
    } catch (error) {
      // Erased between loading and writing: the same invalid-link page as any other.
      if (isForeignKeyViolation(error) || (error instanceof DomainException && error.code === ErrorCode.NotFound)) return this.notFound(reply);
      if (!(error instanceof DomainException) || error.code !== ErrorCode.Validation) throw error;
      void reply.status(400);
      const field = error.errors?.[0]?.field;
      return this.render(token, subject, {
        chosen: isRating(form?.rating) ? form.rating : null,
        comment: typeof form?.comment === 'string' ? form.comment : '',
        error: field === 'comment' ? t.feedbackCommentTooLong : t.feedbackChooseOne,
      });
    }
  }
}
