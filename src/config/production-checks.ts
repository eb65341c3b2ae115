// With NODE_ENV=production: what cannot work with real customers (the start is refused, naming the
// variable) and what is merely unusual (a warning in the log at start). Pure: settings in, findings
// out. LOCAL_ONLY=true (docker-compose.yml on your own machine) turns every refusal into a warning.
import { isIP } from 'node:net';

export interface ConfigFinding {
  variable: string;
  message: string;
}

export interface ProductionFindings {
  /** Cannot work in production: the start stops with these. */
  refusals: ConfigFinding[];
  /** Works, but is probably not what was meant: logged at warn on every start. */
  warnings: ConfigFinding[];
}

/**
 * The settings the checks read: a structural part of AppConfig, spelled out so that this file
 * needs nothing from config.ts (which calls it); the call in loadConfig checks that they agree.
 */
export interface ProductionSettings {
  publicUrl: string;
  databaseUrl: string | undefined;
  smtpUrl: string | undefined;
  mailFrom: string;
  replyTo: string;
  senderReplyTo: Record<string, string>;
  unsubscribeMailto: string | undefined;
  trustProxy: boolean | number | string[];
  tokenSecret: string;
  webhookSecret: string;
  logLevel: string;
  bounceDomain: string | undefined;
  dkim: { domain: string; algorithm: string; keyBits: number } | undefined;
  /** The company's look (AppConfig.brand); absent in callers that check only the rest. */
  brand?: { name: string; imprintUrl: string | null; privacyUrl: string | null };
}

/** The settings read, plus what the typed config cannot tell (was PUBLIC_URL given, or derived from PORT?). */
export interface ProductionInput {
  config: ProductionSettings;
  publicUrlGiven: boolean;
  localOnly: boolean;
}

/**
 * Names that never reach anyone on the internet: RFC 2606 / 6761 (test, example, invalid,
 * localhost, example.com/.net/.org), mDNS's .local (RFC 6762), .internal (reserved by ICANN for
 * private use) and .home.arpa (RFC 8375).
 */
const RESERVED_SUFFIXES = ['localhost', 'test', 'example', 'invalid', 'local', 'internal', 'home.arpa', 'example.com', 'example.net', 'example.org'];

export function isReservedDomain(domain: string): boolean {
  const name = domain.toLowerCase().replace(/\.$/, '');
  return RESERVED_SUFFIXES.some((suffix) => name === suffix || name.endsWith(`.${suffix}`));
}

/** Loopback, private, link-local, unspecified and documentation addresses: nobody outside this network can open them. */
function isLocalAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(ip) === 4) {
    const [a, b, c] = ip.split('.').map(Number);
    const documentation = (a === 192 && b === 0 && c === 2) || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113);
    return a === 127 || a === 10 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || documentation;
  }
  if (isIP(ip) === 6) return ip === '::1' || ip === '::' || /^f[cd]/.test(ip) || /^fe[89ab]/.test(ip) || ip.startsWith('2001:db8:');
  return false;
}

/** Why customers could not open links on this host, or undefined when they can. */
function unreachableHost(host: string): string | undefined {
  if (isIP(host.replace(/^\[|\]$/g, ''))) return isLocalAddress(host) ? 'a local or private address' : undefined;
  if (isReservedDomain(host)) return 'a reserved name that no one outside this machine or network can open';
  if (!host.includes('.')) return 'a name only this network knows';
  return undefined;
}

/**
 * DMARC's relaxed alignment asks for the same organizational domain. Without the public suffix
 * list this compares the last two labels (right for shop.com, too lenient for shop.co.uk): good
 * enough for a warning, which is all it decides.
 */
function sameOrganization(a: string, b: string): boolean {
  const tail = (domain: string) => domain.toLowerCase().split('.').slice(-2).join('.');
  return tail(a) === tail(b);
}

const domainOf = (mailbox: string) => (/<[^<>@]+@([^<>@]+)>\s*$/.exec(mailbox)?.[1] ?? mailbox.split('@').pop() ?? '').trim();

/** The placeholders docker-compose.yml ships: published, so not secret. */
const PLACEHOLDER_SECRET = /change[-_ ]?me|dev[-_ ]?only/i;

