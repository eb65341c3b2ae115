// NODE_ENV=production refuses what cannot work with real customers, naming the variable, and warns
// about what is merely unusual; LOCAL_ONLY=true (docker-compose.yml) turns refusals into warnings.
import { ConfigError, loadConfig } from '../../src/config/config';
import { isReservedDomain } from '../../src/config/production-checks';

/** A production environment with nothing to refuse or warn about. */
const PRODUCTION = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://news.tactful.dev',
  DATABASE_URL: 'postgres://tactful:secret@db.internal.tactful.dev:5432/tactful',
  SMTP_URL: 'smtp://mail.tactful.dev:587',
  MAIL_FROM: 'Tactful <newsletter@tactful.dev>',
  BOUNCE_DOMAIN: 'bounce.tactful.dev',
  TRUST_PROXY: '10.0.0.0/8',
  TOKEN_SECRET: 'k3Vq9'.repeat(8),
  WEBHOOK_SECRET: 'Zp7Lw'.repeat(8),
  BRAND_NAME: 'Beispiel GmbH',
  BRAND_IMPRINT_URL: 'https://www.beispiel.dev/impressum',
  BRAND_PRIVACY_URL: 'https://www.beispiel.dev/datenschutz',
};

function problems(env: Record<string, string | undefined>): { variable: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('production checks', () => {
  it('start a complete production configuration without a refusal or a warning', () => {
    const config = loadConfig(PRODUCTION);
    expect(config.startupWarnings).toEqual([]);
  });

  it('start with a warning for each unset part of the brand customers must see (name, imprint, privacy policy)', () => {
    const config = loadConfig({ ...PRODUCTION, BRAND_NAME: undefined, BRAND_IMPRINT_URL: undefined, BRAND_PRIVACY_URL: undefined } as Record<string, string | undefined>);
    expect(config.startupWarnings.map((w) => w.variable)).toEqual(['BRAND_NAME', 'BRAND_IMPRINT_URL', 'BRAND_PRIVACY_URL']);
  });

  it.each<[string, Record<string, string | undefined>, string, RegExp]>([
    ['no PUBLIC_URL (the default works on this machine only)', { PUBLIC_URL: undefined }, 'PUBLIC_URL', /is required in production.*http:\/\/localhost:3000/],
    ['an http PUBLIC_URL (RFC 8058 one-click needs https)', { PUBLIC_URL: 'http://news.tactful.dev' }, 'PUBLIC_URL', /must be https.*RFC 8058/],
    ['PUBLIC_URL on localhost', { PUBLIC_URL: 'https://localhost:3000' }, 'PUBLIC_URL', /"localhost" is a reserved name/],
    ['PUBLIC_URL on a .localhost name', { PUBLIC_URL: 'https://tactful.localhost' }, 'PUBLIC_URL', /reserved name/],
    ['PUBLIC_URL on .test', { PUBLIC_URL: 'https://news.tactful.test' }, 'PUBLIC_URL', /reserved name/],
    ['PUBLIC_URL on .local (mDNS)', { PUBLIC_URL: 'https://shop.local' }, 'PUBLIC_URL', /reserved name/],
    ['PUBLIC_URL on example.com', { PUBLIC_URL: 'https://news.example.com' }, 'PUBLIC_URL', /reserved name/],
    ['PUBLIC_URL on a loopback address', { PUBLIC_URL: 'https://127.0.0.1:3000' }, 'PUBLIC_URL', /local or private address/],
    ['PUBLIC_URL on a private address', { PUBLIC_URL: 'https://192.168.1.20' }, 'PUBLIC_URL', /local or private address/],
    ['PUBLIC_URL on IPv6 loopback', { PUBLIC_URL: 'https://[::1]:3000' }, 'PUBLIC_URL', /local or private address/],
    ['PUBLIC_URL on a single-label name', { PUBLIC_URL: 'https://tactful' }, 'PUBLIC_URL', /only this network knows/],
    ['MAIL_FROM on .localhost', { MAIL_FROM: 'Tactful <newsletter@tactful.localhost>' }, 'MAIL_FROM', /"tactful.localhost" is reserved/],
    ['MAIL_FROM on example.com', { MAIL_FROM: 'news@example.com' }, 'MAIL_FROM', /"example.com" is reserved/],
    ['REPLY_TO on .test', { REPLY_TO: 'Team <hello@shop.test>' }, 'REPLY_TO', /"shop.test" is reserved/],
    ['a SENDER_REPLY_TO entry on .invalid', { SENDER_REPLY_TO: '{"events":"Events <events@tactful.invalid>"}' }, 'SENDER_REPLY_TO', /"tactful.invalid" is reserved/],
    ['UNSUBSCRIBE_MAILTO on .example', { UNSUBSCRIBE_MAILTO: 'unsubscribe@shop.example' }, 'UNSUBSCRIBE_MAILTO', /"shop.example" is reserved/],
    ['no SMTP_URL (mail only written to files)', { SMTP_URL: undefined }, 'SMTP_URL', /\.eml file.*reaches no one/],
    ['no DATABASE_URL (the embedded PostgreSQL)', { DATABASE_URL: undefined }, 'DATABASE_URL', /embedded PostgreSQL lives and dies with this process/],
    ['the TOKEN_SECRET docker-compose.yml ships', { TOKEN_SECRET: 'dev-only-token-secret-change-me-01234567' }, 'TOKEN_SECRET', /published placeholder/],
    ['the WEBHOOK_SECRET docker-compose.yml ships', { WEBHOOK_SECRET: 'dev-only-webhook-secret-change-me-012345' }, 'WEBHOOK_SECRET', /published placeholder/],
  ])('refuse %s, naming the variable', (_, change, variable, message) => {
    expect(problems({ ...PRODUCTION, ...change })).toEqual([{ variable, message: expect.stringMatching(message) }]);
  });

  it('list every refusal in one start, as the rest of the configuration does', () => {
    const found = problems({ NODE_ENV: 'production', TOKEN_SECRET: PRODUCTION.TOKEN_SECRET, WEBHOOK_SECRET: PRODUCTION.WEBHOOK_SECRET });
    expect(found.map((p) => p.variable)).toEqual(['PUBLIC_URL', 'MAIL_FROM', 'SMTP_URL', 'DATABASE_URL']);
  });

  it('report a malformed PUBLIC_URL once, as malformed', () => {
    expect(problems({ ...PRODUCTION, PUBLIC_URL: 'news.tactful.dev' })).toEqual([{ variable: 'PUBLIC_URL', message: 'is not a valid URL' }]);
  });

  it('accept public hosts and addresses, and subdomains of real domains that merely contain a reserved word', () => {
    for (const url of ['https://news.shop.de', 'https://185.12.64.1', 'https://test.shop.de', 'https://local-news.de']) {
      expect({ url, problems: problems({ ...PRODUCTION, PUBLIC_URL: url }) }).toEqual({ url, problems: [] });
    }
  });

  it.each<[string, Record<string, string | undefined>, string, RegExp]>([
    ['TRUST_PROXY unset behind https (every customer appears as the proxy)', { TRUST_PROXY: undefined }, 'TRUST_PROXY', /TLS proxy stands in front/],
    ['TRUST_PROXY=true (anyone may name their address)', { TRUST_PROXY: 'true' }, 'TRUST_PROXY', /any client may name its own address/],
    ['LOG_LEVEL=debug', { LOG_LEVEL: 'debug' }, 'LOG_LEVEL', /meant for debugging/],
    ['one secret for tokens and webhooks', { WEBHOOK_SECRET: PRODUCTION.TOKEN_SECRET }, 'WEBHOOK_SECRET', /same as TOKEN_SECRET/],
  ])('start with a warning on %s', (_, change, variable, message) => {
    expect(loadConfig({ ...PRODUCTION, ...change }).startupWarnings).toEqual([{ variable, message: expect.stringMatching(message) }]);
  });

  it('with LOCAL_ONLY=true, start on what they would refuse and warn about each, saying it is for local use only', () => {
    const config = loadConfig({ ...PRODUCTION, LOCAL_ONLY: 'true', PUBLIC_URL: 'http://localhost:3000', MAIL_FROM: 'news@tactful.localhost', BOUNCE_DOMAIN: 'bounce.tactful.localhost', SMTP_URL: undefined });
    expect(config.startupWarnings).toEqual([
      { variable: 'PUBLIC_URL', message: expect.stringMatching(/must be https.*LOCAL_ONLY=true: for local use only/) },
      { variable: 'PUBLIC_URL', message: expect.stringMatching(/reserved name.*LOCAL_ONLY=true/) },
      { variable: 'MAIL_FROM', message: expect.stringMatching(/reserved.*LOCAL_ONLY=true/) },
      { variable: 'SMTP_URL', message: expect.stringMatching(/reaches no one.*LOCAL_ONLY=true/) },
      { variable: 'BOUNCE_DOMAIN', message: expect.stringMatching(/reserved.*LOCAL_ONLY=true/) },
    ]);
  });

  it('judge only production: development and test keep their local defaults without a word', () => {
    for (const NODE_ENV of ['development', 'test']) {
      expect(loadConfig({ NODE_ENV }, { tokenSecret: 'd'.repeat(32), webhookSecret: 'e'.repeat(32) }).startupWarnings).toEqual([]);
    }
  });
});

describe('isReservedDomain', () => {
  it.each(['localhost', 'tactful.localhost', 'a.test', 'example', 'x.invalid', 'printer.local', 'corp.internal', 'nas.home.arpa', 'example.com', 'news.example.org', 'EXAMPLE.NET.'])('%s is reserved', (domain) => {
    expect(isReservedDomain(domain)).toBe(true);
  });
  it.each(['tactful.dev', 'shop.de', 'test.shop.de', 'localhost.shop.de', 'myexample.com', 'examples.org'])('%s is not', (domain) => {
    expect(isReservedDomain(domain)).toBe(false);
  });
});
