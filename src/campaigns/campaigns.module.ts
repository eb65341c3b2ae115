import { Module } from '@nestjs/common';
import { RenderingModule } from '../rendering/rendering.module';
import { CampaignDispatchService } from './campaign-dispatch.service';
import { CampaignProgressService } from './campaign-progress.service';
import { CampaignsController } from './campaigns.controller';
import { CampaignsService } from './campaigns.service';
import { SendersController } from './senders.controller';
import { LinksModule } from '../links/links.module';

@Module({
  imports: [LinksModule, RenderingModule],
  controllers: [CampaignsController, SendersController],
  providers: [CampaignsService, CampaignDispatchService, CampaignProgressService],
  exports: [CampaignsService, CampaignDispatchService, CampaignProgressService],
})
export class CampaignsModule {}
