// Config is read once at start-up; a bad value must stop the start with a message naming the variable.
import { AppConfig, ConfigError, DEFAULT_BRAND, DevSecrets, isIanaTimeZone, loadConfig } from '../../src/config/config';

const dev: DevSecrets = {
  tokenSecret: 'dev-token-secret-0123456789abcdef0123456789',
  webhookSecret: 'dev-webhook-secret-0123456789abcdef01234567',
};
const SECRETS = { TOKEN_SECRET: 'x'.repeat(32), WEBHOOK_SECRET: 'y'.repeat(32) };
/** All production needs besides the secrets (test/unit/production-checks.spec.ts: what it refuses). */
const PRODUCTION = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://news.tactful.dev',
  DATABASE_URL: 'postgres://tactful@db:5432/tactful',
  SMTP_URL: 'smtp://mail.tactful.dev:587',
  MAIL_FROM: 'News <news@tactful.dev>',
};

/** The ConfigError loadConfig throws, or a failure when it does not throw one. */
function configError(env: Record<string, string | undefined>, devSecrets: DevSecrets | undefined = dev): ConfigError {
  try {
    loadConfig(env, devSecrets);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  it('starts with no environment at all outside production, using the dev secrets from the data folder', () => {
    const config = loadConfig({}, dev);
    expect(config).toMatchObject<Partial<AppConfig>>({
      env: 'development',
      port: 3000,
      host: '0.0.0.0',
      trustProxy: false,
      publicUrl: 'http://localhost:3000',
      databaseUrl: undefined,
      workerIsolation: 'thread',
      dbPoolSize: 10,
      dataDir: '.data',
      embeddedPostgresPort: 54329,
      smtpUrl: undefined,
      smtpMaxConnections: 5,
      smtpRatePerSecond: 0,
      mailFrom: 'Tactful <newsletter@tactful.localhost>',
      outboxDir: 'outbox',
      senderPostalAddress: 'Tactful GmbH, Musterstraße 1, 10115 Berlin',
      brand: DEFAULT_BRAND,
      adminApiKey: undefined,
      tokenSecret: dev.tokenSecret,
      webhookSecret: dev.webhookSecret,
      logLevel: 'info',
      bodyLimitBytes: 1024 * 1024,
      importBodyLimitBytes: 64 * 1024 * 1024,
      defaultLocale: 'de',
      defaultTimeZone: 'Europe/Berlin',
      schedulerEnabled: true,
    });
  });

  it('derives PUBLIC_URL from PORT and logs at warn under NODE_ENV=test', () => {
    const config = loadConfig({ PORT: '8080', NODE_ENV: 'test' }, dev);
    expect(config.publicUrl).toBe('http://localhost:8080');
    expect(config.logLevel).toBe('warn');
  });

  it('treats empty and blank values as unset and trims the rest', () => {
    const config = loadConfig({ PORT: '', DATABASE_URL: '   ', MAIL_FROM: '  News <news@example.com>  ' }, dev);
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.mailFrom).toBe('News <news@example.com>');
  });

  it('reads every variable it is given', () => {
    const config = loadConfig(
      {
        NODE_ENV: 'production',
        PORT: '4000',
        HOST: '127.0.0.1',
        PUBLIC_URL: 'https://news.tactful.dev/',
        DATABASE_URL: 'postgresql://u:p@db:5432/tactful',
        DB_POOL_SIZE: '20',
        DATA_DIR: '/var/lib/tactful',
        EMBEDDED_PG_PORT: '6000',
        SMTP_URL: 'smtps://user:pass@mail.tactful.dev:465',
        SMTP_MAX_CONNECTIONS: '8',
        SMTP_RATE_PER_SECOND: '250',
        MAIL_FROM: 'News <news@tactful.dev>',
        OUTBOX_DIR: '/tmp/out',
        SENDER_POSTAL_ADDRESS: 'Example AG, 8000 Zürich',
        ADMIN_API_KEY: 'a'.repeat(24),
        ...SECRETS,
        LOG_LEVEL: 'debug',
        BODY_LIMIT_BYTES: '2048',
        IMPORT_BODY_LIMIT_BYTES: '4096',
        DEFAULT_LOCALE: 'en',
        DEFAULT_TIME_ZONE: 'America/New_York',
        SCHEDULER_ENABLED: 'no',
      },
      undefined,
    );
    expect(config).toMatchObject({
      env: 'production',
      port: 4000,
      host: '127.0.0.1',
      publicUrl: 'https://news.tactful.dev', // trailing slash dropped, so links can append paths
      databaseUrl: 'postgresql://u:p@db:5432/tactful',
      dbPoolSize: 20,
      dataDir: '/var/lib/tactful',
      embeddedPostgresPort: 6000,
      smtpUrl: 'smtps://user:pass@mail.tactful.dev:465',
      smtpMaxConnections: 8,
      smtpRatePerSecond: 250,
      outboxDir: '/tmp/out',
      senderPostalAddress: 'Example AG, 8000 Zürich',
      adminApiKey: 'a'.repeat(24),
      tokenSecret: SECRETS.TOKEN_SECRET,
      webhookSecret: SECRETS.WEBHOOK_SECRET,
      logLevel: 'debug',
      bodyLimitBytes: 2048,
      importBodyLimitBytes: 4096,
      defaultLocale: 'en',
      defaultTimeZone: 'America/New_York',
      schedulerEnabled: false,
    });
  });

  it.each([
    ['true', true],
    ['1', true],
    ['YES', true],
    ['false', false],
    ['0', false],
    ['No', false],
  ])('reads SCHEDULER_ENABLED=%s as %s', (value, expected) => {
    expect(loadConfig({ SCHEDULER_ENABLED: value }, dev).schedulerEnabled).toBe(expected);
  });
});

