// Secrets and personal data never reach the logs. The built app runs as `npm start` does
// (NODE_ENV=production, LOG_LEVEL=trace, so every line pino can write is written), with a database
// password, an SMTP password and its own secrets; every line it prints is captured while it
// creates and uses API keys (also where no key belongs: the query string, X-API-Key), takes signed
// webhooks, serves the customer pages behind signed tokens, signs in to the console with a key and
// looks a customer up there, filters by e-mail, imports, fails with
// a 500 whose SQL carries addresses and attributes, and sends mail (one refused by policy, quoting
// the recipient). Then each secret, address and attribute value is looked for in the output.
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { signWebhook } from '../../src/common/signatures';
import { TokenSigner } from '../../src/links/tokens';
import { startOnFreePorts } from '../support/processes';
import { createTestDatabase, TestDatabase } from '../support/database';
import { SmtpSink, startSmtpSink } from '../support/smtp-sink';

const root = resolve(__dirname, '../..');
const secret = (label: string) => `${label}-${randomBytes(18).toString('base64url')}`;

const SECRETS = {
  adminKey: `tk_${secret('admin')}`,
  tokenSecret: secret('token-secret'),
  webhookSecret: secret('webhook-secret'),
  dbPassword: secret('DbPass'),
  smtpPassword: secret('SmtpPass'),
};
const role = `tactful_log_${randomBytes(4).toString('hex')}`;

let db: TestDatabase;
let sink: SmtpSink;
let child: ChildProcess | undefined;
let output = '';
let base = '';

async function asAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: process.env.TACTFUL_TEST_SERVER_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    const check = () => {
      if (pattern.test(output)) return resolvePromise();
      if (child?.exitCode !== null && child?.exitCode !== undefined) return reject(new Error(`exited with ${child.exitCode}:\n${output}`));
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${pattern}:\n${output.slice(-3000)}`));
      setTimeout(check, 50);
    };
    check();
  });
}

async function call(method: string, path: string, options: { key?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body = options.raw;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(base + path, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

beforeAll(async () => {
  sink = await startSmtpSink();
  db = await createTestDatabase();
  // A login role with a password of its own, so DATABASE_URL carries a secret worth looking for.
  await asAdmin((c) => c.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${SECRETS.dbPassword}'`));
  const dbUrl = new URL(db.url);
  dbUrl.username = role;
  dbUrl.password = SECRETS.dbPassword;
  const envFor = (port: number): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    LOCAL_ONLY: 'true', // local addresses on this machine; production would refuse them
    LOG_LEVEL: 'trace',
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: dbUrl.toString(),
    SMTP_URL: `smtp://mailer:${SECRETS.smtpPassword}@127.0.0.1:${new URL(sink.url).port}`,
    ADMIN_API_KEY: SECRETS.adminKey,
    TOKEN_SECRET: SECRETS.tokenSecret,
    WEBHOOK_SECRET: SECRETS.webhookSecret,
    WORKER_POLL_MS: '50',
    MAIL_FROM: 'Tactful <news@tactful.test>',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'tactful-logs-')),
  });
  const started = await startOnFreePorts(
    (ports) => {
      const env = envFor(ports.http);
      output = ''; // a retried start logs afresh
      const run = spawn(process.execPath, [join(root, 'dist/main.js')], { cwd: env.DATA_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
      run.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      run.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      return run;
    },
    /Tactful is listening/,
    60_000,
  );
  child = started.child;
  base = `http://127.0.0.1:${started.port}`;
}, 90_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
  }
  await sink?.close();
  await db?.drop();
  await asAdmin((c) => c.query(`DROP ROLE IF EXISTS ${role}`));
});

