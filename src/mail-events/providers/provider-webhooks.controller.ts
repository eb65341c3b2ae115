// The providers' webhooks at /webhooks/mail-events/<provider>: each verified as its provider signs
// it (provider-events.ts) before anything is read, then every event goes through MailEventsService.
// An event that cannot be verified changes nothing: 401 (or 403 while the provider is not
// configured, or for a topic that is not ours) with a problem body.
import { Controller, HttpCode, Inject, Logger, Post, Req } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../../auth/scopes';
import { Clock } from '../../common/clock';
import { ApiBodyContent, ApiInteger, ApiOk, ApiProblems } from '../../common/openapi';
import { DomainException, ErrorCode } from '../../common/problem';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { DeliveryReferences } from '../../delivery/delivery-reference';
import { MetricsService } from '../../metrics/metrics.service';
import { InboundMailEvent, MailEventsService } from '../mail-events.service';
import {
  mailgunEvents,
  postmarkEvents,
  sendgridEvents,
  SENDGRID_SIGNATURE_HEADER,
  SENDGRID_TIMESTAMP_HEADER,
  sesEvents,
  snsUrlAllowed,
  verifyMailgun,
  Verdict,
  verifyPostmark,
  verifySendgrid,
  verifySns,
} from './provider-events';
import { SnsClient } from './sns-client';

export class ProviderEventsResult {
  @ApiInteger({ minimum: 0, description: 'Bounce, complaint and unsubscribe events in the request (deliveries, opens and clicks are not counted).' })
  received: number;
  @ApiInteger({ minimum: 0, description: 'Events that changed a person or an address, or were counted (soft bounces).' }) applied: number;
  @ApiInteger({ minimum: 0, description: 'Events seen before (the provider retried, or a replay): nothing changed.' }) duplicates: number;
  @ApiPropertyOptional({ description: 'SES via SNS: a SubscriptionConfirmation was confirmed (its SubscribeURL visited).' }) subscriptionConfirmed?: boolean;
}

type RawRequest = FastifyRequest & { rawBody?: string };

const PROBLEMS = {
  400: 'The body is not JSON.',
  401: 'Not verified: a missing, wrong or stale signature (or credentials), or a replayed token. Nothing changed.',
  403: 'The provider is not configured on this instance (or, SES: the topic is not one of SES_SNS_TOPIC_ARNS). Nothing changed.',
} as const;

const ANY_OBJECT = { type: 'object', additionalProperties: true } as const;

