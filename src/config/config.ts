// Every setting Tactful reads, parsed and validated once at start-up into one typed object.
// A bad value stops the start with a message that names the variable (see ConfigError).
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { contrast, HEX_COLOR } from './colors';
import { ConfigFinding, productionFindings } from './production-checks';
import { DEFAULT_QUIET_HOURS, NO_QUIET_HOURS, QuietHours } from './quiet-hours';

export type Locale = 'de' | 'en';
export const LOCALES: readonly Locale[] = ['de', 'en'];

/**
 * The company's own look, shown in every mail and customer page instead of Tactful's: name, logo,
 * colours, postal address per language, imprint and privacy policy (GDPR Art. 13, § 5 DDG).
 */
export interface Brand {
  name: string;
  /** An https image (shown at most 200 × 60 px); null: the name is shown instead. */
  logoUrl: string | null;
  colors: {
    /** Buttons and links; white text on it must be readable (contrast ≥ 4.5). */
    primary: string;
    /** Body text on white; contrast ≥ 4.5. */
    text: string;
    /** Around the content: the mail's and page's backdrop. */
    background: string;
  };
  /** One line, e.g. "Beispiel GmbH, Hauptstraße 1, 10115 Berlin", per language. */
  address: Record<Locale, string>;
  imprintUrl: string | null;
  privacyUrl: string | null;
}

