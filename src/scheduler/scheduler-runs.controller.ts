import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProperty, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../auth/scopes';
import { ApiInstant, ApiOk } from '../common/openapi';
import { invalid } from '../common/problem';
import { SCHEDULER_JOBS } from '../config/config';
import { SchedulerRun, SchedulerRunsService } from './scheduler-runs.service';

export class SchedulerRunResponse implements SchedulerRun {
  @ApiProperty({ example: '3120', description: 'A 64-bit integer, as a string.' }) id: string;
  @ApiProperty({ enum: SCHEDULER_JOBS }) job: string;
  @ApiProperty({ example: 'tactful-7d9f:4211', description: 'The instance that ran it (host:pid).' }) instance: string;
  @ApiInstant() startedAt: string;
  @ApiInstant() finishedAt: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer', minimum: 0 },
    example: { campaigns: 1, decided: 2000 },
    description: 'What the run did, by the job’s own counters; empty for a failed run.',
  })
  counts: Record<string, number>;
  @ApiProperty({ nullable: true, type: String, description: 'Why the run failed; null when it did not.' }) error: string | null;
}

@ApiTags('operations')
@ApiBearerAuth()
@Controller('v1/scheduler')
export class SchedulerRunsController {
  constructor(private readonly runs: SchedulerRunsService) {}

  @Get('runs')
  @RequireScopes('read')
  @ApiOperation({ summary: 'Recent scheduler runs that did work (or failed), newest first, with counts and instance' })
  @ApiQuery({ name: 'job', required: false, enum: SCHEDULER_JOBS })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } })
  @ApiOk(
    [SchedulerRunResponse],
    [
      {
        id: '3120',
        job: 'dispatch-campaigns',
        instance: 'tactful-7d9f:4211',
        startedAt: '2026-03-02T09:00:00.000Z',
        finishedAt: '2026-03-02T09:00:01.250Z',
        counts: { campaigns: 1, decided: 2000 },
        error: null,
      },
    ],
  )
  list(@Query('job') job?: string, @Query('limit') limit?: string): Promise<SchedulerRunResponse[]> {
    const size = limit === undefined ? 50 : Number(limit);
    if (!Number.isInteger(size) || size < 1 || size > 500) throw invalid('limit', 'must be a whole number from 1 to 500');
    if (job !== undefined && !(SCHEDULER_JOBS as readonly string[]).includes(job)) throw invalid('job', `must be one of ${SCHEDULER_JOBS.join(', ')}`);
    return this.runs.recent(job, size);
  }
}
