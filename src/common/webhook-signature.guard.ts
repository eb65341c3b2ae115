// Checks a signed webhook before anything else (a guard runs before body validation), so an
// unsigned or replayed request learns nothing but 401.
import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Clock } from './clock';
import { DomainException, ErrorCode } from './problem';
import { SIGNATURE_HEADER, verifyWebhook } from './signatures';

@Injectable()
export class WebhookSignatureGuard implements CanActivate {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest & { rawBody?: string }>();
    const header = request.headers[SIGNATURE_HEADER];
    const check = verifyWebhook(
      [this.config.webhookSecret, ...this.config.previousWebhookSecrets],
      typeof header === 'string' ? header : undefined,
      request.rawBody ?? '',
      this.clock.now(),
    );
    if (!check.ok) throw new DomainException(ErrorCode.Unauthorized, `Webhook signature rejected: ${check.reason}`);
    return true;
  }
}