describe('loadConfig rejects a bad value, naming the variable', () => {
  it.each<[string, string]>([
    ['NODE_ENV', 'staging'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', 'http'],
    ['PUBLIC_URL', 'ftp://example.com'],
    ['PUBLIC_URL', 'not a url'],
    ['DATABASE_URL', 'mysql://u:p@db/tactful'],
    ['DATABASE_URL', 'localhost:5432'],
    ['DB_POOL_SIZE', '0'],
    ['DB_POOL_SIZE', '201'],
    ['EMBEDDED_PG_PORT', '80'],
    ['EMBEDDED_PG_PORT', '65536'],
    ['SMTP_URL', 'http://mail.example.com'],
    ['SMTP_MAX_CONNECTIONS', '0'],
    ['SMTP_MAX_CONNECTIONS', '101'],
    ['SMTP_RATE_PER_SECOND', '-5'],
    ['SMTP_RATE_PER_SECOND', '100001'],
    ['ADMIN_API_KEY', 'too-short-key'],
    ['TOKEN_SECRET', 'short-secret'],
    ['WEBHOOK_SECRET', 'x'.repeat(31)],
    ['LOG_LEVEL', 'verbose'],
    ['WORKER_ISOLATION', 'process'],
    ['BODY_LIMIT_BYTES', '1023'],
    ['BODY_LIMIT_BYTES', String(64 * 1024 * 1024 + 1)],
    ['IMPORT_BODY_LIMIT_BYTES', '100'],
    ['IMPORT_BODY_LIMIT_BYTES', String(1024 * 1024 * 1024 + 1)],
    ['DEFAULT_LOCALE', 'fr'],
    ['DEFAULT_TIME_ZONE', 'Mars/Olympus'],
    ['SCHEDULER_ENABLED', 'maybe'],
    ['TOKEN_SECRETS_PREVIOUS', `${'a'.repeat(32)},short`],
    ['WEBHOOK_SECRETS_PREVIOUS', 'short'],
    ['TRUST_PROXY', 'yes'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['TRUST_PROXY', '10.0.0.1,lb.internal'],
    ['TRUST_PROXY', 'fe80::/129'],
    ['DB_SCHEDULER_POOL_SIZE', '1'],
    ['DB_WORKER_POOL_SIZE', '0'],
    ['DB_STATEMENT_TIMEOUT_MS', '0'],
    ['DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 'soon'],
    ['SHUTDOWN_TIMEOUT_MS', '600001'],
    ['IDEMPOTENCY_RETENTION_HOURS', '0'],
    ['DB_INBOUND_POOL_SIZE', '0'],
    ['SCHEDULER_PRUNE_HOUSEKEEPING_SECONDS', '0'],
    ['WEBHOOK_EVENTS_RETENTION_DAYS', '6'],
    ['BOUNCE_DOMAIN', 'bounce shop.example'],
    ['BOUNCE_DOMAIN', 'bounces@shop.example'],
    ['INBOUND_SMTP_ENABLED', 'sometimes'],
    ['INBOUND_SMTP_PORT', '65536'],
    ['INBOUND_SMTP_MAX_BYTES', '100'],
    ['INBOUND_SMTP_TLS_KEY', '/etc/tactful/inbound.key'],
    ['INBOUND_SMTP_TLS_CERT', '/etc/tactful/inbound.pem'],
    ['SOFT_BOUNCE_LIMIT', '0'],
    ['SOFT_BOUNCE_DAYS', '366'],
    ['SES_SNS_TOPIC_ARNS', 'arn:aws:sns:eu-central-1:123456789012:ses-events,ses-events'],
    ['SENDGRID_WEBHOOK_PUBLIC_KEY', 'not-a-key'],
    ['POSTMARK_WEBHOOK_USER', 'tactful'],
    ['POSTMARK_WEBHOOK_PASSWORD', 'x'.repeat(20)],
    ['SNS_TEST_HOSTS', '127.0.0.1:8080'],
  ])('%s=%s', (variable, value) => {
    const error = configError({ [variable]: value });
    expect(error.problems).toEqual([expect.objectContaining({ variable })]);
    expect(error.message).toContain(`${variable}:`);
  });

  it('reports every bad variable at once, so one failed start shows them all', () => {
    const error = configError({ PORT: 'x', LOG_LEVEL: 'loud', DEFAULT_LOCALE: 'fr', SMTP_URL: 'mailto:a@b' });
    expect(error.problems.map((p) => p.variable).sort()).toEqual(['DEFAULT_LOCALE', 'LOG_LEVEL', 'PORT', 'SMTP_URL']);
    expect(error.message.split('\n')).toHaveLength(5);
  });

  it('shows the offending value for numbers and enums', () => {
    expect(configError({ DB_POOL_SIZE: '999' }).problems[0].message).toBe('must be a whole number from 1 to 200, got "999"');
    expect(configError({ LOG_LEVEL: 'loud' }).problems[0].message).toContain('got "loud"');
  });
});

describe('connection budgets, timeouts and retention', () => {
  it("defaults to a pool per class of work, the worker's as large as its concurrency, and bounded waits", () => {
    expect(loadConfig({ WORKER_CONCURRENCY: '12' }, dev)).toMatchObject<Partial<AppConfig>>({
      dbPoolSize: 10,
      dbReportsPoolSize: 3,
      dbImportPoolSize: 2,
      dbWorkerPoolSize: 25,
      dbSchedulerPoolSize: 6,
      dbInboundPoolSize: 2,
      dbStatementTimeoutMs: 30_000,
      dbJobStatementTimeoutMs: 600_000,
      dbIdleInTransactionTimeoutMs: 60_000,
      dbPoolWaitMs: 10_000,
      shutdownTimeoutMs: 25_000,
      importIdleTimeoutMs: 30_000,
      idempotencyRetentionHours: 24,
    });
    expect(loadConfig({ WORKER_CONCURRENCY: '12', DB_WORKER_POOL_SIZE: '4' }, dev).dbWorkerPoolSize).toBe(4);
  });
});

describe('the inbound half of the mail loop', () => {
  it('is off by default: no receiver, no bounce domain, no provider; soft bounces suppress at 5 within 30 days', () => {
    expect(loadConfig({}, dev)).toMatchObject<Partial<AppConfig>>({
      bounceDomain: undefined,
      inboundSmtp: { enabled: false, port: 2525, host: '0.0.0.0', maxBytes: 10 * 1024 * 1024, tlsKeyFile: undefined, tlsCertFile: undefined },
      softBounceLimit: 5,
      softBounceDays: 30,
      mailProviders: {
        sesTopicArns: [],
        sendgridPublicKey: undefined,
        postmarkUser: undefined,
        postmarkPassword: undefined,
        mailgunSigningKey: undefined,
        snsTestHosts: [],
      },
    });
  });

  it('reads the receiver, the soft-bounce policy and every provider', () => {
    const sendgridKey = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==';
    const config = loadConfig(
      {
        NODE_ENV: 'test',
        BOUNCE_DOMAIN: 'Bounce.Shop.Example',
        INBOUND_SMTP_ENABLED: 'true',
        INBOUND_SMTP_PORT: '25',
        INBOUND_SMTP_HOST: '127.0.0.1',
        INBOUND_SMTP_MAX_BYTES: '2048',
        INBOUND_SMTP_TLS_KEY: '/etc/tactful/inbound.key',
        INBOUND_SMTP_TLS_CERT: '/etc/tactful/inbound.pem',
        SOFT_BOUNCE_LIMIT: '3',
        SOFT_BOUNCE_DAYS: '14',
        SES_SNS_TOPIC_ARNS: 'arn:aws:sns:eu-central-1:123456789012:ses-bounces, arn:aws:sns:eu-central-1:123456789012:ses-complaints',
        SENDGRID_WEBHOOK_PUBLIC_KEY: sendgridKey,
        POSTMARK_WEBHOOK_USER: 'tactful',
        POSTMARK_WEBHOOK_PASSWORD: 'p'.repeat(16),
        MAILGUN_WEBHOOK_SIGNING_KEY: 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0',
        SNS_TEST_HOSTS: '127.0.0.1:8443',
        DB_INBOUND_POOL_SIZE: '4',
      },
      dev,
    );
    expect(config).toMatchObject<Partial<AppConfig>>({
      bounceDomain: 'bounce.shop.example',
      inboundSmtp: {
        enabled: true,
        port: 25,
        host: '127.0.0.1',
        maxBytes: 2048,
        tlsKeyFile: '/etc/tactful/inbound.key',
        tlsCertFile: '/etc/tactful/inbound.pem',
      },
      softBounceLimit: 3,
      softBounceDays: 14,
      dbInboundPoolSize: 4,
      mailProviders: {
        sesTopicArns: ['arn:aws:sns:eu-central-1:123456789012:ses-bounces', 'arn:aws:sns:eu-central-1:123456789012:ses-complaints'],
        sendgridPublicKey: sendgridKey,
        postmarkUser: 'tactful',
        postmarkPassword: 'p'.repeat(16),
        mailgunSigningKey: 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0',
        snsTestHosts: ['127.0.0.1:8443'],
      },
    });
  });

  it('says why SNS_TEST_HOSTS is refused outside tests', () => {
    expect(configError({ SNS_TEST_HOSTS: 'localhost:8443' }).problems).toEqual([
      { variable: 'SNS_TEST_HOSTS', message: expect.stringMatching(/tests only \(NODE_ENV=test\)/) },
    ]);
  });
});

describe('secrets', () => {
  it('requires TOKEN_SECRET and WEBHOOK_SECRET in production, ignoring dev secrets there', () => {
    const error = configError(PRODUCTION, dev);
    expect(error.problems).toEqual([
      { variable: 'TOKEN_SECRET', message: 'is required in production' },
      { variable: 'WEBHOOK_SECRET', message: 'is required in production' },
    ]);
  });

  it('starts in production once both secrets are long enough', () => {
    const config = loadConfig({ ...PRODUCTION, ...SECRETS });
    expect(config.tokenSecret).toBe(SECRETS.TOKEN_SECRET);
  });

  it('rejects a short secret in production as well as in development', () => {
    expect(configError({ ...PRODUCTION, TOKEN_SECRET: 'short', WEBHOOK_SECRET: SECRETS.WEBHOOK_SECRET }).problems).toEqual([
      { variable: 'TOKEN_SECRET', message: 'must be at least 32 characters long' },
    ]);
    expect(configError({ WEBHOOK_SECRET: 'short' }).problems).toEqual([{ variable: 'WEBHOOK_SECRET', message: 'must be at least 32 characters long' }]);
  });

  it('prefers a secret from the environment over the dev secret', () => {
    expect(loadConfig({ TOKEN_SECRET: SECRETS.TOKEN_SECRET }, dev).tokenSecret).toBe(SECRETS.TOKEN_SECRET);
  });

  it('accepts an admin key of exactly 24 characters', () => {
    expect(loadConfig({ ADMIN_API_KEY: 'k'.repeat(24) }, dev).adminApiKey).toBe('k'.repeat(24));
    expect(configError({ ADMIN_API_KEY: 'k'.repeat(23) }).problems[0].variable).toBe('ADMIN_API_KEY');
  });
});

describe('TRUST_PROXY', () => {
  it.each<[string, boolean | number | string[]]>([
    ['false', false],
    ['true', true],
    ['2', 2],
    ['10.0.0.0/8, 127.0.0.1', ['10.0.0.0/8', '127.0.0.1']],
    ['fd00::/8', ['fd00::/8']],
  ])('%s', (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }, dev).trustProxy).toEqual(expected);
  });
});

