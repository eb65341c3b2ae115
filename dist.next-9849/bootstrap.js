"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.createApp = createApp;
exports.startTactful = startTactful;
// Builds and starts the service: config, database (embedded when no DATABASE_URL), migrations,
// the Nest app on Fastify, OpenAPI at /docs. Used by main.ts and by the tests.
const rate_limit_1 = __importDefault(require("@fastify/rate-limit"));
const common_1 = require("@nestjs/common");
const core_1 = require("@nestjs/core");
const platform_fastify_1 = require("@nestjs/platform-fastify");
const swagger_1 = require("@nestjs/swagger");
const nestjs_pino_1 = require("nestjs-pino");
const node_path_1 = require("node:path");
const pg_1 = require("pg");
const typeorm_1 = require("typeorm");
const app_module_1 = require("./app.module");
const api_keys_service_1 = require("./auth/api-keys.service");
const clock_1 = require("./common/clock");
const body_parsers_1 = require("./common/body-parsers");
const openapi_1 = require("./common/openapi");
const problem_filter_1 = require("./common/problem.filter");
const request_id_1 = require("./common/request-id");
const security_headers_1 = require("./common/security-headers");
const work_classes_1 = require("./common/work-classes");
const validation_1 = require("./common/validation");
const config_from_env_1 = require("./config/config-from-env");
const data_source_1 = require("./database/data-source");
const metrics_service_1 = require("./metrics/metrics.service");
const page_renderer_1 = require("./pages/page-renderer");
const embedded_postgres_1 = require("./database/embedded-postgres");
async function createApp(config, databaseUrl, clock = new clock_1.SystemClock()) {
    const adapter = new platform_fastify_1.FastifyAdapter({
        bodyLimit: config.bodyLimitBytes,
        trustProxy: config.trustProxy,
        routerOptions: { maxParamLength: 500 },
        // Fastify owns request.id (nestjs-pino's genReqId never runs under Fastify), so it is set here.
        genReqId: (request) => (0, request_id_1.requestIdFrom)(request.headers['x-request-id']),
        // The router's own refusals (a path parameter over maxParamLength, a malformed URL) are
        // problem+json like every other error, instead of Fastify's plain JSON.
        frameworkErrors: (error, request, reply) => (0, problem_filter_1.sendProblem)(reply, request, error, new common_1.Logger('Http')),
    });
    const app = await core_1.NestFactory.create(app_module_1.AppModule.register({ config, databaseUrl, clock }), adapter, {
        bufferLogs: true,
        abortOnError: false,
        bodyParser: false, // ours (common/body-parsers.ts) caps sizes per route and streams imports
    });
    app.useLogger(app.get(nestjs_pino_1.Logger));
    app.useGlobalPipes((0, validation_1.createValidationPipe)());
    (0, body_parsers_1.registerBodyParsers)(app.getHttpAdapter().getInstance(), config);
    // The store behind CustomerRateLimitGuard; no route is limited unless it asks.
    await app.register(rate_limit_1.default, { global: false });
    (0, request_id_1.echoRequestId)(app.getHttpAdapter().getInstance());
    (0, security_headers_1.registerSecurityHeaders)(app.getHttpAdapter().getInstance(), app.get(page_renderer_1.PageRenderer).contentSecurityPolicy);
    (0, work_classes_1.registerWorkClasses)(app.getHttpAdapter().getInstance());
    const metrics = app.get(metrics_service_1.MetricsService);
    app.getHttpAdapter().getInstance().addHook('onResponse', async (request, reply) => {
        // The route pattern, not the URL: tokens and ids must not become label values.
        const route = request.routeOptions.url ?? 'unmatched';
        metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });
    const document = (0, openapi_1.buildOpenApiDocument)(app, config.publicUrl);
    swagger_1.SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return app;
}
const CLOCK_SYNC_MS = 60_000;
const DATABASE_TIME = `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`;
/** Every instance runs on PostgreSQL's time (see DatabaseClock), synced before the app starts and then every minute. */
async function databaseClock(databaseUrl) {
    const clock = new clock_1.DatabaseClock();
    const client = new pg_1.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
        await clock.sync(async () => Number((await client.query(DATABASE_TIME)).rows[0].ms));
    }
    finally {
        await client.end();
    }
    return clock;
}
function keepClockSynced(app, clock) {
    const db = app.get(typeorm_1.DataSource);
    const logger = app.get(nestjs_pino_1.Logger);
    const report = (offsetMs) => {
        if (Math.abs(offsetMs) >= 1_000)
            logger.warn({ offsetMs }, "this host's clock differs from PostgreSQL's; Tactful runs on PostgreSQL's time");
    };
    report(clock.offset);
    clock.keepSynced(async () => Number((await db.query(DATABASE_TIME))[0].ms), CLOCK_SYNC_MS, {
        synced: report,
        failed: (error) => logger.warn({ err: error }, 'clock sync with PostgreSQL failed; keeping the last offset'),
    });
}
async function startTactful(env = process.env) {
    const config = (0, config_from_env_1.configFromEnv)(env);
    let embedded;
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
        embedded = await (0, embedded_postgres_1.startEmbeddedPostgres)({
            dataDir: (0, node_path_1.join)(config.dataDir, 'postgres'),
            port: config.embeddedPostgresPort,
            database: 'tactful',
            persistent: true,
        });
        databaseUrl = embedded.url;
    }
    try {
        await (0, data_source_1.runMigrations)(databaseUrl);
        const clock = await databaseClock(databaseUrl);
        const app = await createApp(config, databaseUrl, clock);
        // Production settings that work but are probably not what was meant (src/config/production-checks.ts).
        // (nestjs-pino takes the last argument as the context, so the message goes before it.)
        for (const { variable, message } of config.startupWarnings)
            app.get(nestjs_pino_1.Logger).warn({ variable }, `${variable} ${message}`, 'Config');
        keepClockSynced(app, clock);
        const firstAdminKey = await app.get(api_keys_service_1.ApiKeysService).ensureAdminKey();
        await app.listen({ port: config.port, host: config.host });
        return {
            app,
            config,
            databaseUrl,
            embeddedDataDir: embedded?.dataDir,
            firstAdminKey,
            close: async () => {
                clock.stop();
                await app.close();
                await embedded?.stop();
            },
            stopDatabase: async () => {
                await embedded?.stop();
            },
        };
    }
    catch (error) {
        await embedded?.stop();
        throw error;
    }
}
//# sourceMappingURL=bootstrap.js.map