import { Module } from '@nestjs/common';
import { SubscribersModule } from '../subscribers/subscribers.module';
import { ConfirmController } from './confirm.controller';
import { CustomerRateLimitGuard } from './customer-rate-limit.guard';
import { PageRenderer } from './page-renderer';
import { PreferencesApiController } from './preferences-api.controller';
import { PreferencesController } from './preferences.controller';
import { PreferencesService } from './preferences.service';

@Module({
  imports: [SubscribersModule],
  controllers: [ConfirmController, PreferencesController, PreferencesApiController],
  providers: [PageRenderer, PreferencesService, CustomerRateLimitGuard],
  exports: [PageRenderer, PreferencesService],
})
export class PreferencesModule {}