export interface AppConfig {
  env: 'development' | 'test' | 'production';
  port: number;
  host: string;
  /**
   * Which proxies may say who the client is (X-Forwarded-For, -Proto, -Host): none (false),
   * any (true), the nearest N hops, or these addresses / CIDR ranges. The client address
   * keys the customer-page rate limits and is stored as consent evidence.
   */
  trustProxy: boolean | number | string[];
  publicUrl: string;
  /** Unset: an embedded PostgreSQL is started in `dataDir`. */
  databaseUrl: string | undefined;
  /** Connections for API requests; the other classes of work have budgets of their own (database/connection-budgets.ts). */
  dbPoolSize: number;
  dbReportsPoolSize: number;
  dbImportPoolSize: number;
  dbWorkerPoolSize: number;
  dbSchedulerPoolSize: number;
  /** Connections for inbound mail events: provider webhooks and the inbound SMTP receiver. */
  dbInboundPoolSize: number;
  /** statement_timeout of every session but the scheduler's, which have `dbJobStatementTimeoutMs`. */
  dbStatementTimeoutMs: number;
  dbJobStatementTimeoutMs: number;
  dbIdleInTransactionTimeoutMs: number;
  /** How long a request waits for a free connection of its budget before it gets a 503. */
  dbPoolWaitMs: number;
  /** After SIGTERM/SIGINT the process exits after this long even if something still runs. */
  shutdownTimeoutMs: number;
  /** An import upload that sends nothing for this long is cut off (408). */
  importIdleTimeoutMs: number;
  /** Stored Idempotency-Key responses are kept this long, then pruned. */
  idempotencyRetentionHours: number;
  /** Days each housekeeping table keeps its rows (src/scheduler/housekeeping.ts, docs/SCALING.md). */
  retention: {
    webhookEventsDays: number;
    schedulerRunsDays: number;
    marketingSendsDays: number;
    /** delivery_keys: a finished delivery's idempotency key is forgotten after this many days. */
    deliveryKeysDays: number;
    /** The decision log: a month's partition is dropped once its newest row is this many whole months old. */
    decisionLogMonths: number;
  };
  dataDir: string;
  embeddedPostgresPort: number;
  /** Unset: mails are written as .eml files to `outboxDir`. The relay of the service stream (and of marketing without its own). */
  smtpUrl: string | undefined;
  smtpMaxConnections: number;
  /** Mails per second through `smtpUrl`, held across all instances (0: no limit). */
  smtpRatePerSecond: number;
  /** The marketing stream's own relay; unset: marketing shares `smtpUrl` and its rate limit. */
  smtpMarketingUrl: string | undefined;
  smtpMarketingMaxConnections: number;
  /** Mails per second through `smtpMarketingUrl`, across all instances (0: no limit); only with a relay of its own. */
  smtpMarketingRatePerSecond: number;
  /**
   * VERP: the domain of each mail's own envelope sender (`bounces+<token>@<domain>`), whose MX
   * must lead to the inbound receiver. Unset: the envelope sender is MAIL_FROM's address.
   */
  bounceDomain: string | undefined;
  /** Tactful signs every mail with DKIM; unset: the relay signs (or nobody does). */
  dkim: DkimSettings | undefined;
  mailFrom: string;
  /** Reply-To of every mail whose sender has no entry in `senderReplyTo`: a mailbox people read. */
  replyTo: string;
  /** Per sender (the campaign's `sender`), the mailbox replies go to. */
  senderReplyTo: Record<string, string>;
  outboxDir: string;
  senderPostalAddress: string;
  adminApiKey: string | undefined;
  /** HMAC secrets; outside production a random one kept in `dataDir` stands in when unset. */
  tokenSecret: string;
  webhookSecret: string;
  /** Retired secrets during a rotation: links and webhooks signed with them still verify; nothing new is signed with them. */
  previousTokenSecrets: string[];
  previousWebhookSecrets: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  bodyLimitBytes: number;
  importBodyLimitBytes: number;
  defaultLocale: Locale;
  defaultTimeZone: string;
  /** Local hours in which no marketing mail is handed over; start = end: none (QUIET_HOURS=off). */
  quietHours: QuietHours;
  schedulerEnabled: boolean;
  /** Seconds between two ticks of each scheduler job (SCHEDULER_<JOB>_SECONDS). */
  schedulerIntervals: Record<SchedulerJob, number>;
  workerEnabled: boolean;
  /**
   * Where the delivery worker runs: 'thread', a worker thread of this process with a Nest context,
   * pools and SMTP transport of its own, so rendering and MIME never queue behind (or in front of)
   * HTTP requests on the API's event loop; 'inline', on the API's event loop (tests, one-off runs).
   */
  workerIsolation: 'thread' | 'inline';
  workerBatchSize: number;
  workerConcurrency: number;
  /** Lanes of the service stream (service and transactional mail), claimed apart from marketing. */
  workerServiceConcurrency: number;
  workerPollMs: number;
  workerLeaseSeconds: number;
  /** A claimed mail not yet at its hand-over holds this lease, renewed by the worker's heartbeat. */
  workerClaimLeaseSeconds: number;
  /** A deferred item without its own expiry is dropped (reason `expired`) after this many days: old news is no news. */
  deferredMaxAgeDays: number;
  retryMaxAttempts: number;
  retryBaseSeconds: number;
  domainPauseMinutes: number;
  unsubscribeMailto: string | undefined;
  /** The inbound SMTP receiver (src/mail-events/inbound-smtp.ts): DSNs, ARF reports and unsubscribe mail. Off by default. */
  inboundSmtp: {
    enabled: boolean;
    port: number;
    host: string;
    /** Largest message accepted (SIZE), bytes. */
    maxBytes: number;
    /** PEM files for STARTTLS; both or neither. */
    tlsKeyFile: string | undefined;
    tlsCertFile: string | undefined;
  };
  /** SOFT_BOUNCE_LIMIT soft bounces of one address within SOFT_BOUNCE_DAYS days suppress it. */
  softBounceLimit: number;
  softBounceDays: number;
  /** Provider webhooks (src/mail-events/providers/): each is refused (403) until configured. */
  mailProviders: {
    /** Amazon SES via SNS: the topic ARNs whose messages are read (a signature only proves the message came from SNS, not from your account). */
    sesTopicArns: string[];
    /** SendGrid Signed Event Webhook: the verification key (base64 DER, or PEM). */
    sendgridPublicKey: string | undefined;
    /** Postmark webhooks: the basic-auth user and password set on the webhook URL. */
    postmarkUser: string | undefined;
    postmarkPassword: string | undefined;
    /** Mailgun: the HTTP webhook signing key. */
    mailgunSigningKey: string | undefined;
    /**
     * Hosts SigningCertURL and SubscribeURL may name. Always `sns.<region>.amazonaws.com` (and
     * .amazonaws.com.cn); SNS_TEST_HOSTS adds hosts in NODE_ENV=test only (a local certificate server).
     */
    snsTestHosts: string[];
  };
  /** The brand's name (BRAND_NAME, formerly COMPANY_NAME): kept as its own field for the List-Id and the calendar organiser. */
  companyName: string;
  brand: Brand;
  /** Send the optional "out for delivery today" mail for shipments. */
  shipmentOutForDeliveryMail: boolean;
  /**
   * Seconds a shipment status mail waits after the last status change before it is handed over
   * (0: no hold). Carriers report label, transit and delivery in bursts; the hold lets the burst
   * settle so that only the latest relevant status is mailed, and a parcel delivered within it gets none.
   */
  shipmentSettleSeconds: number;
  digestMaxEntries: number;
  /** Failed link attempts (and public-form requests) per minute from one client address. */
  customerRateLimitPerIp: number;
  digestCatchupSpreadMinutes: number;
  /** Minutes before a webinar's start at which registrants are reminded; at most two, latest last. */
  webinarReminderMinutes: number[];
  /**
   * Public webinar form: "confirm your registration" mails per hour triggered from one client
   * address (IPv6: one /64), counted in PostgreSQL across every instance. Over it, the form gives
   * the same answer and sends nothing.
   */
  webinarConfirmMailsPerIpHour: number;
  /** The console's sessions: signed out after this many idle minutes, and at the latest this many hours after sign-in. */
  consoleSessionIdleMinutes: number;
  consoleSessionMaxHours: number;
  /** LOCAL_ONLY: a production-mode instance for local use (docker-compose.yml); production's refusals become warnings. */
  localOnly: boolean;
  /** What the production checks found unusual: logged at warn on every start (src/config/production-checks.ts). */
  startupWarnings: ConfigFinding[];
}

/** A DKIM key: the signing domain (d=), the selector (s=) and the private key in PEM. */
export interface DkimSettings {
  domain: string;
  selector: string;
  /** PKCS#8 or PKCS#1 PEM; RSA (at least 1024 bits) or Ed25519 (RFC 8463). */
  privateKeyPem: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  /** RSA modulus length, for the production check; 256 for Ed25519. */
  keyBits: number;
}

