// The outbound mail settings: the bounce domain (VERP), DKIM, the two streams' relays and their
// rate limits. Each bad value stops the start naming its variable; production warns about what
// works but hurts deliverability.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DevSecrets, loadConfig } from '../../src/config/config';

const dev: DevSecrets = { tokenSecret: 'd'.repeat(32), webhookSecret: 'e'.repeat(32) };
const PRODUCTION = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://news.tactful.dev',
  DATABASE_URL: 'postgres://tactful@db:5432/tactful',
  SMTP_URL: 'smtp://mail.tactful.dev:587',
  MAIL_FROM: 'News <news@tactful.dev>',
  BOUNCE_DOMAIN: 'bounce.tactful.dev',
  TRUST_PROXY: '10.0.0.0/8',
  TOKEN_SECRET: 'k3Vq9'.repeat(8),
  WEBHOOK_SECRET: 'Zp7Lw'.repeat(8),
  // The brand's own warnings (production-checks.spec.ts) stay out of these mail ones.
  BRAND_NAME: 'Tactful GmbH',
  BRAND_IMPRINT_URL: 'https://www.tactful.dev/impressum',
  BRAND_PRIVACY_URL: 'https://www.tactful.dev/datenschutz',
};

const pem = (type: 'rsa' | 'ed25519' | 'ec', bits = 2048): string => {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: bits })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  return pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
};
const ED25519 = pem('ed25519');

