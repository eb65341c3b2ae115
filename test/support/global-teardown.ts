import { Client } from 'pg';
import { withDatabase } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const serverUrl = process.env.TACTFUL_TEST_SERVER_URL;
  const embedded = (globalThis as { __tactfulEmbedded?: { stop(): Promise<void> } }).__tactfulEmbedded;
  if (serverUrl && !embedded) {
    // On a shared server, drop what this run created.
    const admin = new Client({ connectionString: withDatabase(serverUrl, 'postgres') });
    await admin.connect();
    const { rows } = await admin.query(`SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2`, [
      `tactful_t${process.pid}_%`,
      process.env.TACTFUL_TEST_TEMPLATE,
    ]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await admin.end();
  }
  await embedded?.stop();
}
