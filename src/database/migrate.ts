// `npm run migration:run`: applies pending migrations (embedded PostgreSQL when no DATABASE_URL).
import 'reflect-metadata';
import { join } from 'node:path';
import { configFromEnv } from '../config/config-from-env';
import { runMigrations } from './data-source';
import { startEmbeddedPostgres } from './embedded-postgres';

async function main(): Promise<void> {
  const config = configFromEnv();
  const embedded = config.databaseUrl
    ? undefined
    : await startEmbeddedPostgres({ dataDir: join(config.dataDir, 'postgres'), port: config.embeddedPostgresPort, database: 'tactful', persistent: true });
  try {
    const applied = await runMigrations(config.databaseUrl ?? embedded!.url);
    process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'Nothing to apply: the schema is current.\n');
  } finally {
    await embedded?.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