export function productionFindings({ config, publicUrlGiven, localOnly }: ProductionInput): ProductionFindings {
  const refusals: ConfigFinding[] = [];
  const warnings: ConfigFinding[] = [];
  const refuse = (variable: string, message: string) => refusals.push({ variable, message });

  // A malformed PUBLIC_URL is reported by the parser already.
  const url = URL.canParse(config.publicUrl) ? new URL(config.publicUrl) : undefined;
  if (url && !publicUrlGiven) {
    refuse('PUBLIC_URL', `is required in production: the https address customers open the links in mails at (e.g. https://news.your-shop.com); the default ${config.publicUrl} works on this machine only`);
  } else if (url) {
    if (url.protocol !== 'https:') {
      refuse('PUBLIC_URL', `must be https in production: RFC 8058 one-click unsubscribe needs an https link, and every customer link carries a personal token; got "${config.publicUrl}"`);
    }
    const unreachable = unreachableHost(url.hostname);
    if (unreachable) refuse('PUBLIC_URL', `must be a host your customers can reach; "${url.hostname}" is ${unreachable}`);
  }

  const mailboxes: [string, string | undefined][] = [
    ['MAIL_FROM', config.mailFrom],
    ['REPLY_TO', config.replyTo === config.mailFrom ? undefined : config.replyTo],
    ...Object.values(config.senderReplyTo).map((mailbox): [string, string] => ['SENDER_REPLY_TO', mailbox]),
    ['UNSUBSCRIBE_MAILTO', config.unsubscribeMailto],
  ];
  for (const [variable, mailbox] of mailboxes) {
    if (mailbox === undefined) continue;
    const domain = domainOf(mailbox);
    if (isReservedDomain(domain)) {
      refuse(variable, `must be on a domain of yours that sends and receives mail; "${domain}" is reserved, so receivers reject or bin mail from it and replies go nowhere`);
    }
  }

  if (!config.smtpUrl) {
    refuse('SMTP_URL', 'is required in production: without it every mail is only written as an .eml file to OUTBOX_DIR and reaches no one');
  }
  if (!config.databaseUrl) {
    refuse(
      'DATABASE_URL',
      'is required in production: the embedded PostgreSQL lives and dies with this process, no other instance can share it (the cadence cap holds across instances only on one database), and nothing backs it up',
    );
  }
  for (const [variable, secret] of [['TOKEN_SECRET', config.tokenSecret], ['WEBHOOK_SECRET', config.webhookSecret]]) {
    if (PLACEHOLDER_SECRET.test(secret)) {
      refuse(variable, 'is a published placeholder (docker-compose.yml ships it): anyone could sign links and webhooks with it; generate one, e.g. `openssl rand -base64 48`');
    }
  }

  if (config.bounceDomain === undefined) {
    warnings.push({
      variable: 'BOUNCE_DOMAIN',
      message:
        "is unset: the envelope sender of every mail is MAIL_FROM's address, so asynchronous bounces land in that mailbox and no one can tell which mail bounced. Set it to a domain whose MX leads to Tactful's inbound receiver (e.g. bounce.your-shop.com); each mail then goes out with a VERP address bounces+<token>@ that domain",
    });
  } else if (isReservedDomain(config.bounceDomain)) {
    refuse('BOUNCE_DOMAIN', `must be a domain of yours that receives mail; "${config.bounceDomain}" is reserved, so bounces to it go nowhere and receivers reject mail whose envelope sender is on it`);
  } else if (!sameOrganization(config.bounceDomain, domainOf(config.mailFrom))) {
    warnings.push({
      variable: 'BOUNCE_DOMAIN',
      message: `"${config.bounceDomain}" is not under MAIL_FROM's domain "${domainOf(config.mailFrom)}": SPF then passes for the bounce domain only, which DMARC does not count as aligned; use a subdomain such as bounce.${domainOf(config.mailFrom)}`,
    });
  }
  if (config.dkim) {
    if (isReservedDomain(config.dkim.domain)) {
      refuse('DKIM_DOMAIN', `must be a domain of yours whose DNS publishes the key; "${config.dkim.domain}" is reserved, so no receiver finds the key`);
    } else if (!sameOrganization(config.dkim.domain, domainOf(config.mailFrom))) {
      warnings.push({
        variable: 'DKIM_DOMAIN',
        message: `"${config.dkim.domain}" is not MAIL_FROM's domain "${domainOf(config.mailFrom)}" or one under it: the signature verifies, but DMARC does not count it as aligned`,
      });
    }
    if (config.dkim.algorithm === 'rsa-sha256' && config.dkim.keyBits < 2048) {
      warnings.push({ variable: 'DKIM_PRIVATE_KEY', message: `is an RSA key of ${config.dkim.keyBits} bits: RFC 8301 asks for at least 2048 bits for signing, and some receivers treat shorter keys as weak` });
    }
  }

  if (config.tokenSecret === config.webhookSecret) {
    warnings.push({ variable: 'WEBHOOK_SECRET', message: 'is the same as TOKEN_SECRET: whoever holds a webhook secret (your shop, your carrier) could then sign customer links; use two secrets' });
  }
  if (config.trustProxy === false && url?.protocol === 'https:') {
    warnings.push({
      variable: 'TRUST_PROXY',
      message:
        'is unset, yet PUBLIC_URL is https and Tactful serves plain HTTP, so a TLS proxy stands in front: every customer then appears as that proxy (customer-page rate limits shared by all, consent evidence records the proxy). Set it to the proxy\'s addresses',
    });
  }
  if (config.trustProxy === true) {
    warnings.push({ variable: 'TRUST_PROXY', message: 'is true: any client may name its own address in X-Forwarded-For unless only your proxy can reach this port; prefer the proxy\'s addresses or a hop count' });
  }
  if (config.logLevel === 'debug' || config.logLevel === 'trace') {
    warnings.push({ variable: 'LOG_LEVEL', message: `is ${config.logLevel}: meant for debugging, and production logs grow fast at this level` });
  }
  // Customers should see the company they know, and German law wants an imprint on every page (§ 5 DDG)
  // and the privacy notice wherever data is collected (GDPR Art. 13).
  if (config.brand) {
    if (config.brand.name === 'Tactful') warnings.push({ variable: 'BRAND_NAME', message: 'is unset: mails and pages are signed "Tactful" instead of your company' });
    if (!config.brand.imprintUrl) warnings.push({ variable: 'BRAND_IMPRINT_URL', message: 'is unset: mails and pages link no imprint, which German sites must show' });
    if (!config.brand.privacyUrl) warnings.push({ variable: 'BRAND_PRIVACY_URL', message: 'is unset: forms and mails link no privacy policy (GDPR Art. 13)' });
  }

  if (localOnly) {
    return {
      refusals: [],
      warnings: [
        ...refusals.map(({ variable, message }) => ({ variable, message: `${message} (accepted because LOCAL_ONLY=true: for local use only, never with real customers)` })),
        ...warnings,
      ],
    };
  }
  return { refusals, warnings };
}
