// Builds and starts the service: config, database (embedded when no DATABASE_URL), migrations,
// the Nest app on Fastify, OpenAPI at /docs. Used by main.ts and by the tests.
import rateLimit from '@fastify/rate-limit';
import { Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { AppModule } from './app.module';
import { ApiKeysService } from './auth/api-keys.service';
import { Clock, SystemClock } from './common/clock';
import { registerBodyParsers } from './common/body-parsers';
import { buildOpenApiDocument } from './common/openapi';
import { sendProblem } from './common/problem.filter';
import { echoRequestId, requestIdFrom } from './common/request-id';
import { registerSecurityHeaders } from './common/security-headers';
import { registerWorkClasses } from './common/work-classes';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './config/config';
import { configFromEnv } from './config/config-from-env';
import { databaseClock, keepClockSynced } from './common/database-clock';
import { runMigrations } from './database/data-source';
import { Db } from './database/sql';
import { MetricsService } from './metrics/metrics.service';
import { PageRenderer } from './pages/page-renderer';
import { EmbeddedDatabase, startEmbeddedPostgres } from './database/embedded-postgres';

export interface StartedTactful {
  app: NestFastifyApplication;
  config: AppConfig;
  databaseUrl: string;
  /** The embedded PostgreSQL's files (a link may lead there from DATA_DIR); unset with DATABASE_URL. */
  embeddedDataDir: string | undefined;
  /** Set on the first start when no admin key existed: print it once. */
  firstAdminKey: string | null;
  close(): Promise<void>;
  /** Stops the embedded PostgreSQL (if any) without waiting for the app: the shutdown deadline's last step. */
  stopDatabase(): Promise<void>;
}

export async function createApp(config: AppConfig, databaseUrl: string, clock: Clock = new SystemClock(), env: NodeJS.ProcessEnv = process.env) {
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    routerOptions: { maxParamLength: 500 },
    // Fastify owns request.id (nestjs-pino's genReqId never runs under Fastify), so it is set here.
    genReqId: (request: IncomingMessage) => requestIdFrom(request.headers['x-request-id']),
    // The router's own refusals (a path parameter over maxParamLength, a malformed URL) are
    // problem+json like every other error, instead of Fastify's plain JSON.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => sendProblem(reply, request, error, new NestLogger('Http')),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register({ config, databaseUrl, clock, env }), adapter, {
    bufferLogs: true,
    abortOnError: false,
    bodyParser: false, // ours (common/body-parsers.ts) caps sizes per route and streams imports
  });
  app.useLogger(app.get(Logger));
  app.useGlobalPipes(createValidationPipe());
  registerBodyParsers(app.getHttpAdapter().getInstance(), config);
  // The store behind CustomerRateLimitGuard; no route is limited unless it asks.
  await app.register(rateLimit as never, { global: false });
  echoRequestId(app.getHttpAdapter().getInstance());
  registerSecurityHeaders(app.getHttpAdapter().getInstance(), app.get(PageRenderer).contentSecurityPolicy);
  registerWorkClasses(app.getHttpAdapter().getInstance());
  const metrics = app.get(MetricsService);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onResponse', async (request, reply) => {
      // The route pattern, not the URL: tokens and ids must not become label values.
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });

  const document = buildOpenApiDocument(app, config.publicUrl);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

export async function startTactful(env: NodeJS.ProcessEnv = process.env): Promise<StartedTactful> {
  const config = configFromEnv(env);
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({
      dataDir: join(config.dataDir, 'postgres'),
      port: config.embeddedPostgresPort,
      database: 'tactful',
      persistent: true,
    });
    databaseUrl = embedded.url;
  }
  try {
    await runMigrations(databaseUrl);
    const clock = await databaseClock(databaseUrl);
    const app = await createApp(config, databaseUrl, clock, env);
    // Production settings that work but are probably not what was meant (src/config/production-checks.ts).
    // (nestjs-pino takes the last argument as the context, so the message goes before it.)
    for (const { variable, message } of config.startupWarnings) app.get(Logger).warn({ variable }, `${variable} ${message}`, 'Config');
    keepClockSynced(app.get(Db), app.get(Logger), clock);
    const firstAdminKey = await app.get(ApiKeysService).ensureAdminKey();
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
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}
