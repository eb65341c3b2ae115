import { Module } from '@nestjs/common';
import { TopicsModule } from '../topics/topics.module';
import { DigestItemsController } from './digest-items.controller';
import { DigestItemsService } from './digest-items.service';
import { DigestsService } from './digests.service';

@Module({
  imports: [TopicsModule],
  controllers: [DigestItemsController],
  providers: [DigestsService, DigestItemsService],
  exports: [DigestsService],
})
export class DigestsModule {}
