import { Module } from '@nestjs/common';
import { DigestItemsController } from './digest-items.controller';
import { DigestItemsService } from './digest-items.service';
import { DigestsService } from './digests.service';
import { LinksModule } from '../links/links.module';
import { TopicsModule } from '../topics/topics.module';

@Module({
  imports: [LinksModule, TopicsModule],
  controllers: [DigestItemsController],
  providers: [DigestsService, DigestItemsService],
  exports: [DigestsService],
})
export class DigestsModule {}
