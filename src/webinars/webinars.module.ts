import { Module } from '@nestjs/common';
import { CampaignsModule } from '../campaigns/campaigns.module';
import { PagesModule } from '../pages/pages.module';
import { TopicsModule } from '../topics/topics.module';
import { WebinarMailsService } from './webinar-mails.service';
import { WebinarPagesController } from './webinar-pages.controller';
import { WebinarRegistrationRequestsService } from './webinar-registration-requests.service';
import { WebinarRegistrationsService } from './webinar-registrations.service';
import { WebinarsController } from './webinars.controller';
import { WebinarsService } from './webinars.service';
import { LinksModule } from '../links/links.module';

@Module({
  imports: [LinksModule, CampaignsModule, PagesModule, TopicsModule],
  controllers: [WebinarsController, WebinarPagesController],
  providers: [WebinarsService, WebinarRegistrationsService, WebinarMailsService, WebinarRegistrationRequestsService],
  exports: [WebinarsService, WebinarRegistrationsService, WebinarRegistrationRequestsService],
})
export class WebinarsModule {}
