// Real Tactful processes (`node dist/main.js` from a private copy of the build) for tests that
// need several instances, crashes or a restarted database.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_SECRETS } from './app';
import { freePort } from './net';

export { freePort };

export interface TactfulProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: number;
  output(): string;
  /** fetch with the admin key; throws on a status >= 300 unless `allow` lists it. */
  api(method: string, path: string, body?: unknown, allow?: number[]): Promise<{ status: number; body: any }>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
}

export interface ProcessOptions {
  name: string;
  /** The built entry point (DistSnapshot.main). */
  main: string;
  databaseUrl: string;
  adminKey: string;
  smtpUrl?: string;
  /** Extra `node` flags, e.g. ['-r', preload]. */
  nodeArgs?: string[];
  env?: Record<string, string>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once('exit', () => done()));
}

/** Starts a process with worker and scheduler on and resolves once it listens. */
export async function startTactfulProcess(options: ProcessOptions): Promise<TactfulProcess> {
  const port = await freePort();
  const work = mkdtempSync(join(tmpdir(), `tactful-${options.name}-`));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.main], {
    cwd: work,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      ...TEST_SECRETS,
      ADMIN_API_KEY: options.adminKey,
      DATABASE_URL: options.databaseUrl,
      ...(options.smtpUrl ? { SMTP_URL: options.smtpUrl } : {}),
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: 'http://tactful.test',
      DATA_DIR: join(work, '.data'),
      OUTBOX_DIR: join(work, 'outbox'),
      WORKER_ENABLED: 'true',
      SCHEDULER_ENABLED: 'true',
      WORKER_POLL_MS: '100',
      LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const started = new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${options.name} did not start in 90 s:\n${output}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Tactful is listening')) {
        clearTimeout(timer);
        ok();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${options.name} exited with ${code}:\n${output}`));
    });
  });
  await started;

  return {
    name: options.name,
    child,
    port,
    output: () => output,
    async api(method, path, body, allow = []) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: { authorization: `Bearer ${options.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      const parsed = text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
      if (res.status >= 300 && !allow.includes(res.status)) throw new Error(`${options.name} ${method} ${path}: ${res.status} ${text}`);
      return { status: res.status, body: parsed };
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited(child), new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited(child);
      }
    },
  };
}

export interface PostgresProcess {
  url: string;
  /** Fast shutdown: every session is cut, open transactions roll back. */
  stop(): Promise<void>;
}

/**
 * A PostgreSQL server of its own (the embedded one, launched by the build in `distMain`'s folder
 * from a child process, as `npm start` launches it). Starting it again on the same folder and port
 * is a restart.
 */
export async function startPostgresProcess(distMain: string, dataDir: string, port: number): Promise<PostgresProcess> {
  const module = join(distMain, '../database/embedded-postgres.js');
  const script = `
    const { startEmbeddedPostgres } = require(${JSON.stringify(module)});
    startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, port: ${port}, database: 'tactful', persistent: true }).then(
      (db) => {
        process.stdout.write('READY ' + db.url + '\\n');
        process.on('SIGTERM', () => db.stop().then(() => process.exit(0), () => process.exit(1)));
      },
      (error) => { console.error(error); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`PostgreSQL did not start in 120 s:\n${output}`)), 120_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /READY (\S+)/.exec(output);
      if (ready) {
        clearTimeout(timer);
        ok(ready[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`PostgreSQL exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

/** Resolves with the child's output once it matches `pattern`; rejects on exit or after `timeoutMs`. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        resolvePromise(output);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited with ${code} before ${pattern}:\n${output}`)));
  });
}

/**
 * Starts the app on free ports (the OS picks them) and waits for `pattern`. Another test may take a
 * port between its release and the app's bind: a start that fails for a port in use is retried on
 * new ports (three times), any other failure is the test's.
 */
export async function startOnFreePorts(
  spawnOn: (ports: { http: number; postgres: number }) => ChildProcess,
  pattern: RegExp,
  timeoutMs: number,
): Promise<{ child: ChildProcess; output: string; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const ports = { http: await freePort(), postgres: await freePort() };
    const child = spawnOn(ports);
    try {
      return { child, output: await waitForOutput(child, pattern, timeoutMs), port: ports.http };
    } catch (error) {
      child.kill('SIGKILL');
      const portTaken = /EADDRINUSE|could not bind|Address already in use/.test(String(error));
      if (!portTaken || attempt === 3) throw error;
    }
  }
}
