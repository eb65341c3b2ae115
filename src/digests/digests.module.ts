import { Module } from '@nestjs/common';
import { DigestItemsController } from './digest-items.controller';
import { DigestsService } from './digests.service';
import { LinksModule } from '../links/links.module';

@Module({
  imports: [LinksModule],
  controllers: [DigestItemsController],
  providers: [DigestsService],
  exports: [DigestsService],
})
export class DigestsModule {}
