// Turns a failed SMTP hand-over into what the outbox should do next (retry, bounce the customer,
// give up, or record that we cannot know). Pure: no I/O, exhaustively unit-tested.

/** What one SMTP hand-over came to (MailTransport.send answers it). */
export type SendOutcome =
  /** The server answered the final dot with 2xx. */
  | { status: 'sent'; response: string }
  /** 4xx, or the connection failed before the message was fully handed over: safe to send again. */
  | { status: 'retry'; response: string }
  /** 5.1.x and friends: the mailbox does not exist; a hard bounce. */
  | { status: 'bounce'; response: string }
  /** 5.7.x: refused for policy (spam, authentication, block list). */
  | { status: 'policy'; response: string }
  /** Any other permanent refusal. */
  | { status: 'failed'; response: string }
  /** The whole message was handed over but no reply came: it may or may not have been queued. */
  | { status: 'unknown'; response: string };

/**
 * The fields of a nodemailer error that matter here, plus one the transport adds.
 *
 * Nodemailer reports every dropped connection, socket error and timeout with `command: 'CONN'`,
 * whether it happened at the greeting, during RCPT or while we waited for the reply to the
 * final dot. `command: 'DATA'` only appears together with a server reply. So the error alone
 * cannot tell "nothing was delivered, retry is safe" from "the server has the whole message
 * and may have queued it": the transport watches the message stream and sets `dataSent`.
 */
export interface SmtpErrorLike {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message?: string;
  /** True once the whole message (up to the terminating dot) was handed to the socket. */
  dataSent?: boolean;
}

/** RFC 3463 enhanced status code, e.g. 5.1.1 -> { klass: 5, subject: 1, detail: 1 }. */
interface EnhancedStatus {
  klass: number;
  subject: number;
  detail: number;
}

