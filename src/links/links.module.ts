import { Module } from '@nestjs/common';
import { TokenService } from './tokens';

/** Signed customer links (unsubscribe, preferences, feedback, confirmation): signed by the outbox, read by the pages. */
@Module({ providers: [TokenService], exports: [TokenService] })
export class LinksModule {}