/** The scheduler's jobs (src/scheduler/jobs.service.ts), each ticking at its own interval. */
export const SCHEDULER_JOBS = [
  'dispatch-campaigns',
  'campaign-progress',
  'compose-digests',
  'expire-deferred',
  'double-opt-in',
  'webinar-reminders',
  'resume-paused',
  'prune-idempotency-keys',
  'prune-housekeeping',
  'fold-delivery-counts',
  'rotate-decision-log',
] as const;
export type SchedulerJob = (typeof SCHEDULER_JOBS)[number];

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super('Invalid configuration:\n' + problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Reads one variable at a time and collects every problem before failing, so one start shows them all. */
class EnvReader {
  readonly problems: { variable: string; message: string }[] = [];
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optional(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      this.problems.push({ variable: name, message: `must be a whole number from ${min} to ${max}, got "${value}"` });
      return fallback;
    }
    return parsed;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!allowed.includes(value as T)) {
      this.problems.push({ variable: name, message: `must be one of ${allowed.join(', ')}, got "${value}"` });
      return fallback;
    }
    return value as T;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (['true', '1', 'yes'].includes(value.toLowerCase())) return true;
    if (['false', '0', 'no'].includes(value.toLowerCase())) return false;
    this.problems.push({ variable: name, message: `must be true or false, got "${value}"` });
    return fallback;
  }

  url(name: string, protocols: string[], fallback?: string): string | undefined {
    const value = this.raw(name) ?? fallback;
    if (value === undefined) return undefined;
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol)) {
        this.problems.push({ variable: name, message: `must start with ${protocols.join(' or ')}//, got "${parsed.protocol}"` });
      }
    } catch {
      this.problems.push({ variable: name, message: `is not a valid URL` });
    }
    return value.replace(/\/+$/, '');
  }

  secret(name: string, fallback: string | undefined): string {
    const value = this.raw(name) ?? fallback;
    if (value === undefined) {
      this.problems.push({ variable: name, message: 'is required in production' });
      return '';
    }
    if (value.length < 32) {
      this.problems.push({ variable: name, message: 'must be at least 32 characters long' });
    }
    return value;
  }

  /** Comma-separated secrets of at least 32 characters each (none when unset). */
  secretList(name: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    const secrets = value.split(',').map((secret) => secret.trim());
    if (secrets.some((secret) => secret.length < 32)) {
      this.problems.push({ variable: name, message: 'must be comma-separated secrets of at least 32 characters each' });
      return [];
    }
    return secrets;
  }

  /** A colour as #rrggbb. */
  color(name: string, fallback: string): string {
    const value = this.string(name, fallback);
    if (!HEX_COLOR.test(value)) {
      this.problems.push({ variable: name, message: `must be a colour as #rrggbb, got "${value}"` });
      return fallback;
    }
    return value.toLowerCase();
  }

  /** A colour that `on` must be readable against (WCAG contrast ≥ 4.5:1). */
  readableColor(name: string, fallback: string, against: string, what: string): string {
    const value = this.color(name, fallback);
    const ratio = contrast(value, against);
    if (ratio < 4.5) {
      this.problems.push({ variable: name, message: `${what} is too hard to read: contrast ${ratio.toFixed(2)}:1, at least 4.5:1 needed (a darker colour)` });
      return fallback;
    }
    return value;
  }

  /** `Name <address@domain>` or a bare address; no line breaks (it becomes a header). */
  mailbox(name: string, fallback: string): string {
    const value = this.string(name, fallback);
    if (!MAILBOX.test(value)) {
      this.problems.push({ variable: name, message: `must be an address like "Shop <news@shop.example>", got "${value}"` });
      return fallback;
    }
    return value;
  }

  /** A JSON object of name → mailbox, e.g. {"marketing":"Team <news@shop.example>"}. */
  mailboxMap(name: string): Record<string, string> {
    const value = this.raw(name);
    if (value === undefined) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = null;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      this.problems.push({ variable: name, message: `must be a JSON object of sender → address, got "${value}"` });
      return {};
    }
    const map: Record<string, string> = {};
    for (const [sender, address] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof address !== 'string' || !MAILBOX.test(address)) {
        this.problems.push({ variable: name, message: `"${sender}" must map to an address like "Shop <news@shop.example>", got ${JSON.stringify(address)}` });
        continue;
      }
      map[sender] = address;
    }
    return map;
  }

  /** Comma-separated whole numbers, each from min to max, at most maxCount of them. */
  intList(name: string, fallback: number[], min: number, max: number, maxCount: number): number[] {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parts = value.split(',').map((p) => p.trim());
    const numbers = parts.map(Number);
    if (parts.length > maxCount || numbers.some((n, i) => parts[i] === '' || !Number.isInteger(n) || n < min || n > max)) {
      this.problems.push({ variable: name, message: `must be at most ${maxCount} comma-separated whole numbers from ${min} to ${max}, got "${value}"` });
      return fallback;
    }
    return numbers;
  }

  /** false, true, a hop count, or comma-separated IP addresses / CIDR ranges (Fastify's trustProxy). */
  trustProxy(name: string): boolean | number | string[] {
    const value = this.raw(name);
    if (value === undefined || value === 'false') return false;
    if (value === 'true') return true;
    if (/^\d{1,2}$/.test(value)) return Number(value);
    const entries = value.split(',').map((entry) => entry.trim());
    const valid = (entry: string) => {
      const [address, bits, ...rest] = entry.split('/');
      const family = isIP(address);
      if (family === 0 || rest.length > 0) return false;
      return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
    };
    if (!entries.every(valid)) {
      this.problems.push({ variable: name, message: `must be true, false, a hop count, or comma-separated IP addresses / CIDR ranges, got "${value}"` });
      return false;
    }
    return entries;
  }

  /** A mail domain such as bounce.shop.example (lower-cased), or undefined when unset. */
  domain(name: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (!/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i.test(value)) {
      this.problems.push({ variable: name, message: `must be a domain name such as bounce.shop.example, got "${value}"` });
      return undefined;
    }
    return value.toLowerCase();
  }

  /** Comma-separated values, each matching `pattern` (none when unset). */
  list(name: string, pattern: RegExp, what: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    const bad = entries.filter((entry) => !pattern.test(entry));
    if (bad.length > 0) {
      this.problems.push({ variable: name, message: `must be comma-separated ${what}, got "${bad[0]}"` });
      return [];
    }
    return entries;
  }

  /** `START-END` in local whole hours (`21-8`: from 21:00 to 08:00), or `off` for none. */
  quietHours(name: string, fallback: QuietHours): QuietHours {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (/^(off|none|false)$/i.test(value)) return NO_QUIET_HOURS;
    const match = /^(\d{1,2})(?::00)?\s*-\s*(\d{1,2})(?::00)?$/.exec(value);
    const [start, end] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
    if (!match || start > 23 || end > 23 || start === end) {
      this.problems.push({
        variable: name,
        message: `must be two different local hours from 0 to 23 as START-END, such as 21-8 (21:00 to 08:00), or off, got "${value}"`,
      });
      return fallback;
    }
    return { start, end };
  }

  /** A DNS name (no scheme, no @), lower-cased; `label` is true for a single DNS label (a DKIM selector). */
  domainName(name: string, label = false): string | undefined {
    const value = this.raw(name)?.toLowerCase().replace(/\.$/, '');
    if (value === undefined) return undefined;
    const labelPattern = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?$/;
    const labels = value.split('.');
    const valid = value.length <= 253 && labels.every((part) => labelPattern.test(part)) && (label ? labels.length >= 1 : labels.length >= 2);
    if (!valid) {
      this.problems.push({
        variable: name,
        message: label
          ? `must be a DNS selector like "tactful2026" (letters, digits, hyphens, dots), got "${value}"`
          : `must be a domain name like "bounce.shop.example", got "${value}"`,
      });
      return undefined;
    }
    return value;
  }

  /** DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY (or DKIM_PRIVATE_KEY_FILE), already read: all or none. */
  dkim(read: { domain: string | undefined; selector: string | undefined; inline: string | undefined; file: string | undefined }): DkimSettings | undefined {
    const { domain, selector, inline, file } = read;
    const given = [this.raw('DKIM_DOMAIN'), this.raw('DKIM_SELECTOR'), inline ?? file];
    if (given.every((value) => value === undefined)) return undefined;
    if (inline !== undefined && file !== undefined) {
      this.problems.push({ variable: 'DKIM_PRIVATE_KEY_FILE', message: 'give DKIM_PRIVATE_KEY or DKIM_PRIVATE_KEY_FILE, not both' });
      return undefined;
    }
    const missing = (['DKIM_DOMAIN', 'DKIM_SELECTOR', 'DKIM_PRIVATE_KEY'] as const).filter((_, i) => given[i] === undefined);
    for (const variable of missing) {
      this.problems.push({
        variable,
        message: 'is needed with the other DKIM_ settings (DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY or DKIM_PRIVATE_KEY_FILE): all or none',
      });
    }
    const variable = file !== undefined ? 'DKIM_PRIVATE_KEY_FILE' : 'DKIM_PRIVATE_KEY';
    let pem: string | undefined;
    if (file !== undefined) {
      try {
        pem = readFileSync(file, 'utf8');
      } catch (error) {
        this.problems.push({ variable, message: `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` });
      }
    } else if (inline !== undefined) {
      // A PEM in one environment line: "\n" stands for the line breaks.
      pem = inline.replace(/\\n/g, '\n');
    }
    if (pem === undefined || missing.length > 0 || domain === undefined || selector === undefined) return undefined;
    try {
      const key = createPrivateKey(pem);
      const type = key.asymmetricKeyType;
      if (type === 'rsa') {
        const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
        if (bits < 1024) {
          this.problems.push({ variable, message: `is an RSA key of ${bits} bits; receivers ignore DKIM keys under 1024 bits (use 2048)` });
          return undefined;
        }
        return { domain, selector, privateKeyPem: pem, algorithm: 'rsa-sha256', keyBits: bits };
      }
      if (type === 'ed25519') return { domain, selector, privateKeyPem: pem, algorithm: 'ed25519-sha256', keyBits: 256 };
      this.problems.push({ variable, message: `must be an RSA or Ed25519 private key, got a ${type} key` });
    } catch {
      this.problems.push({ variable, message: 'is not a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)' });
    }
    return undefined;
  }

  timeZone(name: string, fallback: string): string {
    const value = this.string(name, fallback);
    if (!isIanaTimeZone(value)) {
      this.problems.push({ variable: name, message: `is not an IANA time zone, got "${value}"` });
      return fallback;
    }
    return value;
  }
}