describe('isIanaTimeZone', () => {
  it.each(['Europe/Berlin', 'America/Argentina/Buenos_Aires', 'UTC', 'Asia/Kolkata'])('accepts %s', (zone) => {
    expect(isIanaTimeZone(zone)).toBe(true);
  });
  it.each(['Mars/Olympus', 'Berlin', '', 'Europe/Berlin '])('rejects "%s"', (zone) => {
    expect(isIanaTimeZone(zone)).toBe(false);
  });
});

describe('WEBINAR_REMINDER_MINUTES', () => {
  it('defaults to one day and one hour before the start', () => {
    expect(loadConfig({}, dev).webinarReminderMinutes).toEqual([1440, 60]);
  });

  it('reads up to two comma-separated minute values', () => {
    expect(loadConfig({ WEBINAR_REMINDER_MINUTES: '2880, 30' }, dev).webinarReminderMinutes).toEqual([2880, 30]);
    expect(loadConfig({ WEBINAR_REMINDER_MINUTES: '15' }, dev).webinarReminderMinutes).toEqual([15]);
  });

  it.each(['1440,60,15', '0', '60,', 'one hour'])('rejects "%s", naming the variable', (value) => {
    expect(configError({ WEBINAR_REMINDER_MINUTES: value }).problems).toEqual([
      { variable: 'WEBINAR_REMINDER_MINUTES', message: expect.stringContaining('at most 2 comma-separated whole numbers') },
    ]);
  });
});

