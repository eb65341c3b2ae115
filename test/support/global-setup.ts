// The integration, e2e and simulation projects' global set-up (unit tests have none: they start
// nothing): a build of dist/ that matches src/ for tests that start `node dist/main.js`, and one
// PostgreSQL for the whole run: DATABASE_URL when set, else an embedded one in a temp folder.
// Migrations run once into a template database; each test file clones it (CREATE DATABASE … TEMPLATE).
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { buildIfStale } from '../../scripts/build';
import { runMigrations } from '../../src/database/data-source';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { freePort } from './net';

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export default async function globalSetup(): Promise<void> {
  buildIfStale();
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const parent = mkdtempSync(join(tmpdir(), 'tactful-test-pg-'));
    // Run as root, PostgreSQL runs as the `postgres` user: an open parent keeps the data in the temp folder.
    chmodSync(parent, 0o755);
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
