import { Module } from '@nestjs/common';
import { FeedbackModule } from '../feedback/feedback.module';
import { LinksModule } from '../links/links.module';
import { PagesModule } from '../pages/pages.module';
import { SubscribersModule } from '../subscribers/subscribers.module';
import { ConfirmController } from './confirm.controller';
import { PreferencesApiController } from './preferences-api.controller';
import { PreferencesController } from './preferences.controller';
import { PreferencesService } from './preferences.service';

@Module({
  imports: [LinksModule, PagesModule, SubscribersModule, FeedbackModule],
  controllers: [ConfirmController, PreferencesController, PreferencesApiController],
  providers: [PreferencesService],
  exports: [PreferencesService],
})
export class PreferencesModule {}
