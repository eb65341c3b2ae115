// Per-IP and per-link limits on the customer pages (token guessing, link-scanner storms), with
// @fastify/rate-limit's store; a clear 429 with Retry-After when either is exceeded.
import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainException, ErrorCode } from '../common/problem';
import { APP_CONFIG, AppConfig } from '../config/config';

import '@fastify/rate-limit';

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

@Injectable()
export class CustomerRateLimitGuard implements CanActivate {
  private limiters: Limiter[] | undefined;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private get all(): Limiter[] {
    if (!this.limiters) {
      const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
      this.limiters = [
        fastify.createRateLimit({ max: this.config.customerRateLimitPerIp, timeWindow: 60_000, keyGenerator: (r: FastifyRequest) => `ip:${r.ip}` }),
        fastify.createRateLimit({
          max: this.config.customerRateLimitPerToken,
          timeWindow: 60_000,
          keyGenerator: (r: FastifyRequest) => `token:${(r.params as { token?: string }).token ?? ''}`,
        }),
      ];
    }
    return this.limiters!;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    // Pages without a token in the path (the public webinar registration) are limited per IP only;
    // one shared "no token" bucket would throttle every visitor together.
    const hasToken = typeof (request.params as { token?: string } | undefined)?.token === 'string';
    for (const limiter of hasToken ? this.all : this.all.slice(0, 1)) {
      const result = await limiter(request);
      if (!result.isAllowed && result.isExceeded) {
        throw new DomainException(ErrorCode.TooManyRequests, `Too many requests; try again in ${result.ttlInSeconds} s.`, undefined, {
          retryAfterSeconds: result.ttlInSeconds,
        });
      }
    }
    return true;
  }
}
