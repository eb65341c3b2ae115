// The mail transport port and its two real drivers: pooled SMTP (nodemailer) for production, and
// .eml files in a folder when no SMTP_URL is configured, so `npm start` works on a fresh machine.
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { createTransport } from 'nodemailer';
import type { SendMailOptions, Transporter } from 'nodemailer';
import { DkimSigner } from './dkim';
import { MimeTreeNode, writeTreeAtOnce } from './mime-tree';
import { classifySmtpError, type SendOutcome, type SmtpErrorLike } from './smtp-outcome.policy';

export interface OutgoingMail {
  /** Full '<id@domain>': deterministic per delivery, set by the caller. */
  messageId: string;
  from: string;
  to: string;
  /**
   * The SMTP envelope sender (MAIL FROM): where bounces go, e.g. a VERP address. Unset: the
   * address of `from`. The receiving MTA records it as Return-Path; we never write that header.
   */
  envelopeFrom?: string;
  replyTo?: string;
  subject: string;
  html: string;
  text: string;
  /** E.g. List-Unsubscribe, List-Unsubscribe-Post, List-Id, Feedback-ID, X-Tactful-Delivery. */
  headers: Record<string, string>;
  /** The Date header: the hand-over time by the service clock (virtual in tests). */
  date?: Date;
  /** `method` (e.g. REQUEST) marks a text/calendar invitation. */
  attachments?: { filename: string; content: string | Buffer; contentType: string; method?: string }[];
}

export abstract class MailTransport {
  /** Never throws for SMTP-level problems; throws only for programming errors (unsafe headers). */
  abstract send(mail: OutgoingMail): Promise<SendOutcome>;
  /** Waits for sends in flight, then releases connections. */
  abstract close(): Promise<void>;
  /** Where mail goes, for logs and /health; never contains credentials. */
  abstract readonly description: string;
}

/** A programming error: a value that would inject header lines or break the message. */
export class UnsafeMailError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeMailError';
  }
}

// RFC 5322 field-name: printable US-ASCII except the colon.
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
// id-left "@" id-right in angle brackets; no whitespace, no nested brackets.
const MESSAGE_ID = /^<[^<>\s@]+@[^<>\s@]+>$/;
// Headers nodemailer writes from the structured fields; a second copy in `headers` would either
// be dropped or give the message two of them, so passing one there is a mistake.
const RESERVED_HEADERS = new Set([
  'message-id',
  'from',
  'to',
  'cc',
  'bcc',
  'reply-to',
  'subject',
  'date',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
]);

/** Throws when a header would let its value start a new header line (CR/LF injection). */
export function assertSafeHeader(name: string, value: string): void {
  if (!HEADER_NAME.test(name)) {
    throw new UnsafeMailError(`Invalid mail header name ${JSON.stringify(name)}`);
  }
  if (/[\r\n\0]/.test(value)) {
    throw new UnsafeMailError(`Mail header ${name} contains CR, LF or NUL: ${JSON.stringify(value)}`);
  }
}

/** Checks every caller-supplied value that ends up in the header block. */
export function assertSafeMail(mail: OutgoingMail): void {
  if (!MESSAGE_ID.test(mail.messageId)) {
    throw new UnsafeMailError(`Message-ID must look like <id@domain>, got ${JSON.stringify(mail.messageId)}`);
  }
  assertSafeHeader('From', mail.from);
  assertSafeHeader('To', mail.to);
  if (mail.envelopeFrom !== undefined && !/^[^\s<>@]+@[^\s<>@]+$/.test(mail.envelopeFrom)) {
    throw new UnsafeMailError(`The envelope sender must be a bare address, got ${JSON.stringify(mail.envelopeFrom)}`);
  }
  if (mail.replyTo !== undefined) assertSafeHeader('Reply-To', mail.replyTo);
  assertSafeHeader('Subject', mail.subject);
  for (const [name, value] of Object.entries(mail.headers)) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new UnsafeMailError(`Mail header ${name} must be set through its OutgoingMail field, not headers`);
    }
    assertSafeHeader(name, value);
  }
  for (const attachment of mail.attachments ?? []) {
    assertSafeHeader('Content-Type', attachment.contentType);
    assertSafeHeader('Content-Disposition', attachment.filename);
    if (attachment.method !== undefined && !/^[A-Za-z-]+$/.test(attachment.method)) {
      throw new UnsafeMailError(`Calendar method must be a token, got ${JSON.stringify(attachment.method)}`);
    }
  }
}

