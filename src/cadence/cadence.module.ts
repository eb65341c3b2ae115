import { Global, Module } from '@nestjs/common';
import { CadenceService } from './cadence.service';
import { DeferralService } from './deferral.service';

/** The cadence cap's enforcement; global because campaigns, digests and webinars all take windows. */
@Global()
@Module({ providers: [CadenceService, DeferralService], exports: [CadenceService, DeferralService] })
export class CadenceModule {}
