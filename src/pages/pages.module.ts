import { Module } from '@nestjs/common';
import { LinksModule } from '../links/links.module';
import { CsrfTokens } from './csrf-tokens';
import { CustomerPageLimitFilter, CustomerRateLimitGuard, CustomerRateLimits } from './customer-rate-limit.guard';
import { PageRenderer } from './page-renderer';

/**
 * What every customer page shares (preferences, confirmation, feedback, webinar pages): the
 * renderer, the per-address rate limits and the form tokens. One instance of each, whichever
 * module imports this one.
 */
@Module({
  imports: [LinksModule],
  providers: [PageRenderer, CsrfTokens, CustomerRateLimits, CustomerRateLimitGuard, CustomerPageLimitFilter],
  exports: [PageRenderer, CsrfTokens, CustomerRateLimits, CustomerRateLimitGuard, CustomerPageLimitFilter],
})
export class PagesModule {}
