import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/scopes';
import { Clock, DatabaseClock } from '../common/clock';
import { ApiOk, ApiProblems } from '../common/openapi';
import { DomainException, ErrorCode } from '../common/problem';
import { Db } from '../database/sql';

export class HealthResponse {
  @ApiProperty({ enum: ['ok'] }) status: 'ok';
  @ApiProperty({ enum: ['ok'], description: 'PostgreSQL answered.' }) database: 'ok';
  @ApiProperty({
    type: 'integer',
    nullable: true,
    example: 12,
    description: 'How far this host’s clock is corrected to PostgreSQL’s, in milliseconds (the instance runs on PostgreSQL’s time); null with a test clock.',
  })
  clockOffsetMs: number | null;
}

@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  @Get('health')
  @Public()
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Liveness and database reachability (503 when PostgreSQL does not answer)' })
  @ApiOk(HealthResponse, { status: 'ok', database: 'ok', clockOffsetMs: 12 })
  @ApiProblems({ 503: 'The database does not answer.' })
  async health(): Promise<HealthResponse> {
    try {
      await this.db.reachable();
    } catch {
      throw new DomainException(ErrorCode.Unavailable, 'The database does not answer.');
    }
    // How far this host's clock is corrected to PostgreSQL's (null: a test clock).
    return { status: 'ok', database: 'ok', clockOffsetMs: this.clock instanceof DatabaseClock ? this.clock.offset : null };
  }
}
