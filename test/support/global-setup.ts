// One PostgreSQL for the whole test run: DATABASE_URL when set, else an embedded one in a temp
// folder. Migrations run once into a template database; each test file clones it (CREATE DATABASE … TEMPLATE).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { runMigrations } from '../../src/database/data-source';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { freePort } from './net';

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

const ROOT = resolve(__dirname, '../..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Tests that start real processes (`node dist/main.js`) need a build that matches src/. */
function ensureBuilt(): void {
  const main = join(ROOT, 'dist/main.js');
  if (existsSync(main) && statSync(main).mtimeMs >= newestMtime(join(ROOT, 'src'))) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules/@nestjs/cli/bin/nest.js'), 'build'], { cwd: ROOT, stdio: 'inherit' });
}

export default async function globalSetup(): Promise<void> {
  ensureBuilt();
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const parent = mkdtempSync(join(tmpdir(), 'tactful-test-pg-'));
    chmodSync(parent, 0o755); // PostgreSQL runs as the `postgres` user when the tests run as root
    const embedded = await startEmbeddedPostgres({
      dataDir: join(parent, 'data'),
      port: await freePort(),
      database: 'postgres',
      persistent: false,
    });
    (globalThis as { __tactfulEmbedded?: unknown }).__tactfulEmbedded = embedded;
    serverUrl = embedded.url;
  }
  const template = `tactful_tpl_${process.pid}`;
  const admin = new Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  await admin.end();
  await runMigrations(withDatabase(serverUrl, template));

  process.env.TACTFUL_TEST_SERVER_URL = serverUrl;
  process.env.TACTFUL_TEST_TEMPLATE = template;
  process.env.TACTFUL_TEST_RUN_ID = String(process.pid);
}