function problems(env: Record<string, string | undefined>): { variable: string; message: string }[] {
  try {
    loadConfig(env, dev);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('defaults', () => {
  it('send without VERP or DKIM, one relay for both streams, no rate limit, as many service lanes as marketing ones and a worker pool one larger than all lanes', () => {
    expect(loadConfig({}, dev)).toMatchObject({
      bounceDomain: undefined,
      dkim: undefined,
      smtpMarketingUrl: undefined,
      smtpMarketingMaxConnections: 5,
      smtpRatePerSecond: 0,
      smtpMarketingRatePerSecond: 0,
      workerConcurrency: 8,
      workerServiceConcurrency: 8,
      dbWorkerPoolSize: 17,
    });
  });
});

describe('BOUNCE_DOMAIN', () => {
  it('reads a domain, lower-cased and without a final dot', () => {
    expect(loadConfig({ BOUNCE_DOMAIN: 'Bounce.Shop.DE.' }, dev).bounceDomain).toBe('bounce.shop.de');
  });

  it.each(['bounces@shop.de', 'shop', 'https://bounce.shop.de', 'bounce..shop.de', '-x.shop.de'])('refuses %j, naming the variable', (value) => {
    expect(problems({ BOUNCE_DOMAIN: value })).toEqual([{ variable: 'BOUNCE_DOMAIN', message: expect.stringMatching(/must be a domain name/) }]);
  });
});

describe('DKIM', () => {
  it('reads an Ed25519 key given inline with \\n for its line breaks', () => {
    const config = loadConfig({ DKIM_DOMAIN: 'shop.de', DKIM_SELECTOR: 'tactful2026', DKIM_PRIVATE_KEY: ED25519.replace(/\n/g, '\\n') }, dev);
    expect(config.dkim).toEqual({ domain: 'shop.de', selector: 'tactful2026', privateKeyPem: ED25519, algorithm: 'ed25519-sha256', keyBits: 256 });
  });

  it('reads an RSA key from DKIM_PRIVATE_KEY_FILE', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tactful-dkim-')), 'key.pem');
    const rsa = pem('rsa');
    writeFileSync(file, rsa);
    expect(loadConfig({ DKIM_DOMAIN: 'shop.de', DKIM_SELECTOR: 's1', DKIM_PRIVATE_KEY_FILE: file }, dev).dkim).toMatchObject({
      algorithm: 'rsa-sha256',
      keyBits: 2048,
      privateKeyPem: rsa,
    });
  });

  it('wants all three or none', () => {
    expect(problems({ DKIM_DOMAIN: 'shop.de' })).toEqual([
      { variable: 'DKIM_SELECTOR', message: expect.stringMatching(/all or none/) },
      { variable: 'DKIM_PRIVATE_KEY', message: expect.stringMatching(/all or none/) },
    ]);
    expect(problems({ DKIM_PRIVATE_KEY: ED25519 })).toEqual([
      { variable: 'DKIM_DOMAIN', message: expect.stringMatching(/all or none/) },
      { variable: 'DKIM_SELECTOR', message: expect.stringMatching(/all or none/) },
    ]);
  });

  it.each<[string, Record<string, string>, string, RegExp]>([
    ['both an inline key and a file', { DKIM_PRIVATE_KEY: ED25519, DKIM_PRIVATE_KEY_FILE: '/etc/dkim.pem' }, 'DKIM_PRIVATE_KEY_FILE', /not both/],
    ['a file that is not there', { DKIM_PRIVATE_KEY_FILE: '/nonexistent/dkim.pem' }, 'DKIM_PRIVATE_KEY_FILE', /cannot be read: ENOENT/],
    ['text that is no PEM key', { DKIM_PRIVATE_KEY: 'secret' }, 'DKIM_PRIVATE_KEY', /is not a PEM private key/],
    ['an EC key (DKIM knows RSA and Ed25519)', { DKIM_PRIVATE_KEY: pem('ec') }, 'DKIM_PRIVATE_KEY', /RSA or Ed25519.*got a ec key/],
    ['an RSA key under 1024 bits', { DKIM_PRIVATE_KEY: pem('rsa', 768) }, 'DKIM_PRIVATE_KEY', /768 bits.*under 1024/],
    ['a selector with a space', { DKIM_PRIVATE_KEY: ED25519, DKIM_SELECTOR: 'my key' }, 'DKIM_SELECTOR', /must be a DNS selector/],
  ])('refuses %s, naming the variable', (_, change, variable, message) => {
    expect(problems({ DKIM_DOMAIN: 'shop.de', DKIM_SELECTOR: 's1', ...change })).toEqual([{ variable, message: expect.stringMatching(message) }]);
  });
});

describe('streams and relays', () => {
  it('sends marketing over its own relay with its own connections and rate when SMTP_MARKETING_URL is set', () => {
    const config = loadConfig(
      {
        SMTP_URL: 'smtp://service.relay:587',
        SMTP_RATE_PER_SECOND: '14',
        SMTP_MARKETING_URL: 'smtps://bulk.relay:465',
        SMTP_MARKETING_MAX_CONNECTIONS: '10',
        SMTP_MARKETING_RATE_PER_SECOND: '200',
        WORKER_SERVICE_CONCURRENCY: '4',
      },
      dev,
    );
    expect(config).toMatchObject({
      smtpUrl: 'smtp://service.relay:587',
      smtpRatePerSecond: 14,
      smtpMarketingUrl: 'smtps://bulk.relay:465',
      smtpMarketingMaxConnections: 10,
      smtpMarketingRatePerSecond: 200,
      workerServiceConcurrency: 4,
      dbWorkerPoolSize: 13,
    });
  });

  it.each<[string, Record<string, string>, string, RegExp]>([
    ['a marketing relay without SMTP_URL', { SMTP_MARKETING_URL: 'smtp://bulk.relay:25' }, 'SMTP_MARKETING_URL', /needs SMTP_URL as well/],
    [
      'a marketing rate without a marketing relay',
      { SMTP_URL: 'smtp://relay:25', SMTP_MARKETING_RATE_PER_SECOND: '10' },
      'SMTP_MARKETING_RATE_PER_SECOND',
      /only to a marketing relay of its own/,
    ],
    [
      'an http marketing relay',
      { SMTP_URL: 'smtp://relay:25', SMTP_MARKETING_URL: 'http://bulk.relay' },
      'SMTP_MARKETING_URL',
      /must start with smtp: or smtps:/,
    ],
    [
      'a worker pool no larger than its lanes under a rate limit',
      { SMTP_RATE_PER_SECOND: '14', DB_WORKER_POOL_SIZE: '10' },
      'DB_WORKER_POOL_SIZE',
      /must be more than .* \(16\) with a rate limit/,
    ],
    ['no service lane', { WORKER_SERVICE_CONCURRENCY: '0' }, 'WORKER_SERVICE_CONCURRENCY', /from 1 to 200/],
  ])('refuses %s, naming the variable', (_, env, variable, message) => {
    expect(problems(env)).toEqual([{ variable, message: expect.stringMatching(message) }]);
  });

  it('lets a worker pool as small as its lanes be when nothing is rate-limited', () => {
    expect(loadConfig({ DB_WORKER_POOL_SIZE: '10' }, dev).dbWorkerPoolSize).toBe(10);
  });
});

describe('production checks for mail authentication', () => {
  // The brand's own warnings (an unset name, imprint, privacy policy) are config.spec's concern.
  const warningsOf = (env: Record<string, string | undefined>) =>
    loadConfig({ ...PRODUCTION, ...env }).startupWarnings.filter((w) => !w.variable.startsWith('BRAND_'));

  it('are quiet with a bounce domain under MAIL_FROM and DKIM for its domain', () => {
    expect(warningsOf({ DKIM_DOMAIN: 'tactful.dev', DKIM_SELECTOR: 's1', DKIM_PRIVATE_KEY: ED25519 })).toEqual([]);
  });

  it('warn without a bounce domain: bounces then reach MAIL_FROM and name no mail', () => {
    expect(warningsOf({ BOUNCE_DOMAIN: undefined })).toEqual([
      { variable: 'BOUNCE_DOMAIN', message: expect.stringMatching(/is unset: the envelope sender .* MAIL_FROM's address/) },
    ]);
  });

  it("warn when the bounce or DKIM domain is not MAIL_FROM's organization (no DMARC alignment)", () => {
    expect(warningsOf({ BOUNCE_DOMAIN: 'bounce.mailer.net', DKIM_DOMAIN: 'mailer.net', DKIM_SELECTOR: 's1', DKIM_PRIVATE_KEY: ED25519 })).toEqual([
      { variable: 'BOUNCE_DOMAIN', message: expect.stringMatching(/not under MAIL_FROM's domain "tactful.dev".*DMARC/) },
      { variable: 'DKIM_DOMAIN', message: expect.stringMatching(/not MAIL_FROM's domain.*DMARC/) },
    ]);
  });

  it('warn about an RSA key under 2048 bits (RFC 8301)', () => {
    expect(warningsOf({ DKIM_DOMAIN: 'tactful.dev', DKIM_SELECTOR: 's1', DKIM_PRIVATE_KEY: pem('rsa', 1024) })).toEqual([
      { variable: 'DKIM_PRIVATE_KEY', message: expect.stringMatching(/1024 bits: RFC 8301/) },
    ]);
  });

  it('refuse a reserved bounce or DKIM domain, which no one can reach', () => {
    expect(problems({ ...PRODUCTION, BOUNCE_DOMAIN: 'bounce.shop.test', DKIM_DOMAIN: 'shop.example', DKIM_SELECTOR: 's1', DKIM_PRIVATE_KEY: ED25519 })).toEqual(
      [
        { variable: 'BOUNCE_DOMAIN', message: expect.stringMatching(/"bounce.shop.test" is reserved/) },
        { variable: 'DKIM_DOMAIN', message: expect.stringMatching(/"shop.example" is reserved/) },
      ],
    );
  });
});
