// The mail providers' webhooks, each read in its own format and verified as the provider signs it:
//   - Amazon SES through SNS: RSA signature (SignatureVersion 1: SHA1, 2: SHA256) over the
//     documented string to sign, with the certificate at SigningCertURL, which must be https on
//     sns.<region>.amazonaws.com; the topic must be one of SES_SNS_TOPIC_ARNS;
//   - SendGrid's Signed Event Webhook: ECDSA P-256 over `<timestamp><raw body>`;
//   - Postmark: HTTP basic auth (the credentials set in the webhook URL), compared in constant time;
//   - Mailgun: HMAC-SHA256 of `<timestamp><token>` with the webhook signing key.
// Pure apart from the clock: verification answers why not, mapping turns a verified body into
// mail events with their replay keys. The controller (provider-webhooks.controller.ts) glues them.
import { createHmac, createVerify, timingSafeEqual, X509Certificate } from 'node:crypto';
import { sendgridKeyObject } from '../../config/config';
import { DeliveryReferences } from '../../delivery/delivery-reference';
import { bounceClass, MailEventKind } from '../mail-event.policy';
import { InboundMailEvent, REPLAY_RETENTION_MS } from '../mail-events.service';

/** How far a signed timestamp may be from now (SendGrid, Mailgun), as for Tactful's own webhooks. */
export const PROVIDER_TOLERANCE_SECONDS = 300;

export type Verdict = { ok: true } | { ok: false; status: 401 | 403; reason: string };

const refuse = (status: 401 | 403, reason: string): Verdict => ({ ok: false, status, reason });
const OK: Verdict = { ok: true };

const equalSecrets = (a: string, b: string): boolean => {
  // Hashed first: equal lengths for timingSafeEqual, and the length of the secret does not leak.
  const digest = (s: string) => createHmac('sha256', 'tactful:compare').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
};

/**
 * A provider's JSON as parsed: untrusted, of any shape. Read only through str(), asDate(),
 * Array.isArray() and comparisons, which check each value where it is used; nothing passes it on
 * as it is. (The one `any` in src/: typing every provider's documented payload buys nothing that
 * these checks do not already give.)
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type Untrusted = any;

const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

const asDate = (value: unknown): Date | null => {
  const date = typeof value === 'number' ? new Date(value * 1000) : typeof value === 'string' ? new Date(value) : null;
  return date && !Number.isNaN(date.getTime()) ? date : null;
};

// ---- Amazon SES via SNS ------------------------------------------------------------------------

/** The SNS message fields in the order of the string to sign, by message type (SNS developer guide). */
const SIGNED_FIELDS: Record<string, string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

export function snsStringToSign(message: Record<string, unknown>): string | null {
  const fields = SIGNED_FIELDS[String(message.Type)];
  if (!fields) return null;
  let text = '';
  for (const field of fields) {
    const value = message[field];
    if (value === undefined && field === 'Subject') continue; // only when present
    if (typeof value !== 'string') return null;
    text += `${field}\n${value}\n`;
  }
  return text;
}

const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

/**
 * May Tactful fetch this URL on SNS's word (SigningCertURL, SubscribeURL)? https on an SNS host
 * only; in tests also the hosts of SNS_TEST_HOSTS (local servers, http allowed there).
 */
export function snsUrlAllowed(value: unknown, testHosts: readonly string[]): URL | null {
  if (typeof value !== 'string') return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.username || url.password) return null;
  if (url.protocol === 'https:' && SNS_HOST.test(url.hostname) && url.port === '') return url;
  if (testHosts.includes(url.host) && (url.protocol === 'https:' || url.protocol === 'http:')) return url;
  return null;
}

/** The certificate URL must name a .pem on an SNS host (the path SNS uses). */
export function snsCertificateUrl(value: unknown, testHosts: readonly string[]): URL | null {
  const url = snsUrlAllowed(value, testHosts);
  return url && /^\/SimpleNotificationService-[A-Za-z0-9]+\.pem$/.test(url.pathname) && url.search === '' ? url : null;
}

export interface SnsCheck {
  message: Record<string, unknown>;
  topicArns: readonly string[];
  testHosts: readonly string[];
  now: Date;
  /** The PEM certificate at SigningCertURL (fetched and cached by the caller). */
  certificate: (url: URL) => Promise<string>;
}