/** Maps the port's mail to nodemailer message options; file and URL access stay off. */
export function toNodemailerMessage(mail: OutgoingMail): SendMailOptions {
  const attachments: NonNullable<SendMailOptions['attachments']> = [];
  const alternatives: NonNullable<SendMailOptions['alternatives']> = [];
  for (const attachment of mail.attachments ?? []) {
    if (attachment.method !== undefined) {
      if (alternatives.length) throw new UnsafeMailError('A mail can carry only one calendar invitation (attachment with method)');
      // An invitation travels twice, both times as text/calendar with its iTIP method (RFC 6047):
      // in the multipart/alternative, where Outlook and Thunderbird show their accept/decline
      // buttons, and as the .ics file for everyone else. nodemailer's own icalEvent would label
      // the file application/ics, which no calendar registers for.
      const contentType = `text/calendar; charset=utf-8; method=${attachment.method.toUpperCase()}`;
      alternatives.push({ contentType, content: attachment.content });
      attachments.push({ filename: attachment.filename, content: attachment.content, contentType });
      continue;
    }
    attachments.push({ filename: attachment.filename, content: attachment.content, contentType: attachment.contentType });
  }
  return {
    messageId: mail.messageId,
    from: mail.from,
    to: mail.to,
    ...(mail.envelopeFrom !== undefined ? { envelope: { from: mail.envelopeFrom, to: mail.to } } : {}),
    ...(mail.replyTo !== undefined ? { replyTo: mail.replyTo } : {}),
    ...(mail.date !== undefined ? { date: mail.date } : {}),
    subject: mail.subject,
    html: mail.html,
    text: mail.text,
    headers: { ...mail.headers },
    ...(attachments.length ? { attachments } : {}),
    ...(alternatives.length ? { alternatives } : {}),
    disableFileAccess: true,
    disableUrlAccess: true,
    // Without it nodemailer scans every text part and header value character by character to
    // choose between quoted-printable and base64 (≈ 10 % of a send's CPU). Our parts are mostly
    // Latin text, for which it picks quoted-printable anyway; any other text stays valid QP.
    textEncoding: 'quoted-printable',
  };
}

export interface SmtpMailTransportOptions {
  /** smtp://[user:pass@]host[:port] or smtps://… (implicit TLS). */
  url: string;
  /** Pooled connections (default) or one connection per mail. */
  pool?: boolean;
  /** Pool size; ignored without pool. Default 5. */
  maxConnections?: number;
  /** Mails per second across the pool, 0 = unlimited. nodemailer enforces it only when pooled. */
  ratePerSecond?: number;
  /** Verify the server certificate (default true); false for self-signed test relays. */
  rejectUnauthorized?: boolean;
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  /** Inactivity limit on an open connection, including the wait for the reply to the final dot. */
  socketTimeoutMs?: number;
  /** Sign every message with this key (the relay then must not be relied on to sign). */
  dkim?: DkimSigner;
}

/** Per-send state that the stream plugin below fills in; travels in the nodemailer mail data. */
interface SendTracker {
  dataSent: boolean;
}
const TRACKER_KEY = 'tactfulSendTracker';
type TrackedMessage = SendMailOptions & { [TRACKER_KEY]: SendTracker };

interface ParsedSmtpUrl {
  secure: boolean;
  host: string;
  port: number;
  user?: string;
  pass?: string;
}

function parseSmtpUrl(url: string): ParsedSmtpUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('SMTP_URL is not a valid URL (expected smtp://host:port or smtps://host:port)');
  }
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') {
    throw new Error(`SMTP_URL must use smtp: or smtps:, got ${parsed.protocol}`);
  }
  const secure = parsed.protocol === 'smtps:';
  // URL keeps IPv6 literals bracketed; the socket wants them bare.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new Error('SMTP_URL has no host');
  return {
    secure,
    host,
    port: parsed.port ? Number(parsed.port) : secure ? 465 : 587,
    ...(parsed.username ? { user: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { pass: decodeURIComponent(parsed.password) } : {}),
  };
}

export class SmtpMailTransport extends MailTransport {
  readonly description: string;
  private readonly transporter: Transporter;
  private readonly inFlight = new Set<Promise<SendOutcome>>();
  private closed = false;

