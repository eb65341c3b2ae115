// Reads one mail that arrived at a bounce or unsubscribe address into mail events:
//   - a delivery status notification (RFC 3464: multipart/report; report-type=delivery-status):
//     one event per recipient block whose Action is failed (Status 5.x.x hard, 4.x.x soft) or delayed;
//   - a complaint feedback report (RFC 5965: multipart/report; report-type=feedback-report);
//   - a mail to the List-Unsubscribe mailto, with the signed token in the address or the subject.
// What the mail is about is taken, strongest first, from the VERP address it was sent to (signed),
// the X-Tactful-Delivery header of the returned mail (sealed), its Message-ID (unguessable), and
// and the recipient's address only with a signed clue (the VERP address, the sealed reference):
// otherwise anyone could bounce anyone by mailing a made-up DSN to the bounce domain.
import { simpleParser } from 'mailparser';
import { DeliveryReferences } from '../delivery/delivery-reference';
import { VerpCodec } from '../delivery/verp';
import { TokenSigner } from '../links/tokens';
import { dsnKind, MailEventKind } from './mail-event.policy';
import { bareAddress, InboundMailEvent } from './mail-events.service';
import { fieldGroups, header, MimePart, parseFields, parseMime, walk } from './mime';

export interface InboundAddresses {
  verp: VerpCodec | null;
  /** The bare bounce mailbox (`bounces@<bounce domain>`): feedback loops and MTAs that drop the tag. */
  bounceMailbox: string | null;
  /** The List-Unsubscribe mailto address, lower case. */
  unsubscribe: string;
}

export type Recipient = { kind: 'verp'; deliveryId: string } | { kind: 'bounce-mailbox' } | { kind: 'unsubscribe'; token: string | null };

/** Which of our addresses this is, or null (the receiver answers 550 at RCPT time). */
export function recipientOf(address: string, addresses: InboundAddresses): Recipient | null {
  const bare = bareAddress(address);
  if (!bare) return null;
  const claims = addresses.verp?.verify(bare);
  if (claims) return { kind: 'verp', deliveryId: claims.deliveryId };
  if (addresses.bounceMailbox && bare === addresses.bounceMailbox) return { kind: 'bounce-mailbox' };
  const [local, domain] = splitAddress(bare);
  const [ourLocal, ourDomain] = splitAddress(addresses.unsubscribe);
  if (domain !== ourDomain) return null;
  if (local === ourLocal) return { kind: 'unsubscribe', token: null };
  // `unsubscribe+<token>@…`: the token keeps its case (tokens are base64url), so read it from the original.
  if (local.startsWith(`${ourLocal}+`)) {
    const original = (/<([^<>]+)>/.exec(address)?.[1] ?? address).trim();
    return { kind: 'unsubscribe', token: original.slice(ourLocal.length + 1, original.lastIndexOf('@')) };
  }
  return null;
}

const splitAddress = (address: string): [string, string] => {
  const at = address.lastIndexOf('@');
  return [address.slice(0, at).toLowerCase(), address.slice(at + 1).toLowerCase()];
};

export interface ReadContext {
  addresses: InboundAddresses;
  references: DeliveryReferences;
  tokens: TokenSigner;
}

/** What the reader found: the events, and in words why there are none, for the log. */
export interface InboundReading {
  type: 'dsn' | 'arf' | 'unsubscribe' | 'other';
  events: InboundMailEvent[];
  note?: string;
}

// No look-behind: the subject is `unsubscribe-<token>`, and a key id may itself hold `-`.
const TOKEN_IN_TEXT = /([A-Za-z0-9_-]{4}\.[A-Za-z0-9_-]{22,}\.[A-Za-z0-9_-]{27})(?![A-Za-z0-9_-])/g;

/** The headers of the mail a report returns (message/rfc822, text/rfc822-headers, message/rfc822-headers). */
function returnedHeaders(root: MimePart): Map<string, string[]> | null {
  for (const part of walk(root)) {
    if (part === root) continue;
    if ((part.contentType === 'message/rfc822' || part.contentType === 'message/global') && part.parts[0]) return part.parts[0].headers;
    if (part.contentType === 'text/rfc822-headers' || part.contentType === 'message/rfc822-headers' || part.contentType === 'message/global-headers') {
      return parseFields(part.body.toString('latin1'));
    }
  }
  return null;
}

interface MailClues {
  deliveryId: string | null;
  messageId: string | null;
  /** A signed clue (VERP or the sealed reference) names the delivery: the address may be trusted too. */
  genuine: boolean;
}

function cluesOf(recipients: Recipient[], returned: Map<string, string[]> | null, report: Map<string, string[]> | null, context: ReadContext): MailClues {
  const viaVerp = recipients.find((r): r is { kind: 'verp'; deliveryId: string } => r.kind === 'verp');
  const messageId = (returned && header(returned, 'message-id')) || null;
  if (viaVerp) return { deliveryId: viaVerp.deliveryId, messageId, genuine: true };
  const reference = returned ? header(returned, 'x-tactful-delivery') : undefined;
  const fromReference = reference ? context.references.decode(reference.trim()) : null;
  // The returned mail's envelope sender (Return-Path, or the ARF's Original-Mail-From) is its VERP address.
  const envelopes = [returned && header(returned, 'return-path'), report && header(report, 'original-mail-from')].filter((v): v is string => !!v);
  const fromEnvelope = envelopes.map((e) => context.addresses.verp?.verify(bareAddress(e) ?? '')).find(Boolean);
  const deliveryId = fromReference ?? fromEnvelope?.deliveryId ?? null;
  return { deliveryId, messageId, genuine: deliveryId !== null };
}

