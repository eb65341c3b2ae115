// Provides the TemplateRenderer port; other modules inject the abstract class, never MJML itself.

import { Module } from '@nestjs/common';
import { MjmlTemplateRenderer } from './mjml-template-renderer';
import { TemplateRenderer } from './template-renderer';

@Module({
  providers: [{ provide: TemplateRenderer, useClass: MjmlTemplateRenderer }],
  exports: [TemplateRenderer],
})
export class RenderingModule {}
