import { Module } from '@nestjs/common';
import { SubscriberImportService } from './subscriber-import.service';
import { SubscribersController } from './subscribers.controller';
import { SubscribersService } from './subscribers.service';

@Module({
  controllers: [SubscribersController],
  providers: [SubscribersService, SubscriberImportService],
  exports: [SubscribersService],
})
export class SubscribersModule {}