  constructor(options: SmtpMailTransportOptions) {
    super();
    const target = parseSmtpUrl(options.url);
    const pool = options.pool ?? true;
    const maxConnections = Math.max(1, options.maxConnections ?? 5);
    const rate = Math.max(0, options.ratePerSecond ?? 0);
    this.description =
      `${target.secure ? 'smtps' : 'smtp'}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}` +
      (pool ? ` (pooled, ${maxConnections} connections${rate > 0 ? `, ${rate}/s` : ''})` : ' (one connection per mail)');

    this.transporter = createTransport({
      host: target.host,
      port: target.port,
      secure: target.secure,
      ...(target.user !== undefined ? { auth: { user: target.user, pass: target.pass ?? '' } } : {}),
      tls: { rejectUnauthorized: options.rejectUnauthorized ?? true },
      // nodemailer waits 2 min / 30 s / 10 min by default; a worker holding a claimed row
      // should learn sooner that the relay is gone.
      connectionTimeout: options.connectionTimeoutMs ?? 10_000,
      greetingTimeout: options.greetingTimeoutMs ?? 10_000,
      socketTimeout: options.socketTimeoutMs ?? 60_000,
      disableFileAccess: true,
      disableUrlAccess: true,
      ...(pool
        ? {
            pool: true as const,
            maxConnections,
            // Reconnecting every 100 mails (the default) costs a handshake for nothing.
            maxMessages: Infinity,
            ...(rate > 0 ? { rateDelta: 1000, rateLimit: rate } : {}),
          }
        : {}),
    });

    // The pool and the plain transport both read the message through createReadStream(), and
    // the stream's 'end' fires once the DATA stream took its last byte (the dot follows at
    // once). That is the only place the "was the message handed over?" fact exists; see
    // smtp-outcome.policy.ts. nodemailer's own DKIM option would add a later processFunc that
    // buffers the whole message and makes 'end' fire too early: gathered() signs instead.
    const dkim = options.dkim;
    this.transporter.use('stream', (message, done) => {
      writeTreeAtOnce(message.message as unknown as MimeTreeNode);
      message.message.processFunc((input) => gathered(input, dkim));
      const tracker = (message.data as Partial<TrackedMessage>)[TRACKER_KEY];
      if (tracker) {
        message.message.processFunc((input) => {
          input.once('end', () => {
            tracker.dataSent = true;
          });
          return input;
        });
      }
      done();
    });
  }

