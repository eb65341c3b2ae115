import { Module } from '@nestjs/common';
import { SubscribersModule } from '../subscribers/subscribers.module';
import { ConfirmController } from './confirm.controller';
import { PageRenderer } from './page-renderer';

@Module({
  imports: [SubscribersModule],
  controllers: [ConfirmController],
  providers: [PageRenderer],
  exports: [PageRenderer],
})
export class PreferencesModule {}
