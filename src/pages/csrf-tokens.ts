// Form tokens for the customer pages (preferences, feedback): an HMAC over the subscriber and the
// day with the server secret, so a form needs no session and a page from yesterday still saves.
import { Inject, Injectable } from '@nestjs/common';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/config';

const DAY = 86_400_000;

@Injectable()
export class CsrfTokens {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** A form token bound to the subscriber and the day: a page from yesterday still saves, a forged one never. */
  csrfToken(subscriberId: string, at: Date = this.clock.now()): string {
    const day = Math.floor(at.getTime() / DAY);
    return createHmac('sha256', this.config.tokenSecret).update(`csrf:${subscriberId}:${day}`).digest('base64url').slice(0, 32);
  }

  checkCsrf(subscriberId: string, given: unknown): boolean {
    if (typeof given !== 'string') return false;
    const now = this.clock.now();
    return [now, new Date(now.getTime() - DAY)].some((at) => {
      const expected = Buffer.from(this.csrfToken(subscriberId, at));
      const actual = Buffer.from(given);
      return expected.length === actual.length && timingSafeEqual(expected, actual);
    });
  }
}
