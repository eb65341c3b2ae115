// The one enum of decision reasons: stored on every delivery row and used by the timeline,
// the stats and the docs. Labels in both languages live here and nowhere else.

export enum Reason {
  Queued = 'queued',
  Sent = 'sent',
  Retrying = 'retrying',
  UnknownOutcome = 'unknown_outcome',
  DomainPaused = 'domain_paused',
  DeferredCadence = 'deferred_cadence',
  DeferredDigestFull = 'deferred_digest_full',
  DeferredBudget = 'deferred_budget',
  Expired = 'expired',
  SuppressedNotSubscribed = 'suppressed_not_subscribed',
  SuppressedUnconfirmed = 'suppressed_unconfirmed',
  SuppressedPaused = 'suppressed_paused',
  SuppressedUnsubscribed = 'suppressed_unsubscribed',
  SuppressedBounced = 'suppressed_bounced',
  SuppressedComplained = 'suppressed_complained',
  /** An address of a person erased under GDPR (only transactional mail goes there). */
  SuppressedErased = 'suppressed_erased',
  SuppressedAudience = 'suppressed_audience',
  SuppressedDuplicate = 'suppressed_duplicate',
  /** Decided to go, and waiting in the outbox for the end of the customer's quiet hours. */
  QueuedQuietHours = 'queued_quiet_hours',
  /** A shipment status mail held until the parcel's status settles (SHIPMENT_SETTLE_SECONDS). */
  QueuedSettling = 'queued_settling',
  SuppressedEmpty = 'suppressed_empty',
  SuppressedCancelled = 'suppressed_cancelled',
  AlreadyDelivered = 'already_delivered',
  Superseded = 'superseded',
  FailedPermanent = 'failed_permanent',
  FailedBounced = 'failed_bounced',
  FailedRetriesExhausted = 'failed_retries_exhausted',
}

export const REASONS: readonly Reason[] = Object.values(Reason);

export const REASON_LABELS: Record<Reason, { de: string; en: string }> = {
  [Reason.Queued]: { de: 'Wartet auf den Versand', en: 'Waiting to be sent' },
  [Reason.Sent]: { de: 'Versendet', en: 'Sent' },
  [Reason.Retrying]: { de: 'Vorübergehender Fehler, neuer Versuch folgt', en: 'Temporary failure, will retry' },
  [Reason.UnknownOutcome]: {
    de: 'Übergabe an den Mailserver unbestätigt, wird einmal erneut gesendet',
    en: 'Hand-over to the mail server unconfirmed; sent once more',
  },
  [Reason.DomainPaused]: { de: 'Empfängerdomain blockiert uns gerade; Versand pausiert', en: 'Recipient domain is blocking us; sending paused' },
  [Reason.DeferredCadence]: { de: 'In den nächsten Newsletter verschoben (Versandrhythmus)', en: 'Folded into the next digest (cadence)' },
  [Reason.DeferredDigestFull]: {
    de: 'Der Newsletter war voll; kommt im nächsten',
    en: 'The digest was full; goes in the next one',
  },
  [Reason.DeferredBudget]: {
    de: 'Der Absender hat sein Kontingent an Ihren Mails ausgeschöpft; kommt im nächsten Newsletter',
    en: 'The sender used up its share of your mails; goes in the next digest',
  },
  [Reason.Expired]: { de: 'Nicht mehr aktuell, verworfen', en: 'No longer relevant, expired' },
  [Reason.SuppressedNotSubscribed]: { de: 'Thema nicht abonniert', en: 'Not subscribed to the topic' },
  [Reason.SuppressedUnconfirmed]: { de: 'Anmeldung noch nicht bestätigt', en: 'Subscription not confirmed yet' },
  [Reason.SuppressedPaused]: { de: 'Empfang pausiert', en: 'Paused by the customer' },
  [Reason.SuppressedUnsubscribed]: { de: 'Abgemeldet', en: 'Unsubscribed' },
  [Reason.SuppressedBounced]: { de: 'Adresse unzustellbar', en: 'Address bounced' },
  [Reason.SuppressedComplained]: { de: 'Als Spam gemeldet', en: 'Marked as spam' },
  [Reason.SuppressedErased]: { de: 'Adresse einer gelöschten Person', en: 'Address of an erased person' },
  [Reason.SuppressedAudience]: { de: 'Gehört nicht zur Zielgruppe', en: 'Not in the audience' },
  [Reason.SuppressedDuplicate]: { de: 'Bereits erhalten', en: 'Received already' },
  [Reason.QueuedQuietHours]: { de: 'Wartet auf das Ende der Ruhezeit', en: 'Waiting for the end of quiet hours' },
  [Reason.QueuedSettling]: {
    de: 'Wartet kurz, bis der Paketstatus feststeht',
    en: 'Held briefly until the parcel’s status settles',
  },
  [Reason.SuppressedEmpty]: { de: 'Nichts Neues, kein Newsletter', en: 'Nothing new, no digest' },
  [Reason.SuppressedCancelled]: { de: 'Versand abgebrochen', en: 'Sending cancelled' },
  [Reason.AlreadyDelivered]: { de: 'Paket bereits zugestellt', en: 'Parcel already delivered' },
  [Reason.Superseded]: { de: 'Durch eine neuere Nachricht ersetzt', en: 'Replaced by a newer message' },
  [Reason.FailedPermanent]: { de: 'Dauerhaft abgelehnt', en: 'Permanently rejected' },
  [Reason.FailedBounced]: { de: 'Unzustellbar (Hard Bounce)', en: 'Hard bounce' },
  [Reason.FailedRetriesExhausted]: { de: 'Zu viele vorübergehende Fehler', en: 'Too many temporary failures' },
};

/**
 * Values older versions stored, read as the reason they mean now: rows written before a rename
 * (the migration HonestStates rewrites the ones still waiting) or by an instance not yet upgraded.
 */
export const LEGACY_REASONS: Readonly<Record<string, Reason>> = {
  suppressed_quiet_hours: Reason.QueuedQuietHours,
};

/** A stored reason as it reads today. */
export function readReason(stored: string): string {
  return Object.hasOwn(LEGACY_REASONS, stored) ? LEGACY_REASONS[stored] : stored;
}

/** Why no marketing mail can reach a customer at all (timeline, preferences page): not a decision about one mail. */
export type NoMarketingReason = 'unsubscribed' | 'bounced' | 'complained' | 'pending' | 'no_confirmed_topic' | 'paused';

export const NO_MARKETING_LABELS: Record<NoMarketingReason, { de: string; en: string }> = {
  unsubscribed: { de: 'Abgemeldet: keine Newsletter mehr', en: 'Unsubscribed: no more newsletters' },
  bounced: { de: 'Adresse unzustellbar: keine Mails mehr', en: 'The address bounced: no more mail' },
  complained: { de: 'Als Spam gemeldet: keine Newsletter mehr', en: 'Marked a mail as spam: no more newsletters' },
  pending: { de: 'Anmeldung noch nicht bestätigt', en: 'Has not confirmed the sign-up yet' },
  no_confirmed_topic: { de: 'Kein bestätigtes Thema', en: 'No confirmed topic' },
  paused: { de: 'Pausiert', en: 'Paused' },
};

export const DELIVERY_STATUSES = ['queued', 'sending', 'sent', 'deferred', 'suppressed', 'expired', 'failed', 'unknown'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const MESSAGE_CLASSES = ['marketing', 'service', 'transactional'] as const;
export type MessageClass = (typeof MESSAGE_CLASSES)[number];
