// Rate limits on the customer pages that never turn a genuine link away. A link we signed (any
// purpose, anyone's) always passes and is never counted: the RFC 8058 one-click unsubscribe must
// work for a mailbox provider's relay however many of its users click at once from one address,
// and nobody who knows a link can lock its owner out. What is limited, per client address, is
// failure: links that do not verify (guesses, typos, truncated links) and genuine links whose
// person or registration is gone (the pages count those). The public webinar form has no link:
// every request to it counts. Over a limit: a 429 page in the visitor's language with Retry-After.
//
// Guessing is no threat to a 160-bit MAC; the limit keeps floods of junk links cheap and visible.
// The store is @fastify/rate-limit's in-memory one: each instance counts on its own.
import { ArgumentsHost, CanActivate, Catch, ExceptionFilter, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { APP_CONFIG, AppConfig } from '../config/config';
import { PageRenderer, requestLocale } from './page-renderer';
import { PREVIEW_TOKEN, TokenService } from '../links/tokens';

import '@fastify/rate-limit';

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

/** Over a limit on a customer page; rendered as an HTML page by CustomerPageLimitFilter. */
export class CustomerPageRateLimited extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('too many requests');
  }
}

/**
 * The bucket of a client address: IPv4 as it is, IPv6 by its /64 (one subscriber line usually
 * holds a whole /64, so single addresses would give a flood 2^64 buckets).
 */
export function addressBucket(ip: string): string {
  if (!ip.includes(':') || /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) return ip.replace(/^::ffff:/i, '');
  const [head, tail = ''] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

function refuseWhenExceeded(result: Awaited<ReturnType<Limiter>>): void {
  if (!result.isAllowed && result.isExceeded) throw new CustomerPageRateLimited(result.ttlInSeconds);
}

/** One set of counters for every customer page of this instance (the guard exists once per module). */
@Injectable()
export class CustomerRateLimits {
  private limiters: { failures: Limiter; form: Limiter } | undefined;
  /** Requests already counted as a failure (by the guard), so the page's 404 does not count them twice. */
  private readonly counted = new WeakSet<FastifyRequest>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private get all() {
    if (!this.limiters) {
      const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
      const limiter = (prefix: string) =>
        fastify.createRateLimit({
          max: this.config.customerRateLimitPerIp,
          timeWindow: 60_000,
          keyGenerator: (r: FastifyRequest) => `${prefix}:${addressBucket(r.ip)}`,
        });
      this.limiters = { failures: limiter('failed'), form: limiter('form') };
    }
    return this.limiters;
  }

  /** A link that failed (forged, truncated, or its person gone): counts; throws once the address is over its limit. */
  async failed(request: FastifyRequest): Promise<void> {
    this.counted.add(request);
    refuseWhenExceeded(await this.all.failures(request));
  }

  /**
   * The page answers "invalid link": counts, unless the guard counted this request already; never
   * refuses (the page is the answer). Called for genuine links whose person or registration is gone.
   */
  async countFailure(request: FastifyRequest): Promise<void> {
    if (this.counted.has(request)) return;
    this.counted.add(request);
    await this.all.failures(request);
  }

  /** A request to a page without a link (the public webinar form). */
  async formRequest(request: FastifyRequest): Promise<void> {
    refuseWhenExceeded(await this.all.form(request));
  }
}

@Injectable()
export class CustomerRateLimitGuard implements CanActivate {
  constructor(
    private readonly limits: CustomerRateLimits,
    private readonly tokens: TokenService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const token = (request.params as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string') {
      await this.limits.formRequest(request);
      return true;
    }
    // A preview link is no guess: its page only says what it is.
    if (token === PREVIEW_TOKEN || this.tokens.isGenuine(token)) return true;
    await this.limits.failed(request);
    return true;
  }
}

/** The 429 of a customer page: HTML in the visitor's language (`?lang`, else Accept-Language), with Retry-After. */
@Catch(CustomerPageRateLimited)
export class CustomerPageLimitFilter implements ExceptionFilter {
  constructor(
    private readonly pages: PageRenderer,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  catch(error: CustomerPageRateLimited, host: ArgumentsHost): void {
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const locale = requestLocale(request, this.config.defaultLocale);
    const t = this.pages.t(locale);
    const minutes = Math.max(1, Math.ceil(error.retryAfterSeconds / 60));
    void reply
      .status(429)
      .headers({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'retry-after': String(Math.max(1, error.retryAfterSeconds)) })
      .send(this.pages.message(locale, t.tooManyTitle, [t.tooManyBody.replace('{n}', String(minutes))]));
  }
}
