import { Body, Controller, Get, HttpCode, Param, Patch, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../auth/scopes';
import { IdempotencyInterceptor } from '../common/idempotency.interceptor';
import { ParseIdPipe } from '../common/params';
import { DomainException, ErrorCode } from '../common/problem';
import { AttendanceDto, CreateWebinarDto, RegisterDto, RegistrationResponse, UpdateWebinarDto, WebinarResponse } from './dto/webinar.dto';
import { WebinarRegistrationsService } from './webinar-registrations.service';
import { AttendanceResult, WebinarsService } from './webinars.service';

const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description: 'A retried POST with the same key returns the first result; the same key with a different body is a 422.',
};

@ApiTags('webinars')
@ApiBearerAuth()
@UseInterceptors(IdempotencyInterceptor)
@Controller('v1/webinars')
export class WebinarsController {
  constructor(
    private readonly webinars: WebinarsService,
    private readonly registrations: WebinarRegistrationsService,
  ) {}

  @Post()
  @RequireScopes('webinars:write')
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiOperation({ summary: 'Create (publish) a webinar; with `invitation`, invite the topic’s subscribers through a campaign under the cadence cap' })
  create(@Body() body: CreateWebinarDto): Promise<WebinarResponse> {
    return this.webinars.create(body);
  }

  @Get()
  @RequireScopes('read', 'webinars:write')
  @ApiOperation({ summary: 'List webinars, latest start first' })
  list(): Promise<WebinarResponse[]> {
    return this.webinars.list();
  }

  @Get(':id')
  @RequireScopes('read', 'webinars:write')
  @ApiOperation({ summary: 'Get a webinar' })
  get(@Param('id', ParseIdPipe) id: string): Promise<WebinarResponse> {
    return this.webinars.get(id);
  }

  @Patch(':id')
  @RequireScopes('webinars:write')
  @ApiOperation({ summary: 'Change a webinar; a new time sends every registrant an updated calendar invitation (SEQUENCE + 1) and moves their reminders' })
  update(@Param('id', ParseIdPipe) id: string, @Body() body: UpdateWebinarDto): Promise<WebinarResponse> {
    return this.webinars.update(id, body);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @RequireScopes('webinars:write')
  @ApiOperation({ summary: 'Cancel: registrants get a METHOD:CANCEL for their calendar, no reminder goes, the invitation stops' })
  cancel(@Param('id', ParseIdPipe) id: string) {
    return this.webinars.cancel(id);
  }

  @Get(':id/registrations')
  @RequireScopes('read', 'webinars:write')
  @ApiOperation({ summary: 'Registrations with status, calendar SEQUENCE, attendance and the next reminder' })
  listRegistrations(@Param('id', ParseIdPipe) id: string): Promise<RegistrationResponse[]> {
    return this.registrations.list(id);
  }

  @Post(':id/registrations')
  @RequireScopes('webinars:write')
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiOperation({
    summary: 'Register an address (the person asked for it): a known subscriber is linked, an unknown address becomes a pending subscriber with no newsletter consent. 409 when registered already, fully booked, started or cancelled.',
  })
  async register(@Param('id', ParseIdPipe) id: string, @Body() body: RegisterDto) {
    const result = await this.registrations.register(id, body, 'api', { ip: null, userAgent: null });
    switch (result.outcome) {
      case 'registered':
        return { ...result.registration, series: result.series };
      case 'already_registered':
        throw new DomainException(ErrorCode.Conflict, `${result.registration.email} is registered for this webinar already`, [{ field: 'email', message: 'is registered already' }], {
          reason: 'duplicate',
          registrationId: result.registration.id,
        });
      case 'suppressed': {
        // The API is no public form: the caller is told why, as POST /v1/subscribers tells it.
        const why = result.blocks.erasedAt
          ? `belongs to a person erased on ${result.blocks.erasedAt.toISOString().slice(0, 10)}; it is not registered or mailed`
          : `${result.blocks.bounce === 'bounced' ? 'hard-bounced' : 'complained about our mail'}; it is not registered or mailed`;
        throw new DomainException(ErrorCode.Unprocessable, `email ${why}`, [{ field: 'email', message: why }], {
          reason: result.blocks.erasedAt ? 'erased' : result.blocks.bounce,
        });
      }
      case 'full':
        throw new DomainException(ErrorCode.Conflict, 'The webinar is fully booked', undefined, { reason: 'full' });
      case 'closed':
        throw new DomainException(ErrorCode.Conflict, result.reason === 'cancelled' ? 'The webinar was cancelled' : 'The webinar has started', undefined, {
          reason: result.reason,
        });
    }
  }

  @Post(':id/attendance')
  @HttpCode(200)
  @RequireScopes('webinars:write')
  @ApiOperation({
    summary: 'Import who attended; then the recording goes to attendees and “you missed it” to no-shows, both as campaigns under the cadence cap',
  })
  attendance(@Param('id', ParseIdPipe) id: string, @Body() body: AttendanceDto): Promise<AttendanceResult> {
    return this.webinars.attendance(id, body);
  }
}
