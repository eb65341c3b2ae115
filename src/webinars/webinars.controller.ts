import { Body, Controller, Get, HttpCode, Patch, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../auth/scopes';
import { IdempotencyInterceptor } from '../common/idempotency.interceptor';
import { IdParam } from '../common/params';
import { DomainException, ErrorCode } from '../common/problem';
import { ApiOk, ApiProblems } from '../common/openapi';
import {
  AttendanceDto,
  AttendanceResponse,
  CancelledWebinarResponse,
  CreateWebinarDto,
  RegisterDto,
  RegisteredResponse,
  RegistrationResponse,
  UpdateWebinarDto,
  WebinarResponse,
} from './dto/webinar.dto';
import { WebinarRegistrationsService } from './webinar-registrations.service';
import { WebinarsService } from './webinars.service';

const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description: 'A retried POST with the same key returns the first result (header `Idempotent-Replayed: true`); the same key with a different body is a 422.',
  schema: { type: 'string', pattern: '^[\\w.:-]{1,200}$' },
};
const IDEMPOTENCY_CONFLICT = 'A request with this Idempotency-Key is still being processed; retry shortly.';
const IDEMPOTENCY_MISMATCH = 'This Idempotency-Key was used with a different request body.';

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
  @ApiOk(WebinarResponse, WebinarResponse.example, { status: 201 })
  @ApiProblems({ 409: `The slug, or the part number in the series, is taken. Or: ${IDEMPOTENCY_CONFLICT}`, 422: IDEMPOTENCY_MISMATCH })
  create(@Body() body: CreateWebinarDto): Promise<WebinarResponse> {
    return this.webinars.create(body);
  }

  @Get()
  @RequireScopes('read', 'webinars:write')
  @ApiOperation({ summary: 'List webinars, latest start first' })
  @ApiOk([WebinarResponse], [WebinarResponse.example])
  list(): Promise<WebinarResponse[]> {
    return this.webinars.list();
  }

  @Get(':id')
  @RequireScopes('read', 'webinars:write')
  @ApiOperation({ summary: 'Get a webinar' })
  @ApiOk(WebinarResponse, WebinarResponse.example)
  @ApiProblems({ 404: 'No such webinar.' })
  get(@IdParam() id: string): Promise<WebinarResponse> {
    return this.webinars.get(id);
  }

  @Patch(':id')
  @RequireScopes('webinars:write')
  @ApiOperation({ summary: 'Change a webinar; a new time sends every registrant an updated calendar invitation (SEQUENCE + 1) and moves their reminders' })
  @ApiOk(WebinarResponse, {
    ...WebinarResponse.example,
    startsAt: '2026-03-11T09:00:00.000Z',
    endsAt: '2026-03-11T10:00:00.000Z',
    updatedAt: '2026-03-03T10:00:00.000Z',
  })
  @ApiProblems({ 404: 'No such webinar.', 409: 'The webinar is cancelled or has started, or its invitation went out already (`errors`: invitation).' })
  update(@IdParam() id: string, @Body() body: UpdateWebinarDto): Promise<WebinarResponse> {
    return this.webinars.update(id, body);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @RequireScopes('webinars:write')
  @ApiOperation({ summary: 'Cancel: registrants get a METHOD:CANCEL for their calendar, no reminder goes, the invitation stops' })
  @ApiOk(
    CancelledWebinarResponse,
    { ...WebinarResponse.example, status: 'cancelled', cancelledAt: '2026-03-03T10:00:00.000Z', cancelledRegistrations: 12 },
    { description: 'Cancelled (again: nothing more to do).' },
  )
  @ApiProblems({ 404: 'No such webinar.', 409: 'The webinar is over.' })
  cancel(@IdParam() id: string): Promise<CancelledWebinarResponse> {
    return this.webinars.cancel(id);
  }

  @Get(':id/registrations')
  @RequireScopes('read', 'webinars:write')
  @ApiOperation({ summary: 'Registrations with status, calendar SEQUENCE, attendance and the next reminder' })
  @ApiOk([RegistrationResponse], [RegistrationResponse.example])
  @ApiProblems({ 404: 'No such webinar.' })
  listRegistrations(@IdParam() id: string): Promise<RegistrationResponse[]> {
    return this.registrations.list(id);
  }

  @Post(':id/registrations')
  @RequireScopes('webinars:write')
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiOperation({
    summary:
      'Register an address (the person asked for it): a known subscriber is linked, an unknown address becomes a pending subscriber with no newsletter consent. 409 when registered already, fully booked, started or cancelled.',
  })
  @ApiOk(
    RegisteredResponse,
    { ...RegistrationResponse.example, series: [] },
    { status: 201, description: 'Registered; the confirmation with the calendar invitation is queued.' },
  )
  @ApiProblems({
    404: 'No such webinar.',
    409: `Registered already (\`reason\`: duplicate, with \`registrationId\`), fully booked (full), cancelled or started. Or: ${IDEMPOTENCY_CONFLICT}`,
    422: `The address belongs to an erased person, hard-bounced or complained (\`reason\`): nothing is registered or sent. Or: ${IDEMPOTENCY_MISMATCH}`,
  })
  async register(@IdParam() id: string, @Body() body: RegisterDto): Promise<RegisteredResponse> {
    const result = await this.registrations.register(id, body, 'api', { ip: null, userAgent: null });
    switch (result.outcome) {
      case 'registered':
        return { ...result.registration, series: result.series };
      case 'already_registered':
        throw new DomainException(
          ErrorCode.Conflict,
          `${result.registration.email} is registered for this webinar already`,
          [{ field: 'email', message: 'is registered already' }],
          {
            reason: 'duplicate',
            registrationId: result.registration.id,
          },
        );
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
  @ApiOk(AttendanceResponse, {
    attended: 1,
    missed: 1,
    notRegistered: [],
    attendedCampaignId: '0195f2a8-7777-7000-8000-00000000c101',
    missedCampaignId: '0195f2a8-7777-7000-8000-00000000c102',
  })
  @ApiProblems({ 404: 'No such webinar.', 409: 'The webinar is cancelled or has not started yet.' })
  attendance(@IdParam() id: string, @Body() body: AttendanceDto): Promise<AttendanceResponse> {
    return this.webinars.attendance(id, body);
  }
}