@ApiTags('webhooks')
@Controller('webhooks/mail-events')
export class ProviderWebhooksController {
  private readonly logger = new Logger(ProviderWebhooksController.name);
  private readonly references: DeliveryReferences;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly mailEvents: MailEventsService,
    private readonly sns: SnsClient,
    private readonly metrics: MetricsService,
  ) {
    this.references = new DeliveryReferences([config.tokenSecret, ...config.previousTokenSecrets]);
  }

  @Post('ses')
  @HttpCode(200)
  @Public()
  @ApiOperation({
    summary: 'Amazon SES bounce and complaint notifications, through SNS',
    description:
      'Subscribe this URL (https) to the SNS topic(s) SES publishes bounces and complaints to, and list the topic ARNs in ' +
      'SES_SNS_TOPIC_ARNS. Every message is verified against the certificate at its SigningCertURL (SignatureVersion 1: ' +
      'SHA1withRSA, 2: SHA256withRSA), fetched only over https from sns.<region>.amazonaws.com and cached. A ' +
      'SubscriptionConfirmation is confirmed by visiting its SubscribeURL (same host rule). A Notification carries SES’s ' +
      'Bounce (Permanent: hard, Transient/Undetermined: soft) or Complaint JSON in `Message`; a repeated MessageId changes nothing.',
  })
  @ApiHeader({
    name: 'x-amz-sns-message-type',
    required: false,
    description: 'Notification, SubscriptionConfirmation or UnsubscribeConfirmation (the body’s Type decides).',
  })
  @ApiBodyContent({
    required: true,
    description: 'The SNS message, as SNS posts it (Content-Type text/plain, a JSON document).',
    content: {
      'text/plain': { schema: { type: 'string' } },
      'application/json': {
        schema: {
          type: 'object',
          properties: {
            Type: { type: 'string', enum: ['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation'] },
            MessageId: { type: 'string', format: 'uuid', description: 'SNS’s id of the message (a UUID); a repeated one changes nothing.' },
            TopicArn: { type: 'string' },
            Message: { type: 'string', description: 'For a Notification: SES’s notification JSON, as a string.' },
            Timestamp: { type: 'string', format: 'date-time' },
            SignatureVersion: { type: 'string', enum: ['1', '2'] },
            Signature: { type: 'string' },
            SigningCertURL: { type: 'string', format: 'uri' },
            SubscribeURL: { type: 'string', format: 'uri' },
            Token: { type: 'string' },
          },
          additionalProperties: true,
        },
      },
    },
  })
  @ApiOk(ProviderEventsResult, { received: 1, applied: 1, duplicates: 0 }, { description: 'Verified and applied (or acknowledged as seen before).' })
  @ApiProblems(PROBLEMS)
  async ses(@Req() request: RawRequest): Promise<ProviderEventsResult> {
    const message = this.json(request.rawBody) as Record<string, unknown>;
    const now = this.clock.now();
    const testHosts = this.config.mailProviders.snsTestHosts;
    this.check(
      'ses',
      await verifySns({ message, topicArns: this.config.mailProviders.sesTopicArns, testHosts, now, certificate: (url) => this.sns.certificate(url) }),
    );
    if (message.Type === 'SubscriptionConfirmation') {
      const url = snsUrlAllowed(message.SubscribeURL, testHosts);
      if (!url) return this.refused('ses', { ok: false, status: 401, reason: 'SubscribeURL is not an https URL of sns.<region>.amazonaws.com' });
      await this.sns.confirm(url);
      this.logger.log({ topic: message.TopicArn }, 'SNS subscription confirmed');
      return { received: 0, applied: 0, duplicates: 0, subscriptionConfirmed: true };
    }
    if (message.Type === 'UnsubscribeConfirmation') {
      this.logger.warn({ topic: message.TopicArn }, 'SNS says this endpoint was unsubscribed from the topic');
      return { received: 0, applied: 0, duplicates: 0 };
    }
    return this.apply(sesEvents(String(message.MessageId), String(message.Message), this.references));
  }

  @Post('sendgrid')
  @HttpCode(200)
  @Public()
  @ApiOperation({
    summary: 'SendGrid Event Webhook (signed)',
    description:
      'Turn on “Signed Event Webhook Requests” and put the verification key into SENDGRID_WEBHOOK_PUBLIC_KEY. Each request is ' +
      'verified (ECDSA P-256 over the timestamp and the raw body) and must be at most 5 minutes old. bounce (type bounce: hard, ' +
      'blocked: soft), deferred (a delay), spamreport (complaint), unsubscribe and group_unsubscribe are applied; a repeated ' +
      'sg_event_id changes nothing; other events are ignored.',
  })
  @ApiHeader({ name: SENDGRID_SIGNATURE_HEADER, required: true, description: 'Base64 ECDSA signature.' })
  @ApiHeader({ name: SENDGRID_TIMESTAMP_HEADER, required: true, description: 'Unix seconds, part of what is signed.' })
  @ApiBodyContent({
    required: true,
    description: 'A batch of SendGrid events.',
    content: { 'application/json': { schema: { type: 'array', items: ANY_OBJECT } } },
  })
  @ApiOk(ProviderEventsResult, { received: 2, applied: 2, duplicates: 0 }, { description: 'Verified and applied.' })
  @ApiProblems(PROBLEMS)
  async sendgrid(@Req() request: RawRequest): Promise<ProviderEventsResult> {
    const raw = request.rawBody ?? '';
    const header = (name: string) => (typeof request.headers[name] === 'string' ? (request.headers[name] as string) : undefined);
    this.check(
      'sendgrid',
      verifySendgrid(this.config.mailProviders.sendgridPublicKey, header(SENDGRID_SIGNATURE_HEADER), header(SENDGRID_TIMESTAMP_HEADER), raw, this.clock.now()),
    );
    return this.apply(sendgridEvents(this.json(raw)));
  }

  @Post('postmark')
  @HttpCode(200)
  @Public()
  @ApiOperation({
    summary: 'Postmark bounce, spam complaint and subscription change webhooks (basic auth)',
    description:
      'Set the webhook URL as https://USER:PASSWORD@<host>/webhooks/mail-events/postmark with POSTMARK_WEBHOOK_USER and ' +
      'POSTMARK_WEBHOOK_PASSWORD. Bounce (HardBounce, BadEmailAddress: hard; SoftBounce, Transient, DnsError: soft), ' +
      'SpamComplaint and SubscriptionChange (a suppression by the recipient: unsubscribe; HardBounce, SpamComplaint) records ' +
      'are applied; a reactivation gives no consent back. A repeated event changes nothing.',
  })
  @ApiHeader({ name: 'authorization', required: true, description: 'Basic <base64 of user:password>.' })
  @ApiBodyContent({
    required: true,
    description: 'One Postmark webhook record.',
    content: { 'application/json': { schema: { type: 'object', properties: { RecordType: { type: 'string' } }, additionalProperties: true } } },
  })
  @ApiOk(ProviderEventsResult, { received: 1, applied: 1, duplicates: 0 }, { description: 'Verified and applied.' })
  @ApiProblems(PROBLEMS)
  async postmark(@Req() request: RawRequest): Promise<ProviderEventsResult> {
    const { postmarkUser, postmarkPassword } = this.config.mailProviders;
    this.check('postmark', verifyPostmark(postmarkUser, postmarkPassword, request.headers.authorization));
    const events = postmarkEvents(this.json(request.rawBody), this.clock.now());
    if (events === 'stale') return this.refused('postmark', { ok: false, status: 401, reason: 'the event is older than the replay window' });
    return this.apply(events);
  }

  @Post('mailgun')
  @HttpCode(200)
  @Public()
  @ApiOperation({
    summary: 'Mailgun webhooks (signed)',
    description:
      'Point the permanent_fail, temporary_fail, complained and unsubscribed webhooks here and put the HTTP webhook signing key ' +
      'into MAILGUN_WEBHOOK_SIGNING_KEY. The signature (HMAC-SHA256 of timestamp and token) must match, the timestamp be at most ' +
      '5 minutes old, and the token new: a token seen before is refused.',
  })
  @ApiBodyContent({
    required: true,
    description: 'Mailgun’s `{ signature, event-data }` document.',
    content: {
      'application/json': {
        schema: {
          type: 'object',
          properties: {
            signature: {
              type: 'object',
              properties: { timestamp: { type: 'string' }, token: { type: 'string' }, signature: { type: 'string' } },
              additionalProperties: true,
            },
            'event-data': ANY_OBJECT,
          },
          additionalProperties: true,
        },
      },
    },
  })
  @ApiOk(ProviderEventsResult, { received: 1, applied: 1, duplicates: 0 }, { description: 'Verified and applied.' })
  @ApiProblems(PROBLEMS)
  async mailgun(@Req() request: RawRequest): Promise<ProviderEventsResult> {
    const body = this.json(request.rawBody) as { signature?: { token?: unknown } };
    this.check('mailgun', verifyMailgun(this.config.mailProviders.mailgunSigningKey, body?.signature, this.clock.now()));
    if (!(await this.mailEvents.claimReplayKey('mailgun-token', String(body.signature!.token)))) {
      return this.refused('mailgun', { ok: false, status: 401, reason: 'token already used (a replay)' });
    }
    return this.apply(mailgunEvents(body));
  }

  // ---------------------------------------------------------------------------------------------

  private json(raw: string | undefined): unknown {
    try {
      return JSON.parse(raw ?? '');
    } catch {
      throw new DomainException(ErrorCode.Validation, 'The request body is not valid JSON.', [{ field: 'body', message: 'is not valid JSON' }]);
    }
  }

  private check(source: string, verdict: Verdict): void {
    if (!verdict.ok) this.refused(source, verdict);
  }

  private refused(source: string, verdict: Exclude<Verdict, { ok: true }>): never {
    this.metrics.mailEventsRefused.inc({ source, reason: verdict.status === 403 ? 'not_configured' : 'unverified' });
    this.logger.warn({ source, reason: verdict.reason }, 'provider webhook refused');
    throw new DomainException(verdict.status === 403 ? ErrorCode.Forbidden : ErrorCode.Unauthorized, `Webhook refused: ${verdict.reason}`);
  }

  private async apply(events: InboundMailEvent[]): Promise<ProviderEventsResult> {
    const result: ProviderEventsResult = { received: events.length, applied: 0, duplicates: 0 };
    for (const event of events) {
      const outcome = await this.mailEvents.record(event);
      if (outcome.duplicate) result.duplicates++;
      else if (outcome.outcome !== 'none') result.applied++;
    }
    return result;
  }
}
