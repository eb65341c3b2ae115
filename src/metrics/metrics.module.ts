import { Global, Module } from '@nestjs/common';
import { CampaignCounts } from './campaign-counts';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

@Global()
@Module({ controllers: [MetricsController], providers: [MetricsService, CampaignCounts], exports: [MetricsService, CampaignCounts] })
export class MetricsModule {}