export async function verifySns({ message, topicArns, testHosts, now, certificate }: SnsCheck): Promise<Verdict> {
  if (topicArns.length === 0) return refuse(403, 'SES via SNS is not configured (SES_SNS_TOPIC_ARNS)');
  const toSign = snsStringToSign(message);
  if (!toSign) return refuse(401, 'not an SNS message (Type, or a signed field, missing)');
  const version = String(message.SignatureVersion);
  if (version !== '1' && version !== '2') return refuse(401, `unsupported SignatureVersion ${version}`);
  const certUrl = snsCertificateUrl(message.SigningCertURL, testHosts);
  if (!certUrl) return refuse(401, 'SigningCertURL is not an https URL of sns.<region>.amazonaws.com');
  const signature = str(message.Signature);
  if (!signature) return refuse(401, 'missing Signature');
  let pem: string;
  try {
    pem = await certificate(certUrl);
  } catch {
    return refuse(401, 'the signing certificate could not be fetched');
  }
  let valid = false;
  try {
    const cert = new X509Certificate(pem);
    if (new Date(cert.validFrom) > now || new Date(cert.validTo) < now) return refuse(401, 'the signing certificate is not valid now');
    valid = createVerify(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
      .update(toSign, 'utf8')
      .verify(cert.publicKey, signature, 'base64');
  } catch {
    valid = false;
  }
  if (!valid) return refuse(401, 'signature does not match');
  // Checked after the signature: an unsigned request learns nothing about the configuration.
  if (!topicArns.includes(String(message.TopicArn))) return refuse(403, 'the topic is not one of SES_SNS_TOPIC_ARNS');
  const sent = asDate(message.Timestamp);
  if (!sent || now.getTime() - sent.getTime() > REPLAY_RETENTION_MS || sent.getTime() - now.getTime() > PROVIDER_TOLERANCE_SECONDS * 1000) {
    return refuse(401, 'stale or future Timestamp');
  }
  return OK;
}

/** The headers of the original mail SES includes (when "include original headers" is on). */
function sesHeader(mail: Untrusted, name: string): string | null {
  const headers = Array.isArray(mail?.headers) ? mail.headers : [];
  const found = headers.find((h: Untrusted) => typeof h?.name === 'string' && h.name.toLowerCase() === name.toLowerCase());
  return str(found?.value);
}

/** SES's Bounce or Complaint notification (or event: `eventType`) as mail events. */
export function sesEvents(snsMessageId: string, message: string, references: DeliveryReferences): InboundMailEvent[] {
  let body: Untrusted;
  try {
    body = JSON.parse(message);
  } catch {
    return [];
  }
  const type = body?.notificationType ?? body?.eventType;
  const mail = body?.mail ?? {};
  const reference = sesHeader(mail, 'X-Tactful-Delivery');
  const common = {
    deliveryId: reference ? references.decode(reference) : null,
    messageId: sesHeader(mail, 'Message-ID'),
    providerEventId: str(body?.bounce?.feedbackId ?? body?.complaint?.feedbackId) ?? snsMessageId,
  };
  if (type === 'Bounce') {
    const bounce = body.bounce ?? {};
    const permanent = bounce.bounceType === 'Permanent';
    return (Array.isArray(bounce.bouncedRecipients) ? bounce.bouncedRecipients : []).map((r: Untrusted, i: number) => ({
      ...common,
      source: 'ses' as const,
      kind: (permanent ? 'hard_bounce' : 'soft_bounce') as MailEventKind,
      replayKey: { source: 'ses', id: `${snsMessageId}#${i}` },
      recipient: str(r?.emailAddress),
      statusCode: str(r?.status) ?? `${bounce.bounceType ?? 'Undetermined'}/${bounce.bounceSubType ?? 'General'}`,
      diagnostic: str(r?.diagnosticCode) ?? `SES ${bounce.bounceType}/${bounce.bounceSubType}`,
      occurredAt: asDate(bounce.timestamp),
    }));
  }
  if (type === 'Complaint') {
    const complaint = body.complaint ?? {};
    if (complaint.complaintFeedbackType === 'not-spam') return [];
    return (Array.isArray(complaint.complainedRecipients) ? complaint.complainedRecipients : []).map((r: Untrusted, i: number) => ({
      ...common,
      source: 'ses' as const,
      kind: 'complaint' as const,
      replayKey: { source: 'ses', id: `${snsMessageId}#${i}` },
      recipient: str(r?.emailAddress),
      statusCode: str(complaint.complaintFeedbackType) ?? 'abuse',
      diagnostic: str(complaint.userAgent) ? `SES complaint via ${complaint.userAgent}` : 'SES complaint',
      occurredAt: asDate(complaint.timestamp),
    }));
  }
  return []; // Delivery, Send, Open, …: nothing to act on
}

// ---- SendGrid ----------------------------------------------------------------------------------

export const SENDGRID_SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
export const SENDGRID_TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';

export function verifySendgrid(
  publicKey: string | undefined,
  signature: string | undefined,
  timestamp: string | undefined,
  rawBody: string,
  now: Date,
): Verdict {
  if (!publicKey) return refuse(403, 'SendGrid is not configured (SENDGRID_WEBHOOK_PUBLIC_KEY)');
  if (!signature || !timestamp) return refuse(401, `missing ${SENDGRID_SIGNATURE_HEADER} or ${SENDGRID_TIMESTAMP_HEADER}`);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now.getTime() / 1000 - Number(timestamp)) > PROVIDER_TOLERANCE_SECONDS) {
    return refuse(401, `timestamp outside the ${PROVIDER_TOLERANCE_SECONDS} s window (replay or clock skew)`);
  }
  let valid = false;
  try {
    valid = createVerify('sha256')
      .update(timestamp + rawBody, 'utf8')
      .verify(sendgridKeyObject(publicKey), Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  return valid ? OK : refuse(401, 'signature does not match');
}

const SENDGRID_KINDS: Record<string, MailEventKind> = {
  spamreport: 'complaint',
  unsubscribe: 'unsubscribe',
  group_unsubscribe: 'unsubscribe',
  deferred: 'delayed',
};

/** SendGrid's event batch as mail events (delivered, open, click, processed, dropped: nothing to act on). */
export function sendgridEvents(body: unknown): InboundMailEvent[] {
  if (!Array.isArray(body)) return [];
  return body.flatMap((e: Untrusted, i: number): InboundMailEvent[] => {
    const name = str(e?.event);
    if (!name) return [];
    let kind = SENDGRID_KINDS[name];
    // `type` tells a bounce (permanent) from a block (temporary); the status code agrees.
    if (name === 'bounce') kind = e.type === 'blocked' || bounceClass(str(e.status)) === 'soft' ? 'soft_bounce' : 'hard_bounce';
    if (!kind) return [];
    const id = str(e.sg_event_id) ?? `${str(e.sg_message_id) ?? 'none'}:${name}:${e.timestamp}:${i}`;
    return [
      {
        source: 'sendgrid',
        kind,
        replayKey: { source: 'sendgrid', id },
        recipient: str(e.email),
        messageId: str(e['smtp-id']),
        statusCode: str(e.status) ?? (name === 'spamreport' ? 'abuse' : null),
        diagnostic: str(e.reason) ?? str(e.response) ?? (kind === 'unsubscribe' ? `SendGrid ${name}` : null),
        providerEventId: str(e.sg_event_id),
        occurredAt: asDate(e.timestamp),
      },
    ];
  });
}

// ---- Postmark ----------------------------------------------------------------------------------

export function verifyPostmark(user: string | undefined, password: string | undefined, authorization: string | undefined): Verdict {
  if (!user || !password) return refuse(403, 'Postmark is not configured (POSTMARK_WEBHOOK_USER, POSTMARK_WEBHOOK_PASSWORD)');
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!match) return refuse(401, 'missing basic auth credentials');
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const given = colon < 0 ? { user: decoded, password: '' } : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  // Both compared, always: the answer's timing says nothing about which one was wrong.
  const userOk = equalSecrets(given.user, user);
  const passwordOk = equalSecrets(given.password, password);
  return userOk && passwordOk ? OK : refuse(401, 'wrong basic auth credentials');
}