describe('QUIET_HOURS', () => {
  it('defaults to 21:00 to 08:00 local time', () => {
    expect(loadConfig({}, dev).quietHours).toEqual({ start: 21, end: 8 });
  });

  it.each<[string, { start: number; end: number }]>([
    ['22-6', { start: 22, end: 6 }],
    ['20:00-07:00', { start: 20, end: 7 }],
    ['0 - 7', { start: 0, end: 7 }],
    ['12-14', { start: 12, end: 14 }],
    ['off', { start: 0, end: 0 }],
    ['none', { start: 0, end: 0 }],
    ['OFF', { start: 0, end: 0 }],
  ])('reads "%s"', (value, expected) => {
    expect(loadConfig({ QUIET_HOURS: value }, dev).quietHours).toEqual(expected);
  });

  it.each(['21', '21-8-9', '25-8', '21-24', '8-8', '21:30-08:00', 'night', '-1-8'])(
    'rejects "%s", naming the variable and the way to switch them off',
    (value) => {
      expect(configError({ QUIET_HOURS: value }).problems).toEqual([
        { variable: 'QUIET_HOURS', message: expect.stringMatching(/START-END, such as 21-8 .*, or off, got "/) },
      ]);
    },
  );
});

describe('scheduler intervals', () => {
  it('ticks every job at its default interval', () => {
    expect(loadConfig({}, dev).schedulerIntervals).toEqual({
      'dispatch-campaigns': 5,
      'campaign-progress': 10,
      'compose-digests': 30,
      'expire-deferred': 60,
      'double-opt-in': 60,
      'webinar-reminders': 60,
      'resume-paused': 60,
      'prune-idempotency-keys': 900,
      'prune-housekeeping': 900,
      'fold-delivery-counts': 10,
      'rotate-decision-log': 3600,
    });
  });

  it('reads one SCHEDULER_<JOB>_SECONDS variable per job', () => {
    const config = loadConfig(
      {
        SCHEDULER_DISPATCH_CAMPAIGNS_SECONDS: '2',
        SCHEDULER_CAMPAIGN_PROGRESS_SECONDS: '30',
        SCHEDULER_COMPOSE_DIGESTS_SECONDS: '15',
        SCHEDULER_EXPIRE_DEFERRED_SECONDS: '600',
        SCHEDULER_DOUBLE_OPT_IN_SECONDS: '3600',
        SCHEDULER_WEBINAR_REMINDERS_SECONDS: '20',
        SCHEDULER_RESUME_PAUSED_SECONDS: '86400',
        SCHEDULER_PRUNE_IDEMPOTENCY_KEYS_SECONDS: '3600',
        SCHEDULER_PRUNE_HOUSEKEEPING_SECONDS: '7200',
        SCHEDULER_FOLD_DELIVERY_COUNTS_SECONDS: '30',
        SCHEDULER_ROTATE_DECISION_LOG_SECONDS: '600',
      },
      dev,
    );
    expect(config.schedulerIntervals).toEqual({
      'dispatch-campaigns': 2,
      'campaign-progress': 30,
      'compose-digests': 15,
      'expire-deferred': 600,
      'double-opt-in': 3600,
      'webinar-reminders': 20,
      'resume-paused': 86400,
      'prune-idempotency-keys': 3600,
      'prune-housekeeping': 7200,
      'fold-delivery-counts': 30,
      'rotate-decision-log': 600,
    });
  });

  it.each(['0', '86401', '1.5', 'often'])('rejects SCHEDULER_DISPATCH_CAMPAIGNS_SECONDS=%s, naming the variable', (value) => {
    expect(configError({ SCHEDULER_DISPATCH_CAMPAIGNS_SECONDS: value }).problems).toEqual([
      { variable: 'SCHEDULER_DISPATCH_CAMPAIGNS_SECONDS', message: `must be a whole number from 1 to 86400, got "${value}"` },
    ]);
  });
});

describe('housekeeping retention', () => {
  it('keeps webhook events, scheduler runs and cadence records 30 days, delivery keys 90 days and the decision log 13 months by default', () => {
    expect(loadConfig({}, dev).retention).toEqual({
      webhookEventsDays: 30,
      schedulerRunsDays: 30,
      marketingSendsDays: 30,
      deliveryKeysDays: 90,
      decisionLogMonths: 13,
    });
  });

  it('reads one <TABLE>_RETENTION_<UNIT> variable per table', () => {
    const config = loadConfig(
      {
        WEBHOOK_EVENTS_RETENTION_DAYS: '7',
        SCHEDULER_RUNS_RETENTION_DAYS: '90',
        MARKETING_SENDS_RETENTION_DAYS: '16',
        DELIVERY_KEYS_RETENTION_DAYS: '30',
        DECISION_LOG_RETENTION_MONTHS: '25',
      },
      dev,
    );
    expect(config.retention).toEqual({ webhookEventsDays: 7, schedulerRunsDays: 90, marketingSendsDays: 16, deliveryKeysDays: 30, decisionLogMonths: 25 });
  });

  it.each([
    ['DELIVERY_KEYS_RETENTION_DAYS', '29', 'must be a whole number from 30 to 3650, got "29"'],
    ['DECISION_LOG_RETENTION_MONTHS', '1', 'must be a whole number from 2 to 1200, got "1"'],
  ])('refuses %s=%s, naming the variable', (variable, value, message) => {
    expect(configError({ [variable]: value }).problems).toEqual([{ variable, message }]);
  });

  it('refuses a cadence-record retention shorter than the longest window plus a day', () => {
    expect(configError({ MARKETING_SENDS_RETENTION_DAYS: '15' }).problems).toEqual([
      { variable: 'MARKETING_SENDS_RETENTION_DAYS', message: 'must be a whole number from 16 to 3650, got "15"' },
    ]);
  });
});

describe('SHIPMENT_SETTLE_SECONDS', () => {
  it('holds shipment status mails for two minutes by default', () => {
    expect(loadConfig({}, dev).shipmentSettleSeconds).toBe(120);
  });

  it('reads 0 (no hold) up to an hour', () => {
    expect(loadConfig({ SHIPMENT_SETTLE_SECONDS: '0' }, dev).shipmentSettleSeconds).toBe(0);
    expect(loadConfig({ SHIPMENT_SETTLE_SECONDS: '3600' }, dev).shipmentSettleSeconds).toBe(3600);
  });

  it.each(['-1', '3601', '1.5', 'two minutes'])('refuses %s, naming the variable', (value) => {
    const error = configError({ SHIPMENT_SETTLE_SECONDS: value });
    expect(error.problems).toEqual([expect.objectContaining({ variable: 'SHIPMENT_SETTLE_SECONDS' })]);
  });
});

describe('WEBINAR_CONFIRM_MAILS_PER_IP_HOUR', () => {
  it('allows 20 confirmation mails an hour from one client address by default, and reads its own value', () => {
    expect(loadConfig({}, dev).webinarConfirmMailsPerIpHour).toBe(20);
    expect(loadConfig({ WEBINAR_CONFIRM_MAILS_PER_IP_HOUR: '5' }, dev).webinarConfirmMailsPerIpHour).toBe(5);
  });

  it.each(['0', '100001', 'many'])('refuses %s, naming the variable', (value) => {
    expect(configError({ WEBINAR_CONFIRM_MAILS_PER_IP_HOUR: value }).problems).toEqual([
      expect.objectContaining({ variable: 'WEBINAR_CONFIRM_MAILS_PER_IP_HOUR' }),
    ]);
  });
});

describe("the brand (the company's own look)", () => {
  const dev: DevSecrets = { tokenSecret: 'dev-token-secret-0123456789abcdef0123456789', webhookSecret: 'dev-webhook-secret-0123456789abcdef012345' };
  const problemsOf = (env: Record<string, string>) => {
    try {
      loadConfig(env, dev);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };

  it('reads name, logo, colours, addresses per language, imprint and privacy from the environment', () => {
    const config = loadConfig(
      {
        BRAND_NAME: 'Beispiel GmbH',
        BRAND_LOGO_URL: 'https://cdn.beispiel.example/logo.png',
        BRAND_COLOR_PRIMARY: '#0F766E',
        BRAND_COLOR_TEXT: '#111111',
        BRAND_COLOR_BACKGROUND: '#fafafa',
        BRAND_ADDRESS_DE: 'Beispiel GmbH, Hauptstraße 1, 10115 Berlin',
        BRAND_ADDRESS_EN: 'Beispiel GmbH, Hauptstraße 1, 10115 Berlin, Germany',
        BRAND_IMPRINT_URL: 'https://beispiel.example/impressum',
        BRAND_PRIVACY_URL: 'https://beispiel.example/datenschutz',
      },
      dev,
    );
    expect(config.brand).toEqual({
      name: 'Beispiel GmbH',
      logoUrl: 'https://cdn.beispiel.example/logo.png',
      colors: { primary: '#0f766e', text: '#111111', background: '#fafafa' },
      address: { de: 'Beispiel GmbH, Hauptstraße 1, 10115 Berlin', en: 'Beispiel GmbH, Hauptstraße 1, 10115 Berlin, Germany' },
      imprintUrl: 'https://beispiel.example/impressum',
      privacyUrl: 'https://beispiel.example/datenschutz',
    });
    expect(config.companyName).toBe('Beispiel GmbH');
  });

  it('keeps the older COMPANY_NAME and SENDER_POSTAL_ADDRESS working', () => {
    const config = loadConfig({ COMPANY_NAME: 'Alt AG', SENDER_POSTAL_ADDRESS: 'Alt AG, 8000 Zürich' }, dev);
    expect(config.brand).toMatchObject({ name: 'Alt AG', address: { de: 'Alt AG, 8000 Zürich', en: 'Alt AG, 8000 Zürich' } });
  });

  it.each([
    ['BRAND_COLOR_PRIMARY', 'blue', /#rrggbb/],
    ['BRAND_COLOR_BACKGROUND', '#fff', /#rrggbb/],
    ['BRAND_COLOR_PRIMARY', '#facc15', /white text on it is too hard to read: contrast 1\.\d\d:1/],
    ['BRAND_COLOR_TEXT', '#9ca3af', /too hard to read/],
    ['BRAND_LOGO_URL', 'javascript:alert(1)', /must start with https: or http:/],
    ['BRAND_NAME', 'Beispiel\nGmbH', /one line/],
  ])('refuses %s=%j, naming the variable', (variable, value, message) => {
    const found = problemsOf({ [variable]: value });
    expect(found).toEqual([expect.objectContaining({ variable, message: expect.stringMatching(message) })]);
  });

  it('wants https links in production', () => {
    const found = problemsOf({
      NODE_ENV: 'production',
      BRAND_IMPRINT_URL: 'http://beispiel.example/impressum',
      BRAND_PRIVACY_URL: 'http://beispiel.example/datenschutz',
      BRAND_LOGO_URL: 'http://beispiel.example/logo.png',
    });
    for (const variable of ['BRAND_IMPRINT_URL', 'BRAND_PRIVACY_URL', 'BRAND_LOGO_URL']) {
      expect(found).toContainEqual({ variable, message: expect.stringMatching(/must start with https:/) });
    }
  });

  it('takes MAIL_REPLY_TO over the older REPLY_TO', () => {
    expect(loadConfig({ MAIL_REPLY_TO: 'Team <team@beispiel.example>', REPLY_TO: 'Alt <alt@beispiel.example>' }, dev).replyTo).toBe(
      'Team <team@beispiel.example>',
    );
    expect(loadConfig({ REPLY_TO: 'Alt <alt@beispiel.example>' }, dev).replyTo).toBe('Alt <alt@beispiel.example>');
  });
});
