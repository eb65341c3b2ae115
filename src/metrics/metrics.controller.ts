import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiText } from '../common/openapi';
import { Public } from '../auth/scopes';
import { MetricsService } from './metrics.service';

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Public()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Prometheus metrics: deliveries by status and reason, SMTP latency, outbox depth, scheduler runs, HTTP durations' })
  @ApiText(
    'text/plain',
    'The Prometheus text exposition format, version 0.0.4.',
    '# HELP tactful_deliveries_total Decisions by class, status and reason.\n# TYPE tactful_deliveries_total counter\ntactful_deliveries_total{class="marketing",status="sent",reason="sent"} 2\n',
  )
  render(): Promise<string> {
    return this.metrics.render();
  }
}