function readDsn(root: MimePart, recipients: Recipient[], context: ReadContext): InboundReading {
  const status = [...walk(root)].find((p) => p.contentType === 'message/delivery-status' || p.contentType === 'message/global-delivery-status');
  if (!status) return { type: 'dsn', events: [], note: 'no message/delivery-status part' };
  const [perMessage, ...perRecipient] = fieldGroups(status.body);
  const clues = cluesOf(recipients, returnedHeaders(root), null, context);
  const arrival = perMessage && header(perMessage, 'arrival-date');
  const events: InboundMailEvent[] = [];
  for (const block of perRecipient) {
    const kind = dsnKind(header(block, 'action'), header(block, 'status'));
    if (!kind) continue;
    const recipient = bareAddress(header(block, 'original-recipient')) ?? bareAddress(header(block, 'final-recipient'));
    events.push({
      source: 'smtp-dsn',
      kind,
      deliveryId: clues.deliveryId,
      messageId: clues.messageId,
      // Without a signed clue the address stays out: with a made-up Message-ID that finds no mail,
      // it would otherwise be the fallback that names the victim.
      recipient: clues.genuine ? recipient : null,
      statusCode: header(block, 'status')?.split(/\s/)[0] ?? null,
      diagnostic: header(block, 'diagnostic-code') ?? null,
      occurredAt: dateOf(header(block, 'last-attempt-date') ?? arrival),
    });
  }
  return { type: 'dsn', events, note: events.length === 0 ? 'no failed or delayed recipient' : undefined };
}

function readArf(root: MimePart, recipients: Recipient[], context: ReadContext): InboundReading {
  const part = [...walk(root)].find((p) => p.contentType === 'message/feedback-report');
  if (!part) return { type: 'arf', events: [], note: 'no message/feedback-report part' };
  const report = parseFields(part.body.toString('latin1'));
  const type = (header(report, 'feedback-type') ?? '').trim().toLowerCase();
  // abuse is the complaint; `not-spam` and others (fraud, virus, auth-failure) are no consent signal.
  if (type !== 'abuse') return { type: 'arf', events: [], note: `feedback type ${type || 'missing'}` };
  const returned = returnedHeaders(root);
  const clues = cluesOf(recipients, returned, report, context);
  const recipient = bareAddress(header(report, 'original-rcpt-to')) ?? (returned ? bareAddress(header(returned, 'to')) : null);
  return {
    type: 'arf',
    events: [
      {
        source: 'arf',
        kind: 'complaint',
        deliveryId: clues.deliveryId,
        messageId: clues.messageId,
        recipient: clues.genuine ? recipient : null,
        statusCode: 'abuse',
        diagnostic:
          [header(report, 'user-agent'), header(report, 'reported-domain') && `reported domain ${header(report, 'reported-domain')}`]
            .filter(Boolean)
            .join('; ') || null,
        occurredAt: dateOf(header(report, 'arrival-date') ?? header(report, 'received-date')),
      },
    ],
  };
}

async function readUnsubscribe(raw: Buffer, recipients: Recipient[], context: ReadContext): Promise<InboundReading> {
  const candidates = recipients.flatMap((r) => (r.kind === 'unsubscribe' && r.token ? [r.token] : []));
  const parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true, maxHtmlLengthToParse: 0 });
  for (const match of (parsed.subject ?? '').matchAll(TOKEN_IN_TEXT)) candidates.push(match[1]);
  for (const token of candidates) {
    const subscriberId = context.tokens.verify('unsubscribe', token);
    if (subscriberId) {
      return {
        type: 'unsubscribe',
        events: [
          {
            source: 'mailto',
            kind: 'unsubscribe',
            subscriberId,
            messageId: null,
            statusCode: null,
            diagnostic: 'List-Unsubscribe mailto',
            occurredAt: parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : null,
          },
        ],
      };
    }
  }
  return { type: 'unsubscribe', events: [], note: candidates.length ? 'no valid unsubscribe token' : 'no unsubscribe token' };
}

const dateOf = (value: string | undefined): Date | null => {
  if (!value) return null;
  const date = new Date(value.replace(/\s*\([^)]*\)\s*$/, ''));
  return Number.isNaN(date.getTime()) ? null : date;
};

/** Reads one received mail; `rcptTo` are the recipients the receiver accepted for it. */
export async function readInboundMail(raw: Buffer, rcptTo: string[], context: ReadContext): Promise<InboundReading> {
  const recipients = rcptTo.map((r) => recipientOf(r, context.addresses)).filter((r): r is Recipient => r !== null);
  const root = parseMime(raw);
  const reportType = (root.params['report-type'] ?? '').toLowerCase();
  const report =
    root.contentType === 'multipart/report'
      ? reportType
      : [...walk(root)].find((p) => p.contentType === 'multipart/report')?.params['report-type']?.toLowerCase();
  if (report === 'delivery-status') return readDsn(root, recipients, context);
  if (report === 'feedback-report') return readArf(root, recipients, context);
  if (recipients.some((r) => r.kind === 'unsubscribe')) return readUnsubscribe(raw, recipients, context);
  return { type: 'other', events: [], note: 'not a report (an auto-reply, say)' };
}

export type { MailEventKind };