// The enhanced code follows the basic code: "550 5.1.1 <x@y>: Recipient address rejected", or
// "550-5.1.1 ..." on the first line of a multi-line reply.
const ENHANCED_STATUS = /^\d{3}[ -]([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)/;

// Only used when a server sends no enhanced code: a short list of phrases real MTAs use for a
// missing mailbox or a spam block. Anything else stays a plain permanent failure, because
// marking a customer bounced on a guess suppresses all their future mail.
const MAILBOX_UNKNOWN_TEXT =
  /user unknown|unknown user|no such (user|mailbox|recipient)|does not exist|invalid (recipient|mailbox)|recipient (address )?(rejected|unknown|not found)/i;
const POLICY_TEXT = /spam|blocked|block ?list|black ?list|policy|reputation|dmarc|spf|dkim/i;

// Errors raised before any byte reached the server (or instead of a server reply) that are
// about our own configuration or message, not the network: retrying the same mail fails again.
const CLIENT_PERMANENT_CODES = new Set([
  'EENVELOPE', // client-side envelope check: no recipient, an address nodemailer refuses
  'EMESSAGE', // message larger than the SIZE the server announced
  'EMAXRECIPIENTS',
  'ECONFIG',
  'EFILEACCESS',
  'EURLACCESS',
  'ENOAUTH',
  'EAUTH', // without a reply: a login method the server does not offer or missing credentials
  'EREQUIRETLS',
  'EOTP',
]);

export function parseEnhancedStatus(response: string | undefined): EnhancedStatus | undefined {
  const match = response ? ENHANCED_STATUS.exec(response.trimStart()) : null;
  if (!match) return undefined;
  return { klass: Number(match[1]), subject: Number(match[2]), detail: Number(match[3]) };
}

export function classifySmtpError(error: SmtpErrorLike): SendOutcome {
  const response = describe(error);
  const code = error.responseCode;
  // A command without a reply is read as "after DATA" when the transport did not say
  // otherwise: nodemailer never produces it, and "unknown" is the side that cannot duplicate.
  const afterData = error.dataSent ?? error.command === 'DATA';

  if (typeof code === 'number' && code >= 400 && code < 600) {
    return classifyReply(code, error.response ?? '', error.command, response);
  }
  if (afterData) {
    // The server has (or may have) the whole message and never said yes or no: sending it
    // again can give the customer a duplicate, not sending it can lose it. The outbox decides.
    return { status: 'unknown', response };
  }
  if (typeof code === 'number') {
    // A 2xx/3xx where nodemailer expected something else (a broken greeting, say): a
    // confused session before the message went out; a fresh connection may do better.
    return { status: 'retry', response };
  }
  if (error.code && CLIENT_PERMANENT_CODES.has(error.code)) {
    return { status: 'failed', response };
  }
  // ECONNECTION, ECONNREFUSED, ESOCKET, ETIMEDOUT, EDNS, ETLS, EPROXY, EPROTOCOL, EABORT and
  // anything unrecognised: nothing was handed over, so a later attempt is safe. The outbox
  // bounds the number of attempts.
  return { status: 'retry', response };
}

function classifyReply(code: number, reply: string, command: string | undefined, response: string): SendOutcome {
  if (code < 500) {
    // Every 4xx is transient by definition (RFC 5321 4.2.1): 421 service closing, 450/451
    // greylisting or local trouble, 451 4.7.1 rate or reputation deferral, 452 4.2.2 quota.
    return { status: 'retry', response };
  }
  if (code === 503) {
    // Bad sequence of commands: the session was out of step, not the message refused.
    return { status: 'retry', response };
  }

  const status = parseEnhancedStatus(reply);
  // A refused sender (MAIL FROM) is about our address or domain, never the customer's mailbox.
  const aboutRecipient = command !== 'MAIL FROM';

  if (status && status.klass === 5) {
    if (status.subject === 7) return { status: 'policy', response };
    if (status.subject === 1) {
      // X.1.7 / X.1.8 name the sender's address or domain: our problem, not a dead mailbox.
      if (status.detail === 7 || status.detail === 8 || !aboutRecipient) return { status: 'failed', response };
      return { status: 'bounce', response };
    }
    if (status.subject === 2) {
      // X.2.1 mailbox disabled: Gmail and Outlook use it for closed accounts; a hard bounce.
      if (status.detail === 1 && aboutRecipient) return { status: 'bounce', response };
      // X.2.2 mailbox full: RFC 3463 allows it for "persistent transient" conditions and most
      // providers send it as 552 while the customer can still empty the box. Treated as a soft
      // bounce: retried, and the outbox's attempt limit turns it into a failure eventually.
      if (status.detail === 2) return { status: 'retry', response };
    }
    // 5.3.4 too big, 5.5.x syntax, 5.6.x content, 5.4.x routing, 5.2.3 ...: this message will
    // not go through, but nothing says the mailbox is gone.
    return { status: 'failed', response };
  }

  // No (usable) enhanced code: fall back to the basic code and a cautious look at the text.
  if (aboutRecipient && (code === 551 || code === 553)) {
    // 551 user not local, 553 mailbox name not allowed: both about the recipient address.
    return { status: 'bounce', response };
  }
  if (code === 552) {
    // RFC 5321: "exceeded storage allocation", the mailbox-full case above.
    return { status: 'retry', response };
  }
  if (POLICY_TEXT.test(reply)) return { status: 'policy', response };
  if (aboutRecipient && code === 550 && command === 'RCPT TO' && MAILBOX_UNKNOWN_TEXT.test(reply)) {
    return { status: 'bounce', response };
  }
  return { status: 'failed', response };
}

/** The text stored with the outcome: the server's reply when there is one, else what happened. */
function describe(error: SmtpErrorLike): string {
  if (error.response) return error.response;
  const parts = [error.code, error.message].filter((part): part is string => Boolean(part));
  return parts.length ? parts.join(': ') : 'unknown SMTP error';
}
