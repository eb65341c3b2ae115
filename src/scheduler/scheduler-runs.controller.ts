import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../auth/scopes';
import { invalid } from '../common/problem';
import { SCHEDULER_JOBS } from '../config/config';
import { SchedulerRun, SchedulerRunsService } from './scheduler-runs.service';

@ApiTags('operations')
@ApiBearerAuth()
@Controller('v1/scheduler')
export class SchedulerRunsController {
  constructor(private readonly runs: SchedulerRunsService) {}

  @Get('runs')
  @RequireScopes('read')
  @ApiOperation({ summary: 'Recent scheduler runs that did work (or failed), newest first, with counts and instance' })
  @ApiQuery({ name: 'job', required: false, enum: SCHEDULER_JOBS })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  list(@Query('job') job?: string, @Query('limit') limit?: string): Promise<SchedulerRun[]> {
    const size = limit === undefined ? 50 : Number(limit);
    if (!Number.isInteger(size) || size < 1 || size > 500) throw invalid('limit', 'must be a whole number from 1 to 500');
    if (job !== undefined && !(SCHEDULER_JOBS as readonly string[]).includes(job)) throw invalid('job', `must be one of ${SCHEDULER_JOBS.join(', ')}`);
    return this.runs.recent(job, size);
  }
}