const POSTMARK_BOUNCE_KINDS: Record<string, MailEventKind> = {
  HardBounce: 'hard_bounce',
  BadEmailAddress: 'hard_bounce',
  SoftBounce: 'soft_bounce',
  Transient: 'soft_bounce',
  DnsError: 'soft_bounce',
  SpamComplaint: 'complaint',
  Unsubscribe: 'unsubscribe',
};

/** Postmark's Bounce, SpamComplaint or SubscriptionChange webhook as mail events; stale ones are `stale`. */
export function postmarkEvents(body: Untrusted, now: Date): InboundMailEvent[] | 'stale' {
  const record = str(body?.RecordType);
  let event: InboundMailEvent | null = null;
  if (record === 'Bounce' || record === 'SpamComplaint') {
    const kind = record === 'SpamComplaint' ? 'complaint' : POSTMARK_BOUNCE_KINDS[String(body.Type)];
    if (!kind) return [];
    event = {
      source: 'postmark',
      kind,
      replayKey: { source: 'postmark', id: `${record}:${body.ID ?? body.MessageID}` },
      recipient: str(body.Email),
      statusCode: str(body.Type) ? `${body.Type}${body.TypeCode !== undefined ? ` (${body.TypeCode})` : ''}` : null,
      diagnostic: str(body.Details) ?? str(body.Description),
      providerEventId: body.ID !== undefined ? String(body.ID) : str(body.MessageID),
      occurredAt: asDate(body.BouncedAt),
    };
  } else if (record === 'SubscriptionChange') {
    // A reactivation (SuppressSending false) gives no consent back: the person does that themselves.
    if (body.SuppressSending !== true) return [];
    const reason = str(body.SuppressionReason);
    const kind: MailEventKind | undefined =
      reason === 'HardBounce'
        ? 'hard_bounce'
        : reason === 'SpamComplaint'
          ? 'complaint'
          : reason === 'ManualSuppression' && body.Origin === 'Recipient'
            ? 'unsubscribe'
            : undefined;
    if (!kind) return [];
    event = {
      source: 'postmark',
      kind,
      replayKey: { source: 'postmark', id: `SubscriptionChange:${body.MessageID}:${body.Recipient}:${body.ChangedAt}` },
      recipient: str(body.Recipient),
      statusCode: reason,
      diagnostic: `Postmark suppression (${reason}, by ${str(body.Origin) ?? 'unknown'})`,
      providerEventId: str(body.MessageID),
      occurredAt: asDate(body.ChangedAt),
    };
  }
  if (!event) return [];
  if (event.occurredAt && now.getTime() - event.occurredAt.getTime() > REPLAY_RETENTION_MS) return 'stale';
  return [event];
}

