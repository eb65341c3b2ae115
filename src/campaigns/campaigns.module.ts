import { Module } from '@nestjs/common';
import { LinksModule } from '../links/links.module';
import { RenderingModule } from '../rendering/rendering.module';
import { CampaignDispatchService } from './campaign-dispatch.service';
import { CampaignProgressService } from './campaign-progress.service';
import { CampaignsController } from './campaigns.controller';
import { CampaignsService } from './campaigns.service';
import { SendersController } from './senders.controller';
import { SendersService } from './senders.service';

@Module({
  imports: [LinksModule, RenderingModule],
  controllers: [CampaignsController, SendersController],
  providers: [CampaignsService, CampaignDispatchService, CampaignProgressService, SendersService],
  exports: [CampaignsService, CampaignDispatchService, CampaignProgressService],
})
export class CampaignsModule {}
