import { DynamicModule, Global, Module } from '@nestjs/common';
import { Clock } from './clock';

/** Makes the clock injectable everywhere: the system (or database-corrected) clock, or a test's. */
@Global()
@Module({})
export class ClockModule {
  static register(clock: Clock): DynamicModule {
    return { module: ClockModule, providers: [{ provide: Clock, useValue: clock }], exports: [Clock] };
  }
}