  async send(mail: OutgoingMail): Promise<SendOutcome> {
    if (this.closed) throw new Error(`Mail transport ${this.description} is closed`);
    assertSafeMail(mail);
    const tracker: SendTracker = { dataSent: false };
    const message: TrackedMessage = { ...toNodemailerMessage(mail), baseBoundary: nextBaseBoundary(), [TRACKER_KEY]: tracker };
    const attempt = this.transporter.sendMail(message).then(
      (info: { response?: string }): SendOutcome => ({ status: 'sent', response: info.response ?? '250 OK' }),
      (error: SmtpErrorLike): SendOutcome => classifySmtpError({ ...pick(error), dataSent: tracker.dataSent }),
    );
    this.inFlight.add(attempt);
    try {
      return await attempt;
    } finally {
      this.inFlight.delete(attempt);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    this.transporter.close();
  }
}

/**
 * The message in chunks of 16 kB (a stream's default buffer). nodemailer's MIME tree (one that
 * writeTreeAtOnce left to it) streams every header line and part as a chunk of its own, and each
 * became a socket write (a system call):
 * ≈ 15 % of the worker's CPU in bench/send.js. Gathered, an 8 kB mail is one write. The slices
 * keep the back-pressure of a large message as it was: its last slice is read, and the tracker
 * above sees 'end', only once the DATA stream has taken what came before.
 */
const SLICE_BYTES = 16 * 1024;
function gathered(input: Readable, dkim?: DkimSigner): Readable {
  const chunks: Buffer[] = [];
  let whole: Buffer | undefined;
  let offset = 0;
  let waiting = false;
  const output = new Readable({
    read() {
      if (whole) pushSlice();
      else waiting = true;
    },
  });
  const pushSlice = () => {
    if (offset >= whole!.length) {
      output.push(null);
      return;
    }
    const slice = whole!.subarray(offset, offset + SLICE_BYTES);
    offset += slice.length;
    output.push(slice);
  };
  input.on('data', (chunk: Buffer | string) => chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
  input.once('end', () => {
    whole = Buffer.concat(chunks);
    if (dkim) {
      try {
        whole = Buffer.concat([Buffer.from(dkim.signature(whole, new Date()), 'latin1'), whole]);
      } catch (error) {
        output.destroy(error as Error);
        return;
      }
    }
    if (waiting) pushSlice();
  });
  input.once('error', (error) => output.destroy(error));
  return output;
}

/**
 * The random part of a mail's MIME boundaries, as nodemailer makes it (8 random bytes in hex),
 * from a pool filled 256 mails at a time: without it, nodemailer draws 8 bytes for every node of
 * the tree (three for a mail with a text and an HTML part), though only the root's are used.
 */
const BOUNDARY_BYTES = 8;
const boundaryPool = Buffer.alloc(BOUNDARY_BYTES * 256);
let boundaryOffset = boundaryPool.length;
function nextBaseBoundary(): string {
  if (boundaryOffset >= boundaryPool.length) {
    randomFillSync(boundaryPool);
    boundaryOffset = 0;
  }
  boundaryOffset += BOUNDARY_BYTES;
  return boundaryPool.toString('hex', boundaryOffset - BOUNDARY_BYTES, boundaryOffset);
}

/** Copies the fields the classifier reads; nodemailer errors are Error instances, not plain objects. */
function pick(error: SmtpErrorLike | undefined): SmtpErrorLike {
  if (!error) return {};
  return {
    code: error.code,
    responseCode: error.responseCode,
    response: error.response,
    command: error.command,
    message: error.message,
  };
}

export interface EmlFileTransportOptions {
  /** Folder for the .eml files; created when missing. */
  dir: string;
  dkim?: DkimSigner;
}

/** Writes each mail as an RFC 5322 .eml file named after its Message-ID. */
export class EmlFileTransport extends MailTransport {
  readonly description: string;
  private readonly dir: string;
  private readonly composer: Transporter;
  private readonly dkim: DkimSigner | undefined;

  constructor(options: EmlFileTransportOptions) {
    super();
    this.dir = resolve(options.dir);
    this.dkim = options.dkim;
    this.description = `.eml files in ${this.dir}`;
    // CRLF line ends: the canonical form on the wire, and what mail clients expect in .eml.
    this.composer = createTransport({
      streamTransport: true,
      buffer: true,
      newline: 'windows',
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    this.composer.use('stream', (message, done) => {
      writeTreeAtOnce(message.message as unknown as MimeTreeNode);
      done();
    });
  }

  /** Same Message-ID, same file: re-sending a delivery overwrites instead of duplicating. */
  fileNameFor(messageId: string): string {
    const readable = messageId
      .replace(/^<|>$/g, '')
      .replace(/[^A-Za-z0-9._@+-]/g, '_')
      .slice(0, 150);
    // Sanitising can map two ids to one name; the hash of the exact id keeps them apart.
    const hash = createHash('sha256').update(messageId).digest('hex').slice(0, 12);
    return `${readable}.${hash}.eml`;
  }

  async send(mail: OutgoingMail): Promise<SendOutcome> {
    assertSafeMail(mail);
    const composed = (await this.composer.sendMail(toNodemailerMessage(mail))) as { message: Buffer };
    const message = this.dkim ? Buffer.concat([Buffer.from(this.dkim.signature(composed.message, new Date()), 'latin1'), composed.message]) : composed.message;
    const target = join(this.dir, this.fileNameFor(mail.messageId));
    // Same folder, so the rename is atomic: a reader sees no file or the whole file, never half.
    const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(temp, message);
      await rename(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      // A full disk or a missing permission is this driver's "relay unavailable": the outbox
      // retries and eventually gives up, instead of a worker crashing on it.
      return { status: 'retry', response: `451 4.3.0 could not write ${target}: ${(error as Error).message}` };
    }
    return { status: 'sent', response: `250 written ${target}` };
  }

  async close(): Promise<void> {
    this.composer.close();
  }
}

export interface MailTransportConfig {
  /** Unset or empty: write .eml files to outboxDir instead of sending. */
  smtpUrl?: string;
  dkim?: DkimSigner;
  outboxDir: string;
  maxConnections: number;
  ratePerSecond: number;
  pool?: boolean;
  rejectUnauthorized?: boolean;
}

export function createMailTransport(options: MailTransportConfig): MailTransport {
  if (options.smtpUrl) {
    return new SmtpMailTransport({
      url: options.smtpUrl,
      pool: options.pool ?? true,
      maxConnections: options.maxConnections,
      ratePerSecond: options.ratePerSecond,
      ...(options.dkim ? { dkim: options.dkim } : {}),
      ...(options.rejectUnauthorized !== undefined ? { rejectUnauthorized: options.rejectUnauthorized } : {}),
    });
  }
  return new EmlFileTransport({ dir: options.outboxDir, ...(options.dkim ? { dkim: options.dkim } : {}) });
}
