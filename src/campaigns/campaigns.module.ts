import { Module } from '@nestjs/common';
import { RenderingModule } from '../rendering/rendering.module';
import { CampaignDispatchService } from './campaign-dispatch.service';
import { CampaignsController } from './campaigns.controller';
import { CampaignsService } from './campaigns.service';

@Module({
  imports: [RenderingModule],
  controllers: [CampaignsController],
  providers: [CampaignsService, CampaignDispatchService],
  exports: [CampaignsService, CampaignDispatchService],
})
export class CampaignsModule {}
