import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../auth/scopes';
import { invalid } from '../common/problem';
import { SchedulerRun, SchedulerRunsService } from './scheduler-runs.service';

// The jobs of JobsService; other names cannot appear in the runs table.
const JOBS = ['dispatch-campaigns', 'compose-digests', 'expire-deferred', 'double-opt-in', 'resume-paused', 'webinar-reminders'];

@ApiTags('operations')
@ApiBearerAuth()
@Controller('v1/scheduler')
export class SchedulerRunsController {
  constructor(private readonly runs: SchedulerRunsService) {}

  @Get('runs')
  @RequireScopes('read')
  @ApiOperation({ summary: 'Recent scheduler runs that did work (or failed), newest first, with counts and instance' })
  @ApiQuery({ name: 'job', required: false, enum: JOBS })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  list(@Query('job') job?: string, @Query('limit') limit?: string): Promise<SchedulerRun[]> {
    const size = limit === undefined ? 50 : Number(limit);
    if (!Number.isInteger(size) || size < 1 || size > 500) throw invalid('limit', 'must be a whole number from 1 to 500');
    if (job !== undefined && !JOBS.includes(job)) throw invalid('job', `must be one of ${JOBS.join(', ')}`);
    return this.runs.recent(job, size);
  }
}
