import { Module } from '@nestjs/common';
import { CampaignsModule } from '../campaigns/campaigns.module';
import { PreferencesModule } from '../preferences/preferences.module';
import { WebinarMailsService } from './webinar-mails.service';
import { WebinarPagesController } from './webinar-pages.controller';
import { WebinarRegistrationRequestsService } from './webinar-registration-requests.service';
import { WebinarRegistrationsService } from './webinar-registrations.service';
import { WebinarsController } from './webinars.controller';
import { WebinarsService } from './webinars.service';

@Module({
  imports: [CampaignsModule, PreferencesModule],
  controllers: [WebinarsController, WebinarPagesController],
  providers: [WebinarsService, WebinarRegistrationsService, WebinarMailsService, WebinarRegistrationRequestsService],
  exports: [WebinarsService, WebinarRegistrationsService, WebinarRegistrationRequestsService],
})
export class WebinarsModule {}