const MAILBOX = /^([^<>\r\n]*<[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)$/;

/** The bare address of `Name <address>` or of a bare address. */
export const addressOf = (mailbox: string): string => (/<([^<>]+)>\s*$/.exec(mailbox)?.[1] ?? mailbox).trim();

/** Replies are welcome: no mail may come from, or send replies to, an address nobody reads. */
export const isNoReply = (mailbox: string): boolean => /^(no[-_.]?reply|do[-_.]?not[-_.]?reply)(\+[^@]*)?@/i.test(addressOf(mailbox));

const zoneCache = new Map<string, boolean>();

/** Cached: building an Intl.DateTimeFormat costs ~0.1 ms, too much per row of a 100k import. */
export function isIanaTimeZone(value: string): boolean {
  const known = zoneCache.get(value);
  if (known !== undefined) return known;
  let valid: boolean;
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    valid = value.length <= 64;
  } catch {
    valid = false;
  }
  if (zoneCache.size < 10_000) zoneCache.set(value, valid);
  return valid;
}

/** SendGrid shows its key as base64 DER (SubjectPublicKeyInfo); a PEM is taken too. */
export function sendgridKeyObject(key: string) {
  const text = key.trim();
  return text.startsWith('-----BEGIN')
    ? createPublicKey(text)
    : createPublicKey({ key: Buffer.from(text.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
}

function isP256PublicKey(key: string): boolean {
  try {
    const object = sendgridKeyObject(key);
    return object.asymmetricKeyType === 'ec' && object.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  } catch {
    return false;
  }
}

/** Secrets to use when the environment has none; only honoured outside production. */
export interface DevSecrets {
  tokenSecret: string;
  webhookSecret: string;
}

export function loadConfig(env: Env = process.env, devSecrets?: DevSecrets): AppConfig {
  const read = new EnvReader(env);
  const nodeEnv = read.oneOf('NODE_ENV', 'development', ['development', 'test', 'production'] as const);
  const production = nodeEnv === 'production';
  const port = read.int('PORT', 3000, 0, 65535);
  const config: AppConfig = {
    env: nodeEnv,
    port,
    host: read.string('HOST', '0.0.0.0'),
    trustProxy: read.trustProxy('TRUST_PROXY'),
    publicUrl: read.url('PUBLIC_URL', ['http:', 'https:'], `http://localhost:${port}`)!,
    databaseUrl: read.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    dbPoolSize: read.int('DB_POOL_SIZE', 10, 1, 200),
    dbReportsPoolSize: read.int('DB_REPORTS_POOL_SIZE', 3, 1, 200),
    dbImportPoolSize: read.int('DB_IMPORT_POOL_SIZE', 2, 1, 200),
    dbWorkerPoolSize: 0, // set below: defaults to WORKER_CONCURRENCY
    // One more than the jobs that hold an advisory lock's connection while they use another (5).
    dbSchedulerPoolSize: read.int('DB_SCHEDULER_POOL_SIZE', 6, 2, 200),
    dbInboundPoolSize: read.int('DB_INBOUND_POOL_SIZE', 2, 1, 200),
    dbStatementTimeoutMs: read.int('DB_STATEMENT_TIMEOUT_MS', 30_000, 100, 3_600_000),
    dbJobStatementTimeoutMs: read.int('DB_JOB_STATEMENT_TIMEOUT_MS', 600_000, 100, 86_400_000),
    dbIdleInTransactionTimeoutMs: read.int('DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 60_000, 100, 3_600_000),
    dbPoolWaitMs: read.int('DB_POOL_WAIT_MS', 10_000, 100, 600_000),
    shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT_MS', 25_000, 100, 600_000),
    importIdleTimeoutMs: read.int('IMPORT_IDLE_TIMEOUT_MS', 30_000, 100, 3_600_000),
    idempotencyRetentionHours: read.int('IDEMPOTENCY_RETENTION_HOURS', 24, 1, 8760),
    retention: {
      // At least the replay window (REPLAY_RETENTION_MS, a week): an older event is refused as stale, so a pruned id is never replayed.
      webhookEventsDays: read.int('WEBHOOK_EVENTS_RETENTION_DAYS', 30, 7, 3650),
      schedulerRunsDays: read.int('SCHEDULER_RUNS_RETENTION_DAYS', 30, 1, 3650),
      // The longest cadence window (14 days) plus a day: a younger record may still be read.
      marketingSendsDays: read.int('MARKETING_SENDS_RETENTION_DAYS', 30, 16, 3650),
      // A replay of a shop's, a carrier's or a form's event is recognised for this long after its mail went.
      deliveryKeysDays: read.int('DELIVERY_KEYS_RETENTION_DAYS', 90, 30, 3650),
      // A year and the month compared with it; at least two, so last month's rows are never dropped.
      decisionLogMonths: read.int('DECISION_LOG_RETENTION_MONTHS', 13, 2, 1200),
    },
    dataDir: read.string('DATA_DIR', '.data'),
    embeddedPostgresPort: read.int('EMBEDDED_PG_PORT', 54329, 1024, 65535),
    smtpUrl: read.url('SMTP_URL', ['smtp:', 'smtps:']),
    smtpMaxConnections: read.int('SMTP_MAX_CONNECTIONS', 5, 1, 100),
    smtpRatePerSecond: read.int('SMTP_RATE_PER_SECOND', 0, 0, 100000),
    smtpMarketingUrl: read.url('SMTP_MARKETING_URL', ['smtp:', 'smtps:']),
    smtpMarketingMaxConnections: 0, // set below: defaults to SMTP_MAX_CONNECTIONS
    smtpMarketingRatePerSecond: read.int('SMTP_MARKETING_RATE_PER_SECOND', 0, 0, 100000),
    bounceDomain: read.domainName('BOUNCE_DOMAIN'),
    dkim: read.dkim({
      domain: read.domainName('DKIM_DOMAIN'),
      selector: read.domainName('DKIM_SELECTOR', true),
      inline: read.optional('DKIM_PRIVATE_KEY'),
      file: read.optional('DKIM_PRIVATE_KEY_FILE'),
    }),
    mailFrom: read.mailbox('MAIL_FROM', 'Tactful <newsletter@tactful.localhost>'),
    replyTo: '',
    senderReplyTo: read.mailboxMap('SENDER_REPLY_TO'),
    outboxDir: read.string('OUTBOX_DIR', 'outbox'),
    senderPostalAddress: '', // set below: the brand's German address
    adminApiKey: read.optional('ADMIN_API_KEY'),
    tokenSecret: read.secret('TOKEN_SECRET', production ? undefined : devSecrets?.tokenSecret),
    webhookSecret: read.secret('WEBHOOK_SECRET', production ? undefined : devSecrets?.webhookSecret),
    previousTokenSecrets: read.secretList('TOKEN_SECRETS_PREVIOUS'),
    previousWebhookSecrets: read.secretList('WEBHOOK_SECRETS_PREVIOUS'),
    logLevel: read.oneOf('LOG_LEVEL', nodeEnv === 'test' ? 'warn' : 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    bodyLimitBytes: read.int('BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    importBodyLimitBytes: read.int('IMPORT_BODY_LIMIT_BYTES', 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    defaultLocale: read.oneOf('DEFAULT_LOCALE', 'de', LOCALES),
    defaultTimeZone: read.timeZone('DEFAULT_TIME_ZONE', 'Europe/Berlin'),
    quietHours: read.quietHours('QUIET_HOURS', DEFAULT_QUIET_HOURS),
    schedulerEnabled: read.bool('SCHEDULER_ENABLED', true),
    schedulerIntervals: {
      'dispatch-campaigns': read.int('SCHEDULER_DISPATCH_CAMPAIGNS_SECONDS', 5, 1, 86_400),
      'campaign-progress': read.int('SCHEDULER_CAMPAIGN_PROGRESS_SECONDS', 10, 1, 86_400),
      'compose-digests': read.int('SCHEDULER_COMPOSE_DIGESTS_SECONDS', 30, 1, 86_400),
      'expire-deferred': read.int('SCHEDULER_EXPIRE_DEFERRED_SECONDS', 60, 1, 86_400),
      'double-opt-in': read.int('SCHEDULER_DOUBLE_OPT_IN_SECONDS', 60, 1, 86_400),
      'webinar-reminders': read.int('SCHEDULER_WEBINAR_REMINDERS_SECONDS', 60, 1, 86_400),
      'resume-paused': read.int('SCHEDULER_RESUME_PAUSED_SECONDS', 60, 1, 86_400),
      'prune-idempotency-keys': read.int('SCHEDULER_PRUNE_IDEMPOTENCY_KEYS_SECONDS', 900, 1, 86_400),
      'prune-housekeeping': read.int('SCHEDULER_PRUNE_HOUSEKEEPING_SECONDS', 900, 1, 86_400),
      'fold-delivery-counts': read.int('SCHEDULER_FOLD_DELIVERY_COUNTS_SECONDS', 10, 1, 86_400),
      'rotate-decision-log': read.int('SCHEDULER_ROTATE_DECISION_LOG_SECONDS', 3600, 1, 86_400),
    },
    workerEnabled: read.bool('WORKER_ENABLED', true),
    workerIsolation: read.oneOf('WORKER_ISOLATION', 'thread', ['thread', 'inline'] as const),
    workerBatchSize: read.int('WORKER_BATCH_SIZE', 100, 1, 5000),
    workerConcurrency: read.int('WORKER_CONCURRENCY', 8, 1, 200),
    workerServiceConcurrency: 0, // set below: defaults to WORKER_CONCURRENCY
    workerPollMs: read.int('WORKER_POLL_MS', 500, 10, 60_000),
    workerLeaseSeconds: read.int('WORKER_LEASE_SECONDS', 120, 1, 3600),
    workerClaimLeaseSeconds: read.int('WORKER_CLAIM_LEASE_SECONDS', 6, 1, 3600),
    deferredMaxAgeDays: read.int('DEFERRED_MAX_AGE_DAYS', 28, 1, 365),
    retryMaxAttempts: read.int('RETRY_MAX_ATTEMPTS', 8, 1, 50),
    retryBaseSeconds: read.int('RETRY_BASE_SECONDS', 60, 1, 86_400),
    domainPauseMinutes: read.int('DOMAIN_PAUSE_MINUTES', 60, 1, 10_080),
    unsubscribeMailto: read.optional('UNSUBSCRIBE_MAILTO'),
    inboundSmtp: {
      enabled: read.bool('INBOUND_SMTP_ENABLED', false),
      port: read.int('INBOUND_SMTP_PORT', 2525, 0, 65535),
      host: read.string('INBOUND_SMTP_HOST', '0.0.0.0'),
      maxBytes: read.int('INBOUND_SMTP_MAX_BYTES', 10 * 1024 * 1024, 1024, 100 * 1024 * 1024),
      tlsKeyFile: read.optional('INBOUND_SMTP_TLS_KEY'),
      tlsCertFile: read.optional('INBOUND_SMTP_TLS_CERT'),
    },
    softBounceLimit: read.int('SOFT_BOUNCE_LIMIT', 5, 1, 1000),
    softBounceDays: read.int('SOFT_BOUNCE_DAYS', 30, 1, 365),
    mailProviders: {
      sesTopicArns: read.list(
        'SES_SNS_TOPIC_ARNS',
        /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/,
        'SNS topic ARNs like arn:aws:sns:eu-central-1:123456789012:ses-events',
      ),
      sendgridPublicKey: read.optional('SENDGRID_WEBHOOK_PUBLIC_KEY'),
      postmarkUser: read.optional('POSTMARK_WEBHOOK_USER'),
      postmarkPassword: read.optional('POSTMARK_WEBHOOK_PASSWORD'),
      mailgunSigningKey: read.optional('MAILGUN_WEBHOOK_SIGNING_KEY'),
      snsTestHosts: read.list('SNS_TEST_HOSTS', /^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'host names (host or host:port)'),
    },
    companyName: '', // set below: the brand's name
    brand: undefined as unknown as Brand, // set below
    shipmentOutForDeliveryMail: read.bool('SHIPMENT_OUT_FOR_DELIVERY_MAIL', true),
    shipmentSettleSeconds: read.int('SHIPMENT_SETTLE_SECONDS', 120, 0, 3600),
    digestMaxEntries: read.int('DIGEST_MAX_ENTRIES', 10, 1, 100),
    customerRateLimitPerIp: read.int('CUSTOMER_RATE_LIMIT_PER_IP', 300, 1, 1_000_000),
    digestCatchupSpreadMinutes: read.int('DIGEST_CATCHUP_SPREAD_MINUTES', 60, 0, 1440),
    webinarReminderMinutes: read.intList('WEBINAR_REMINDER_MINUTES', [1440, 60], 1, 43_200, 2),
    webinarConfirmMailsPerIpHour: read.int('WEBINAR_CONFIRM_MAILS_PER_IP_HOUR', 20, 1, 100_000),
    consoleSessionIdleMinutes: read.int('CONSOLE_SESSION_IDLE_MINUTES', 30, 1, 1440),
    consoleSessionMaxHours: read.int('CONSOLE_SESSION_MAX_HOURS', 12, 1, 168),
    localOnly: read.bool('LOCAL_ONLY', false),
    startupWarnings: [],
  };
  // MAIL_REPLY_TO is the documented name; REPLY_TO still works.
  config.replyTo = read.optional('MAIL_REPLY_TO') !== undefined ? read.mailbox('MAIL_REPLY_TO', config.mailFrom) : read.mailbox('REPLY_TO', config.mailFrom);
  config.brand = readBrand(read, production);
  config.companyName = config.brand.name;
  config.senderPostalAddress = config.brand.address.de;
  // As many service lanes as marketing ones: either stream alone sends as fast as all mail did
  // before they were split, and a campaign in full flow leaves the service stream all of its own.
  config.workerServiceConcurrency = read.int('WORKER_SERVICE_CONCURRENCY', config.workerConcurrency, 1, 200);
  // Every worker lane (marketing and service) holds a connection through its SMTP hand-over, and
  // a paced relay's slot reservation needs one more while they do (relay-pacer.ts). (A lane waits
  // for its slot before its transaction, holding none; each stream's claim-lease heartbeat takes
  // one for a moment every third of WORKER_CLAIM_LEASE_SECONDS, queueing for it when all are busy.)
  const lanes = config.workerConcurrency + config.workerServiceConcurrency;
  config.dbWorkerPoolSize = read.int('DB_WORKER_POOL_SIZE', lanes + 1, 1, 200);
  if ((config.smtpRatePerSecond > 0 || config.smtpMarketingRatePerSecond > 0) && config.dbWorkerPoolSize <= lanes) {
    read.problems.push({
      variable: 'DB_WORKER_POOL_SIZE',
      message: `must be more than WORKER_CONCURRENCY + WORKER_SERVICE_CONCURRENCY (${lanes}) with a rate limit: every lane holds a connection while it waits for its send slot, and reserving slots needs one more; got ${config.dbWorkerPoolSize}`,
    });
  }
  config.smtpMarketingMaxConnections = read.int('SMTP_MARKETING_MAX_CONNECTIONS', config.smtpMaxConnections, 1, 100);
  if (config.smtpMarketingUrl !== undefined && config.smtpUrl === undefined) {
    read.problems.push({
      variable: 'SMTP_MARKETING_URL',
      message: 'needs SMTP_URL as well: service and transactional mail go through SMTP_URL, only marketing through SMTP_MARKETING_URL',
    });
  }
  if (config.smtpMarketingUrl === undefined && read.optional('SMTP_MARKETING_RATE_PER_SECOND') !== undefined) {
    read.problems.push({
      variable: 'SMTP_MARKETING_RATE_PER_SECOND',
      message: 'applies only to a marketing relay of its own (SMTP_MARKETING_URL); with one relay, SMTP_RATE_PER_SECOND limits all mail',
    });
  }
  for (const [variable, mailbox] of [
    ['MAIL_FROM', config.mailFrom],
    ['REPLY_TO', config.replyTo],
    ...Object.values(config.senderReplyTo).map((m) => ['SENDER_REPLY_TO', m]),
  ]) {
    if (isNoReply(mailbox)) read.problems.push({ variable, message: `must be a mailbox people read, not a no-reply address, got "${mailbox}"` });
  }
  const tls = config.inboundSmtp;
  if ((tls.tlsKeyFile === undefined) !== (tls.tlsCertFile === undefined)) {
    const [given, missing] =
      tls.tlsKeyFile === undefined ? ['INBOUND_SMTP_TLS_CERT', 'INBOUND_SMTP_TLS_KEY'] : ['INBOUND_SMTP_TLS_KEY', 'INBOUND_SMTP_TLS_CERT'];
    read.problems.push({ variable: given, message: `needs ${missing} as well (STARTTLS takes a key and its certificate)` });
  }
  const providers = config.mailProviders;
  if ((providers.postmarkUser === undefined) !== (providers.postmarkPassword === undefined)) {
    const [given, missing] =
      providers.postmarkUser === undefined ? ['POSTMARK_WEBHOOK_PASSWORD', 'POSTMARK_WEBHOOK_USER'] : ['POSTMARK_WEBHOOK_USER', 'POSTMARK_WEBHOOK_PASSWORD'];
    read.problems.push({ variable: given, message: `needs ${missing} as well (Postmark sends both as basic auth)` });
  } else if (providers.postmarkPassword !== undefined && providers.postmarkPassword.length < 16) {
    read.problems.push({ variable: 'POSTMARK_WEBHOOK_PASSWORD', message: 'must be at least 16 characters long' });
  }
  if (providers.sendgridPublicKey !== undefined && !isP256PublicKey(providers.sendgridPublicKey)) {
    read.problems.push({ variable: 'SENDGRID_WEBHOOK_PUBLIC_KEY', message: 'must be the ECDSA P-256 verification key SendGrid shows (base64, or PEM)' });
  }
  if (providers.snsTestHosts.length > 0 && nodeEnv !== 'test') {
    read.problems.push({ variable: 'SNS_TEST_HOSTS', message: 'is for tests only (NODE_ENV=test): SNS certificates come from sns.<region>.amazonaws.com' });
  }
  if (config.adminApiKey !== undefined && config.adminApiKey.length < 24) {
    read.problems.push({ variable: 'ADMIN_API_KEY', message: 'must be at least 24 characters long' });
  }
  if (production) {
    const findings = productionFindings({ config, publicUrlGiven: read.optional('PUBLIC_URL') !== undefined, localOnly: config.localOnly });
    // A variable already reported as malformed is not judged again.
    const reported = new Set(read.problems.map((p) => p.variable));
    read.problems.push(...findings.refusals.filter((p) => !reported.has(p.variable)));
    config.startupWarnings = findings.warnings;
  }
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}

/** What mails and pages show when nothing is configured (development and tests). */
export const DEFAULT_BRAND: Brand = {
  name: 'Tactful',
  logoUrl: null,
  colors: { primary: '#1d4ed8', text: '#1f2937', background: '#f3f4f6' },
  address: { de: 'Tactful GmbH, Musterstraße 1, 10115 Berlin', en: 'Tactful GmbH, Musterstraße 1, 10115 Berlin, Germany' },
  imprintUrl: null,
  privacyUrl: null,
};

function readBrand(read: EnvReader, production: boolean): Brand {
  // Links in a customer's mail are opened anywhere: in production only https.
  const linkProtocols = production ? ['https:'] : ['https:', 'http:'];
  const name = read.string('BRAND_NAME', read.string('COMPANY_NAME', DEFAULT_BRAND.name));
  // SENDER_POSTAL_ADDRESS is the older name of one address for both languages.
  const legacyAddress = read.optional('SENDER_POSTAL_ADDRESS');
  const addressDe = read.string('BRAND_ADDRESS_DE', legacyAddress ?? DEFAULT_BRAND.address.de);
  const addressEn = read.string('BRAND_ADDRESS_EN', legacyAddress ?? (read.optional('BRAND_ADDRESS_DE') ? addressDe : DEFAULT_BRAND.address.en));
  for (const variable of ['BRAND_NAME', 'BRAND_ADDRESS_DE', 'BRAND_ADDRESS_EN']) {
    if (/[\r\n]/.test(read.string(variable, ''))) read.problems.push({ variable, message: 'must be one line' });
  }
  return {
    name,
    logoUrl: read.url('BRAND_LOGO_URL', linkProtocols) ?? null,
    colors: {
      primary: read.readableColor('BRAND_COLOR_PRIMARY', DEFAULT_BRAND.colors.primary, '#ffffff', 'white text on it'),
      text: read.readableColor('BRAND_COLOR_TEXT', DEFAULT_BRAND.colors.text, '#ffffff', 'it on white'),
      background: read.color('BRAND_COLOR_BACKGROUND', DEFAULT_BRAND.colors.background),
    },
    address: { de: addressDe, en: addressEn },
    imprintUrl: read.url('BRAND_IMPRINT_URL', linkProtocols) ?? null,
    privacyUrl: read.url('BRAND_PRIVACY_URL', linkProtocols) ?? null,
  };
}

/** Injection token for the validated AppConfig. */
export const APP_CONFIG = Symbol('APP_CONFIG');
