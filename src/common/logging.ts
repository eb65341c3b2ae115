// The one pino set-up of every Nest context of an instance (the HTTP app and the delivery worker
// thread), so each writes the same redacted, scrubbed lines to the same stdout.
import { DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from '../config/config';
import { REDACTED_LOG_PATHS, scrubbingDestination, serializeError, serializeRequest, serializeResponse } from './log-redaction';

/** `bindings`: fields on every line of this context (the worker thread names itself), beside pino's pid and hostname. */
export function tactfulLoggerModule(config: Pick<AppConfig, 'logLevel'>, bindings: Record<string, unknown> = {}): DynamicModule {
  return LoggerModule.forRoot({
    pinoHttp: [
      {
        level: config.logLevel,
        redact: REDACTED_LOG_PATHS,
        serializers: { req: serializeRequest, res: serializeResponse, err: serializeError },
        autoLogging: { ignore: (request) => request.url === '/health' },
        ...(Object.keys(bindings).length > 0 ? { mixin: () => bindings } : {}),
      },
      // Every line passes scrubLogLine on its way to stdout (see common/log-redaction.ts).
      // process.stdout (synchronous for files, TTYs and, on Linux, pipes) rather than a
      // sonic-boom on fd 1, so whoever embeds the app sees the lines where it sees its own.
      // In a worker thread, process.stdout hands each line to the main thread's stdout.
      scrubbingDestination(process.stdout),
    ],
  });
}
