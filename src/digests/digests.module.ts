import { Module } from '@nestjs/common';
import { DigestItemsController } from './digest-items.controller';
import { DigestsService } from './digests.service';

@Module({
  controllers: [DigestItemsController],
  providers: [DigestsService],
  exports: [DigestsService],
})
export class DigestsModule {}
