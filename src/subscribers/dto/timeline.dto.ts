// The response shape of GET /v1/subscribers/:id/timeline, as the OpenAPI document describes it.
// The classes implement the service's interfaces, so a field added there fails to compile here
// until it is documented.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ApiInstant, ApiInteger, ApiUuid } from '../../common/openapi';
import { CADENCES } from '../../cadence/slots';
import { ReasonLabel } from '../../reasons/reason-label.dto';
import { DELIVERY_STATUSES, MESSAGE_CLASSES, NO_MARKETING_LABELS, NoMarketingReason, REASONS } from '../../reasons/reason-codes';
import { RATINGS } from '../../feedback/feedback.policy';
import {
  MAIL_EVENT_KINDS,
  MAIL_EVENT_OUTCOMES,
  MAIL_EVENT_SOURCES,
  MailEventKind,
  MailEventOutcome,
  MailEventSource,
} from '../../mail-events/mail-event.policy';
import type { CustomerChoice, EarlierDecisions, MailEventEntry, Timeline, TimelineEntry } from '../timeline.service';

export class TimelineEntryResponse implements TimelineEntry {
  @ApiProperty({ example: '4711', description: 'The decision’s id (a 64-bit integer, as a string).' }) id: string;
  @ApiInstant({ description: 'When it was handed to SMTP, else when it was last decided.' }) at: string;
  @ApiProperty({ enum: MESSAGE_CLASSES }) class: string;
  @ApiProperty({
    example: 'campaign',
    description: 'Which message: campaign, digest, confirm_subscription, webinar_confirmation, order_confirmation, shipment_shipped, …',
  })
  kind: string;
  @ApiProperty({ nullable: true, type: String, example: 'trade-fairs' }) topic: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '0195f2a4-7c1e-7b3a-9d2e-5a1b2c3d4e5f',
    description: 'The campaign, shipment or registration it belongs to.',
  })
  refId: string | null;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status: string;
  @ApiProperty({ enum: REASONS, enumName: 'Reason' }) reason: string;
  @ApiProperty({ type: ReasonLabel, description: 'The reason in words.' }) reasonLabel: { de: string; en: string };
  @ApiInstant({
    nullable: true,
    description: 'Deferred: the customer’s next digest (read now, so it follows cadence and slot changes); queued: the next attempt.',
  })
  nextAttemptAt: string | null;
  @ApiInstant({ nullable: true }) sentAt: string | null;
  @ApiInteger({ minimum: 0 }) attempts: number;
}

export class CustomerChoiceResponse implements CustomerChoice {
  @ApiInstant() at: string;
  @ApiProperty({
    enum: ['rated', 'dropped_topic'],
    description: '`rated`: answered useful / not useful; `dropped_topic`: answered “drop this topic?” with yes.',
  })
  action: 'rated' | 'dropped_topic';
  @ApiProperty({ enum: ['customer'] }) by: 'customer';
  @ApiProperty({ example: 'trade-fairs' }) topic: string;
  @ApiPropertyOptional({ enum: RATINGS, description: 'With `rated`.' }) rating?: string;
  @ApiPropertyOptional({ enum: ['campaign', 'digest_item'], description: 'With `rated`.' }) itemType?: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'With `rated`.' }) itemId?: string;
}

export class MailEventEntryResponse implements MailEventEntry {
  @ApiInstant({ description: 'When Tactful received it.' }) at: string;
  @ApiInstant({ description: 'When the reporter says it happened (the DSN’s arrival date, the provider’s timestamp).' }) occurredAt: string;
  @ApiProperty({
    enum: MAIL_EVENT_KINDS,
    description:
      '`hard_bounce` (5.x.x), `soft_bounce` (4.x.x, counted: SOFT_BOUNCE_LIMIT within SOFT_BOUNCE_DAYS bounce the address), `delayed` (an MTA still retries), `complaint` (marked as spam), `unsubscribe`.',
  })
  kind: MailEventKind;
  @ApiProperty({
    enum: MAIL_EVENT_SOURCES,
    description:
      'Who sent word: `smtp-dsn` (a delivery status notification, RFC 3464), `arf` (a feedback report, RFC 5965), `mailto` (a mail to the List-Unsubscribe address), a provider (`ses`, `sendgrid`, `postmark`, `mailgun`), or Tactful’s own signed `webhook`.',
  })
  source: MailEventSource;
  @ApiProperty({
    enum: MAIL_EVENT_OUTCOMES,
    description:
      'What Tactful did: `bounced`, `complained`, `unsubscribed` (the person is suppressed from now on), `counted` (a soft bounce below the limit), `noted` (evidence only: a delay, or the person was blocked already), `none`.',
  })
  outcome: MailEventOutcome;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '4710',
    description: 'The delivery it is about (an `items[].id`: a 64-bit integer, as a string), when known.',
  })
  deliveryId: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '<0f3a9c1be2d44f6a8b7c6d5e4f3a2b1c@shop.example>',
    description: 'The Message-ID of that mail, when known.',
  })
  messageId: string | null;
  @ApiProperty({ nullable: true, type: String, example: '5.1.1', description: 'RFC 3463 status, `abuse` for a complaint, or the provider’s code.' })
  statusCode: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'smtp; 550 5.1.1 <[email]>: Recipient address rejected: User unknown',
    description: 'The MTA’s or provider’s words, without addresses.',
  })
  diagnostic: string | null;
}

