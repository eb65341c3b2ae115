// `npm start` on a fresh machine: the built app, no DATABASE_URL, an empty data folder.
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { watchProcess } from '../support/contract';
import { startOnFreePorts } from '../support/processes';
import { createTestDatabase, TestDatabase } from '../support/database';

const root = resolve(__dirname, '../..');

describe('npm start on a fresh machine', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
  });

  it('starts an embedded PostgreSQL in an empty data folder, prints an admin key once, serves /health and /docs, and stops cleanly on SIGTERM', async () => {
    const work = mkdtempSync(join(tmpdir(), 'tactful-start-'));
    chmodSync(work, 0o755);
    const started = await startOnFreePorts(
      (ports) => {
        // A retried start begins again in an empty data folder.
        rmSync(join(work, '.data'), { recursive: true, force: true });
        const env: NodeJS.ProcessEnv = {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          PORT: String(ports.http),
          EMBEDDED_PG_PORT: String(ports.postgres),
          DATA_DIR: join(work, '.data'),
          OUTBOX_DIR: join(work, 'outbox'),
          LOG_LEVEL: 'warn',
        };
        return spawn(process.execPath, [join(root, 'dist/main.js')], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
      },
      /Try: curl/,
      60_000,
    );
    const { port, output: banner } = started;
    child = started.child;
    const key = /Bearer (tk_[\w-]+)/.exec(banner)?.[1];
    expect(key).toBeDefined();

    await watchProcess(`http://127.0.0.1:${port}`);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    // The real process runs on PostgreSQL's clock; here both share one host, so the offset is tiny.
    const { clockOffsetMs } = (await health.json()) as { clockOffsetMs: number };
    expect(Math.abs(clockOffsetMs)).toBeLessThan(1_000);
    const docs = await fetch(`http://127.0.0.1:${port}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
    const topics = await fetch(`http://127.0.0.1:${port}/v1/topics`, { headers: { authorization: `Bearer ${key}` } });
    expect(topics.status).toBe(200);
    expect(existsSync(join(work, '.data/postgres/PG_VERSION'))).toBe(true);

    const exited = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // PostgreSQL removed its pid file: it was shut down, not abandoned.
    expect(readdirSync(join(work, '.data/postgres'))).not.toContain('postmaster.pid');
    child = undefined;
  }, 120_000);
});

describe('npm start with NODE_ENV=production', () => {
  const secrets = { TOKEN_SECRET: 'k3Vq9'.repeat(8), WEBHOOK_SECRET: 'Zp7Lw'.repeat(8) };
  let db: TestDatabase | undefined;
  let child: ChildProcess | undefined;
  const folders: string[] = [];
  afterAll(async () => {
    child?.kill('SIGKILL');
    await db?.drop();
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  });

  it('refuses the development defaults before starting anything, naming each variable that cannot work with real customers', async () => {
    const work = mkdtempSync(join(tmpdir(), 'tactful-prod-'));
    folders.push(work);
    const run = spawn(process.execPath, [join(root, 'dist/main.js')], {
      cwd: work,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', ...secrets, DATA_DIR: join(work, '.data'), OUTBOX_DIR: join(work, 'outbox') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    run.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    run.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((done) => run.once('close', done));
    expect(code).toBe(1);
    const lines = output.trim().split('\n');
    expect(lines[0]).toBe('Invalid configuration:');
    expect(lines.slice(1).map((line) => /^ {2}([A-Z_]+): /.exec(line)?.[1])).toEqual(['PUBLIC_URL', 'MAIL_FROM', 'SMTP_URL', 'DATABASE_URL']);
    expect(existsSync(join(work, '.data/postgres'))).toBe(false); // no embedded PostgreSQL was started
  });

  it('starts on a production configuration and logs at warn what is merely unusual (no TRUST_PROXY behind https)', async () => {
    db = await createTestDatabase();
    const databaseUrl = db.url;
    const work = mkdtempSync(join(tmpdir(), 'tactful-prod-'));
    folders.push(work);
    const started = await startOnFreePorts(
      (ports) =>
        spawn(process.execPath, [join(root, 'dist/main.js')], {
          cwd: work,
          env: {
            PATH: process.env.PATH,
            NODE_ENV: 'production',
            ...secrets,
            PORT: String(ports.http),
            HOST: '127.0.0.1',
            PUBLIC_URL: 'https://news.tactful.dev',
            MAIL_FROM: 'Tactful <newsletter@tactful.dev>',
            // The company's look is complete: no brand warning.
            BRAND_NAME: 'Beispiel GmbH',
            BRAND_IMPRINT_URL: 'https://www.beispiel.dev/impressum',
            BRAND_PRIVACY_URL: 'https://www.beispiel.dev/datenschutz',
            // Bounces come back to Tactful (VERP): no bounce-domain warning.
            BOUNCE_DOMAIN: 'bounce.tactful.dev',
            DATABASE_URL: databaseUrl,
            SMTP_URL: 'smtp://127.0.0.1:2525',
            ADMIN_API_KEY: 'tk_production_start_key_0123456789',
            WORKER_ENABLED: 'false',
            SCHEDULER_ENABLED: 'false',
            LOG_LEVEL: 'warn',
            DATA_DIR: join(work, '.data'),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      /Tactful is listening/,
      60_000,
    );
    child = started.child;
    const { port, output } = started;
    const warnings = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; variable?: string; msg: string })
      .filter((entry) => entry.variable);
    expect(warnings).toEqual([
      { ...warnings[0], level: 40, variable: 'TRUST_PROXY', msg: expect.stringMatching(/^TRUST_PROXY is unset, yet PUBLIC_URL is https/) },
    ]);
    await watchProcess(`http://127.0.0.1:${port}`);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    const exited = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
  }, 90_000);
});
