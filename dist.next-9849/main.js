"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
// `npm start`: runs Tactful until SIGINT/SIGTERM, then stops cleanly (embedded PostgreSQL included).
require("reflect-metadata");
const node_path_1 = require("node:path");
const bootstrap_1 = require("./bootstrap");
const config_1 = require("./config/config");
const embedded_postgres_1 = require("./database/embedded-postgres");
async function main() {
    const started = await (0, bootstrap_1.startTactful)();
    const { config } = started;
    const base = config.publicUrl;
    // Run as root from a private folder, the data lives where the postgres user can reach it (a link leads there).
    const dataDir = `${config.dataDir}/postgres`;
    const dataPlace = started.embeddedDataDir && started.embeddedDataDir !== (0, node_path_1.resolve)(dataDir) ? `${dataDir} -> ${started.embeddedDataDir}` : dataDir;
    const lines = [
        `Tactful is listening on port ${config.port}`,
        `  API docs:  ${base}/docs`,
        `  Database:  ${config.databaseUrl ? 'DATABASE_URL' : `embedded PostgreSQL in ${dataPlace} (${started.databaseUrl})`}`,
        `  Mail:      ${config.smtpUrl ? `SMTP ${new URL(config.smtpUrl).host}` : `.eml files in ${config.outboxDir}/`}`,
    ];
    if (started.firstAdminKey) {
        lines.push('', '  Your admin API key (shown only this once; store it now):', `    ${started.firstAdminKey}`, `  Try: curl -H "Authorization: Bearer ${started.firstAdminKey}" ${base}/v1/topics`);
    }
    // Let the buffered start-up logs drain first, so the banner (and the key) is the last thing shown.
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.stdout.write(lines.join('\n') + '\n');
    let stopping = false;
    const stop = (signal) => {
        if (stopping)
            return;
        stopping = true;
        process.stdout.write(`${signal}: stopping\n`);
        // Whatever still runs then (a hung SMTP hand-over, a client that never finishes) is cut off:
        // an unfinished hand-over stays leased and lease recovery resends it under its Message-ID.
        setTimeout(() => {
            process.stderr.write(`${signal}: not stopped after SHUTDOWN_TIMEOUT_MS (${config.shutdownTimeoutMs} ms); exiting anyway\n`);
            // An embedded PostgreSQL is stopped first (a fast shutdown: open transactions roll back), so the next start finds it down.
            setTimeout(() => process.exit(1), 5_000).unref();
            started.stopDatabase().finally(() => process.exit(1));
        }, config.shutdownTimeoutMs).unref();
        started.close().then(() => process.exit(0), (error) => {
            process.stderr.write(`error while stopping: ${String(error)}\n`);
            process.exit(1);
        });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
}
main().catch((error) => {
    // Both say what is wrong and what to do; a stack trace would only bury that.
    if (error instanceof config_1.ConfigError || error instanceof embedded_postgres_1.EmbeddedPostgresError) {
        process.stderr.write(`${error.message}\n`);
    }
    else {
        process.stderr.write(`Tactful failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
    }
    process.exit(1);
});
//# sourceMappingURL=main.js.map