export class EarlierDecisionsResponse implements EarlierDecisions {
  @ApiProperty({ enum: MESSAGE_CLASSES }) class: string;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status: string;
  @ApiInteger({ minimum: 1 }) count: number;
  @ApiInstant({ description: 'The first of these decisions.' }) firstAt: string;
  @ApiInstant({ description: 'The last of these decisions.' }) lastAt: string;
}

export class TimelineResponse implements Timeline {
  @ApiUuid() subscriberId: string;
  @ApiProperty({ enum: CADENCES }) cadence: string;
  @ApiInstant({ nullable: true, description: 'When the last marketing mail was handed to SMTP.' }) lastMarketingAt: string | null;
  @ApiInstant({
    nullable: true,
    description: 'The earliest time the next marketing mail may go (the cadence window’s end); null when none can (see noMarketingBecause).',
  })
  nextMarketingSlot: string | null;
  @ApiInstant({
    nullable: true,
    description: 'The next digest (“next newsletter”): the digest slot on the first day the window is free; null when none will come.',
  })
  nextDigestAt: string | null;
  @ApiProperty({ nullable: true, enum: Object.keys(NO_MARKETING_LABELS), description: 'Why no marketing mail goes now; null when one can.' })
  noMarketingBecause: NoMarketingReason | null;
  @ApiProperty({ nullable: true, type: ReasonLabel, description: 'noMarketingBecause in words.' }) noMarketingLabel: ReasonLabel | null;
  @ApiInstant({ nullable: true, description: 'The end of a pause (the dates above lie after it); null when not paused or paused until further notice.' })
  pausedUntil: string | null;
  @ApiProperty({ type: [TimelineEntryResponse], description: 'Every decision, newest first.' }) items: TimelineEntryResponse[];
  @ApiProperty({ nullable: true, type: String, example: '4690', description: 'Pass as `before` for the next page; null on the last page.' }) nextCursor:
    string | null;
  @ApiProperty({ type: [CustomerChoiceResponse], description: 'The customer’s own feedback and choices, newest first (at most 100).' })
  customerChoices: CustomerChoiceResponse[];
  @ApiProperty({
    type: [MailEventEntryResponse],
    description:
      'Bounces, complaints and unsubscribes that came back (by mail, from the mail provider, or the signed webhook), newest first (at most 100), each with its evidence: which mail, which source, which status.',
  })
  mailEvents: MailEventEntryResponse[];
  @ApiProperty({
    type: [EarlierDecisionsResponse],
    description:
      'The decisions of months past the decision log’s retention (DECISION_LOG_RETENTION_MONTHS, 13 by default), no longer listed in `items`: counted by class and status when their month was dropped. Empty until then.',
  })
  earlier: EarlierDecisionsResponse[];

  /** Anna after the walkthrough's two campaigns: the first sent, the second folded into her next digest. */
  static readonly example: TimelineResponse = {
    subscriberId: '0195f2a4-7c1e-7b3a-9d2e-5a1b2c3d4e5f',
    cadence: 'weekly',
    lastMarketingAt: '2026-03-02T09:00:00.000Z',
    nextMarketingSlot: '2026-03-09T09:00:00.000Z',
    nextDigestAt: '2026-03-10T08:00:00.000Z',
    noMarketingBecause: null,
    noMarketingLabel: null,
    pausedUntil: null,
    items: [
      {
        id: '4711',
        at: '2026-03-02T09:00:00.000Z',
        class: 'marketing',
        kind: 'campaign',
        topic: 'trade-fairs',
        refId: '0195f2a5-1111-7000-8000-00000000c002',
        status: 'deferred',
        reason: 'deferred_cadence',
        reasonLabel: { de: 'In den nächsten Newsletter verschoben (Versandrhythmus)', en: 'Folded into the next digest (cadence)' },
        nextAttemptAt: '2026-03-10T08:00:00.000Z',
        sentAt: null,
        attempts: 0,
      },
      {
        id: '4710',
        at: '2026-03-02T09:00:00.000Z',
        class: 'marketing',
        kind: 'campaign',
        topic: 'trade-fairs',
        refId: '0195f2a5-1111-7000-8000-00000000c001',
        status: 'sent',
        reason: 'sent',
        reasonLabel: { de: 'Versendet', en: 'Sent' },
        nextAttemptAt: null,
        sentAt: '2026-03-02T09:00:00.000Z',
        attempts: 1,
      },
    ],
    nextCursor: null,
    customerChoices: [],
    mailEvents: [],
    earlier: [],
  };
}
