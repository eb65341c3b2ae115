import { Module } from '@nestjs/common';
import { ConfirmationService } from './confirmation.service';
import { SubscriberImportService } from './subscriber-import.service';
import { SubscribersController } from './subscribers.controller';
import { SubscribersService } from './subscribers.service';
import { TimelineService } from './timeline.service';
import { LinksModule } from '../links/links.module';

@Module({
  imports: [LinksModule],
  controllers: [SubscribersController],
  providers: [SubscribersService, SubscriberImportService, ConfirmationService, TimelineService],
  exports: [SubscribersService, ConfirmationService, TimelineService],
})
export class SubscribersModule {}