it('writes no API key, customer token, webhook secret or signature, password, e-mail address or attribute value to its logs', async () => {
  const found: Record<string, string> = { ...SECRETS };

  // API keys: create one (shown once, in the response), use it, and try a wrong one.
  const created = await call('POST', '/v1/api-keys', { key: SECRETS.adminKey, body: { name: 'shop', scopes: ['admin'] } });
  expect(created.status).toBe(201);
  const apiKey: string = created.json().key;
  found.apiKey = apiKey;
  expect((await call('GET', '/v1/topics', { key: apiKey })).status).toBe(200);
  found.wrongKey = `tk_${secret('wrong')}`;
  expect((await call('GET', '/v1/topics', { key: found.wrongKey })).status).toBe(401);
  expect((await call('POST', '/v1/topics', { key: apiKey, body: { key: 'fairs', nameDe: 'Messen', nameEn: 'Fairs' } })).status).toBe(201);

  // A pending subscriber: the double opt-in mail goes out over SMTP with the password.
  const subscriber = await call('POST', '/v1/subscribers', { key: apiKey, body: { email: 'anna@example.com', locale: 'en', topics: ['fairs'] } });
  expect(subscriber.status).toBe(201);
  const id: string = subscriber.json().id;
  const [mail] = await sink.waitFor(1, 20_000);
  expect(mail.envelope.rcptTo).toEqual(['anna@example.com']);

  // The customer pages, each behind a signed token in its path.
  const signer = new TokenSigner([SECRETS.tokenSecret]);
  found.confirmToken = signer.sign('confirm', id);
  found.preferencesToken = signer.sign('preferences', id);
  found.unsubscribeToken = signer.sign('unsubscribe', id);
  found.feedbackToken = signer.signItem(id, 'topic', id);
  found.webinarToken = signer.sign('webinar', id);
  expect((await call('GET', `/confirm/${found.confirmToken}`)).status).toBe(200);
  expect((await call('POST', `/confirm/${found.confirmToken}`, { raw: '', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(
    200,
  );
  const prefs = await call('GET', `/p/${found.preferencesToken}?lang=en`);
  expect(prefs.status).toBe(200);
  found.csrf = /name="csrf" value="([^"]+)"/.exec(prefs.text)![1];
  const saved = await call('POST', `/p/${found.preferencesToken}`, {
    raw: new URLSearchParams({ csrf: found.csrf, topics: 'fairs', cadence: 'biweekly' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `session=${secret('cookie')}` },
  });
  expect(saved.status).toBe(200);
  expect((await call('GET', `/u/${found.unsubscribeToken}`)).status).toBe(200);
  expect([200, 404]).toContain((await call('GET', `/f/${found.feedbackToken}?v=useful`)).status);
  expect((await call('GET', `/webinars/unregister/${found.webinarToken}`)).status).toBe(404);
  expect((await call('GET', `/p/${found.preferencesToken}x`)).status).toBe(404);

  // Signed webhooks, one good and one with a signature made with the wrong secret.
  const event = JSON.stringify({ id: 'evt-1', type: 'bounce', bounceType: 'soft', email: 'anna@example.com', detail: '450 later' });
  found.signature = signWebhook(SECRETS.webhookSecret, event, Math.floor(Date.now() / 1000)).split('v1=')[1];
  expect(
    (
      await call('POST', '/webhooks/mail-events', {
        raw: event,
        headers: { 'x-tactful-signature': `t=${Math.floor(Date.now() / 1000)},v1=${found.signature}` },
      })
    ).status,
  ).toBe(200);
  found.forgedSignature = signWebhook('not-the-secret-0123456789abcdef0123', event, Math.floor(Date.now() / 1000)).split('v1=')[1];
  expect(
    (
      await call('POST', '/webhooks/mail-events', {
        raw: event,
        headers: { 'x-tactful-signature': `t=${Math.floor(Date.now() / 1000)},v1=${found.forgedSignature}` },
      })
    ).status,
  ).toBe(401);

  // Keys where no key belongs: refused, and not logged either.
  expect((await call('GET', `/v1/topics?api_key=${SECRETS.adminKey}&limit=5`)).status).toBe(401);
  expect((await call('GET', `/v1/topics?access_token=${apiKey}`)).status).toBe(401);
  expect((await call('GET', '/v1/topics', { headers: { 'x-api-key': SECRETS.adminKey } })).status).toBe(401);
  expect((await call('GET', '/v1/topics', { headers: { 'proxy-authorization': `Bearer ${apiKey}` } })).status).toBe(401);

  // Personal data: addresses and attribute values through the API, a filter by e-mail, an import.
  const personal = {
    carla: 'carla.private@example.org',
    carlaCompany: 'Geheimrat Kunz GmbH',
    carlaMember: 'MEMBER-7781-X',
    erin: 'erin.imported@example.net',
    erinCompany: 'Import Secret AG',
    dora: 'dora.fault@example.net',
    doraNote: 'private-note-in-a-failing-row',
    frank: 'frank.blocked@blocked.example',
    anna: 'anna@example.com',
  };
  Object.assign(found, personal);
  expect(
    (
      await call('POST', '/v1/subscribers', {
        key: apiKey,
        body: { email: personal.carla, attributes: { company: personal.carlaCompany, memberId: personal.carlaMember } },
      })
    ).status,
  ).toBe(201);
  expect((await call('GET', `/v1/subscribers?email=${encodeURIComponent(personal.carla)}`, { key: apiKey })).status).toBe(200);
  expect((await call('GET', `/v1/subscribers?email=${personal.carla}&status=pending`, { key: apiKey })).status).toBe(200);
  const imported = await call('POST', '/v1/subscribers/import', {
    key: apiKey,
    raw: `email,attr.company\n${personal.erin},${personal.erinCompany}\n`,
    headers: { 'content-type': 'text/csv' },
  });
  expect(imported.status).toBe(200);

  // Two 500s whose SQL carries addresses and attributes (faults injected into the schema): a
  // failing row (its detail holds the whole row) and a duplicate (its detail holds the value).
  const dbAdmin = new Client({ connectionString: db.url });
  await dbAdmin.connect();
  try {
    await dbAdmin.query(`ALTER TABLE subscribers ADD CONSTRAINT injected_fault CHECK (attributes->>'note' IS DISTINCT FROM '${personal.doraNote}')`);
    await dbAdmin.query(`CREATE UNIQUE INDEX injected_member ON subscribers ((attributes->>'memberId'))`);
  } finally {
    await dbAdmin.end();
  }
  expect((await call('POST', '/v1/subscribers', { key: apiKey, body: { email: personal.dora, attributes: { note: personal.doraNote } } })).status).toBe(500);
  expect((await call('POST', '/v1/subscribers', { key: apiKey, body: { email: personal.dora, attributes: { memberId: personal.carlaMember } } })).status).toBe(
    500,
  );

  // A mail refused by policy: the SMTP reply quotes the recipient, and the worker logs the reply.
  sink.fault((ctx) => (ctx.rcpt === personal.frank ? { kind: 'reject-rcpt', code: 550, message: `5.7.1 <${personal.frank}> refused by policy` } : undefined));
  expect((await call('POST', '/v1/subscribers', { key: apiKey, body: { email: personal.frank } })).status).toBe(201);
  await waitFor(/domain_paused/, 20_000);

  // The console: a key in the sign-in form's body, then a session cookie, a lookup by address.
  const signedIn = await call('POST', '/console/sign-in', {
    raw: new URLSearchParams({ apiKey, lang: 'en', next: '/console' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  expect(signedIn.status).toBe(200);
  const setCookie = signedIn.headers.get('set-cookie')!;
  expect(setCookie).toMatch(/; Secure$/); // production
  found.consoleSession = setCookie.split(';')[0].split('=')[1];
  const consoleCookie = { cookie: setCookie.split(';')[0] };
  expect((await call('GET', `/console/customers?email=${encodeURIComponent(personal.carla)}`, { headers: consoleCookie })).status).toBe(200);
  expect((await call('GET', '/console/operations', { headers: consoleCookie })).status).toBe(200);
  expect(
    (await call('POST', '/console/sign-in', { raw: `apiKey=${found.wrongKey}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status,
  ).toBe(401);

  // Stop the way an operator does, so every buffered line is flushed.
  child!.kill('SIGTERM');
  await new Promise((r) => child!.once('exit', r));

  // The logs did capture these requests (so finding nothing below means something).
  const lines = output.split('\n').filter((l) => l.startsWith('{'));
  const requestLines = lines.filter((l) => /"req":\{/.test(l));
  expect(requestLines.length).toBeGreaterThanOrEqual(15);
  expect(requestLines.some((l) => l.includes('"url":"/p/[token]?lang=en"'))).toBe(true);
  expect(requestLines.some((l) => l.includes('"x-tactful-signature":"[Redacted]"'))).toBe(true);
  expect(requestLines.some((l) => l.includes('"/webhooks/mail-events"'))).toBe(true);
  expect(requestLines.some((l) => l.includes('"url":"/v1/topics?api_key=[Redacted]&limit=5"'))).toBe(true);
  expect(requestLines.some((l) => l.includes('"x-api-key":"[Redacted]"'))).toBe(true);
  expect(requestLines.some((l) => l.includes('"url":"/v1/subscribers?email=[Redacted]&status=pending"'))).toBe(true);
  expect(requestLines.some((l) => l.includes('"url":"/console/customers?email=[Redacted]"'))).toBe(true);
  // The 500s were logged, with what helps (code, constraint, statement) and without the values.
  const failures = lines.filter((l) => l.includes('"msg":"request failed"'));
  expect(
    failures.some(
      // Bind values never: named statements' errors carry none, TypeORM's say how many were left out.
      (l) =>
        l.includes('"code":"23514"') &&
        l.includes('"constraint":"injected_fault"') &&
        (!l.includes('"parameters"') || /"parameters":"\[\d+ bind values not logged\]"/.test(l)),
    ),
  ).toBe(true);
  expect(failures.some((l) => l.includes('"code":"23505"') && l.includes("Key ((attributes ->> 'memberId'::text))=([Redacted])"))).toBe(true);
  expect(lines.some((l) => l.includes('domain_paused') && l.includes('refused by policy'))).toBe(true);
  expect(output).toContain('Tactful is listening');

  const leaked = Object.entries(found)
    .filter(([, value]) => output.includes(value))
    .map(([name]) => name);
  expect(leaked).toEqual([]);
  expect(output).not.toMatch(/Bearer\s+tk_/);
  expect(output).not.toMatch(/session=/);
  expect(output).not.toMatch(/tactful_console=/);
}, 120_000);
