import { Module } from '@nestjs/common';
import { CampaignsModule } from '../campaigns/campaigns.module';
import { PreferencesModule } from '../preferences/preferences.module';
import { TopicsModule } from '../topics/topics.module';
import { WebinarMailsService } from './webinar-mails.service';
import { WebinarPagesController } from './webinar-pages.controller';
import { WebinarRegistrationsService } from './webinar-registrations.service';
import { WebinarsController } from './webinars.controller';
import { WebinarsService } from './webinars.service';

@Module({
  imports: [CampaignsModule, PreferencesModule, TopicsModule],
  controllers: [WebinarsController, WebinarPagesController],
  providers: [WebinarsService, WebinarRegistrationsService, WebinarMailsService],
  exports: [WebinarsService, WebinarRegistrationsService],
})
export class WebinarsModule {}
