import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Public } from '../auth/scopes';
import { Clock, DatabaseClock } from '../common/clock';
import { DomainException, ErrorCode } from '../common/problem';

@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly clock: Clock,
  ) {}

  @Get('health')
  @Public()
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Liveness and database reachability (503 when PostgreSQL does not answer)' })
  async health(): Promise<{ status: 'ok'; database: 'ok'; clockOffsetMs: number | null }> {
    try {
      await this.db.query('SELECT 1');
    } catch {
      throw new DomainException(ErrorCode.Unavailable, 'The database does not answer.');
    }
    // How far this host's clock is corrected to PostgreSQL's (null: a test clock).
    return { status: 'ok', database: 'ok', clockOffsetMs: this.clock instanceof DatabaseClock ? this.clock.offset : null };
  }
}