// ---- Mailgun -----------------------------------------------------------------------------------

export function verifyMailgun(signingKey: string | undefined, signature: unknown, now: Date): Verdict {
  if (!signingKey) return refuse(403, 'Mailgun is not configured (MAILGUN_WEBHOOK_SIGNING_KEY)');
  const s = signature as { timestamp?: unknown; token?: unknown; signature?: unknown } | undefined;
  const timestamp = typeof s?.timestamp === 'number' ? String(s.timestamp) : s?.timestamp;
  if (typeof timestamp !== 'string' || typeof s?.token !== 'string' || typeof s?.signature !== 'string' || !/^[0-9a-f]{64}$/i.test(s.signature)) {
    return refuse(401, 'missing or malformed signature {timestamp, token, signature}');
  }
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now.getTime() / 1000 - Number(timestamp)) > PROVIDER_TOLERANCE_SECONDS) {
    return refuse(401, `timestamp outside the ${PROVIDER_TOLERANCE_SECONDS} s window (replay or clock skew)`);
  }
  const expected = createHmac('sha256', signingKey)
    .update(timestamp + s.token)
    .digest();
  return timingSafeEqual(expected, Buffer.from(s.signature, 'hex')) ? OK : refuse(401, 'signature does not match');
}

/** Mailgun's event-data as a mail event (delivered, opened, clicked, accepted: nothing to act on). */
export function mailgunEvents(body: Untrusted): InboundMailEvent[] {
  const data = body?.['event-data'];
  const name = str(data?.event);
  const kind: MailEventKind | undefined =
    name === 'failed'
      ? data.severity === 'temporary'
        ? 'soft_bounce'
        : 'hard_bounce'
      : name === 'complained'
        ? 'complaint'
        : name === 'unsubscribed'
          ? 'unsubscribe'
          : undefined;
  if (!kind) return [];
  const status = data['delivery-status'] ?? {};
  return [
    {
      source: 'mailgun',
      kind,
      // The token is refused a second time by the controller; the event id guards a re-signed repeat.
      replayKey: { source: 'mailgun', id: str(data.id) ?? String(body?.signature?.token) },
      recipient: str(data.recipient),
      messageId: str(data.message?.headers?.['message-id']),
      statusCode: str(status['enhanced-code']) ?? (status.code !== undefined ? String(status.code) : null) ?? (kind === 'complaint' ? 'abuse' : null),
      diagnostic: str(status.description) ?? str(status.message) ?? str(data.reason),
      providerEventId: str(data.id),
      occurredAt: asDate(data.timestamp),
    },
  ];
}
