// `npm install && npm start` in a private folder (mode 700: root's home on a fresh server or in a
// container, or anyone's home): a copy of this working tree with its node_modules, started with
// the real `npm start` (which builds dist/ first). As root, PostgreSQL must run as another user,
// who cannot reach into the folder; as an ordinary user the folder is their own. Where the
// embedded PostgreSQL truly cannot start, one line says why and what to do. The root case runs
// where the tests run as root (as CI does); elsewhere the ordinary-user case runs as you.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { BINARY_CACHE, RELOCATED_DATA } from '../../src/database/embedded-postgres';
import { watchProcess } from '../support/contract';
import { freePort } from '../support/net';

const ROOT = resolve(__dirname, '../..');
const IS_ROOT = process.getuid?.() === 0;
const NOBODY = { uid: 65534, gid: 65534 };
const cleanups: (() => void)[] = [];

afterAll(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
});

/** What a clone holds (plus node_modules, hard-linked: the same files under a private path), in a fresh mode-700 folder. */
function privateCopy(owner?: { uid: number; gid: number }): string {
  const folder = mkdtempSync(join(tmpdir(), 'tactful-private-'));
  cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
  expect(statSync(folder).mode & 0o777).toBe(0o700);
  const app = join(folder, 'app');
  mkdirSync(app);
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json', 'src', 'scripts', 'templates', 'test']) {
    cpSync(join(ROOT, entry), join(app, entry), { recursive: true });
  }
  if (owner) execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, folder]);
  try {
    execFileSync('cp', ['-al', join(ROOT, 'node_modules'), join(app, 'node_modules')]);
  } catch {
    execFileSync('cp', ['-a', join(ROOT, 'node_modules'), join(app, 'node_modules')]); // another file system
  }
  return app;
}

interface Started {
  child: ChildProcess;
  output(): string;
}

function spawnIn(app: string, command: string, args: string[], env: Record<string, string>, owner?: { uid: number; gid: number }): Started {
  const home = dirname(app);
  const child = spawn(command, args, {
    cwd: app,
    detached: true, // its own process group: npm, sh and node stop together
    ...(owner ?? {}),
    env: {
      // The node running the tests first, so `npm start` runs the same one (CI runs this file on several).
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
      HOME: home,
      npm_config_cache: join(home, '.npm'),
      npm_config_update_notifier: 'false',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  return { child, output: () => output };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, started: Started, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (started.child.exitCode !== null) throw new Error(`exited with ${started.child.exitCode} before ${what}:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function health(port: number): Promise<number | undefined> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`)).status;
  } catch {
    return undefined;
  }
}

/** The running postmaster's pid, from its lock file in the data folder. */
const postmasterPid = (dataDir: string) => Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

/** SIGTERM to the whole group (npm, sh, node, postgres), then wait until none of it is left. */
async function stopGroup(started: Started): Promise<void> {
  process.kill(-started.child.pid!, 'SIGTERM');
  const alive = () => {
    try {
      process.kill(-started.child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 30_000;
  while (alive()) {
    if (Date.now() > deadline) throw new Error(`still running 30 s after SIGTERM:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function npmStart(app: string, owner?: { uid: number; gid: number }) {
  const port = await freePort();
  const pgPort = await freePort();
  const started = spawnIn(app, 'npm', ['start'], { PORT: String(port), EMBEDDED_PG_PORT: String(pgPort) }, owner);
  await until('the banner', () => (started.output().includes('Tactful is listening') ? true : undefined), started);
  await watchProcess(`http://127.0.0.1:${port}`);
  expect(await health(port)).toBe(200);
  return { started, port, pgPort };
}

describe('npm start and npm test in a private folder', () => {
  if (IS_ROOT) {
    it('as root: PostgreSQL runs as the postgres user from a root-owned copy of the binaries, keeps its data linked from .data/postgres, starts again without a rebuild, and a taken port ends in one line naming DATABASE_URL', async () => {
      const app = privateCopy();
      const first = await npmStart(app);
      expect(first.started.output()).toContain('Building dist/');

      // The data folder moved where the postgres user may write; the link says where.
      const link = join(app, '.data/postgres');
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      const dataDir = readlinkSync(link);
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      expect(dirname(dataDir)).toBe(RELOCATED_DATA);
      expect(first.started.output()).toContain(`.data/postgres -> ${dataDir}`);
      const postgresUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
      const data = statSync(dataDir);
      expect({ uid: data.uid, groupOrOthers: data.mode & 0o077 }).toEqual({ uid: postgresUid, groupOrOthers: 0 }); // nobody else may read it

      // The server runs as postgres, not root, from the cache, which only root may change.
      const pid = postmasterPid(dataDir);
      expect(statSync(`/proc/${pid}`).uid).toBe(postgresUid);
      const exe = readlinkSync(`/proc/${pid}/exe`);
      expect(exe.startsWith(BINARY_CACHE + '/')).toBe(true);
      const binDir = statSync(dirname(exe));
      expect({ uid: binDir.uid, groupOrOthersWrite: binDir.mode & 0o022 }).toEqual({ uid: 0, groupOrOthersWrite: 0 });

      await stopGroup(first.started);
      expect(() => readFileSync(join(dataDir, 'postmaster.pid'))).toThrow(); // shut down cleanly

      const second = await npmStart(app);
      expect(second.started.output()).not.toContain('Building dist/');
      expect(readlinkSync(link)).toBe(dataDir);
      await stopGroup(second.started);

      // Its port taken, the embedded PostgreSQL cannot start: one line, no stack trace.
      const squatter: Server = createServer();
      const pgPort = await freePort();
      await new Promise<void>((ok) => squatter.listen(pgPort, '127.0.0.1', ok));
      try {
        const failed = spawnIn(app, process.execPath, ['dist/main.js'], { PORT: String(await freePort()), EMBEDDED_PG_PORT: String(pgPort) });
        const code = await new Promise<number | null>((done) => failed.child.once('close', done));
        expect(code).toBe(1);
        const lines = failed.output().trim().split('\n');
        expect(lines).toEqual([
          `The embedded PostgreSQL cannot start: port ${pgPort} on 127.0.0.1 is taken. To go on, set EMBEDDED_PG_PORT to a free port, or DATABASE_URL to a PostgreSQL of your own.`,
        ]);
      } finally {
        squatter.close();
      }
    }, 240_000);

    it("as root: npm test's global set-up starts its PostgreSQL from binaries the postgres user can reach", async () => {
      const app = privateCopy();
      const run = spawnIn(app, 'npm', ['test', '--', 'test/integration/migrations.spec.ts'], {});
      const code = await new Promise<number | null>((done) => run.child.once('close', done));
      expect({ code, summary: /Tests:.*/.exec(run.output())?.[0] }).toEqual({ code: 0, summary: expect.stringMatching(/^Tests:\s+\d+ passed, \d+ total/) });
    }, 180_000);
  }

  it(
    IS_ROOT ? 'as an ordinary user (nobody) in a folder it owns' : 'as the ordinary user running the tests',
    async () => {
      const owner = IS_ROOT ? NOBODY : undefined;
      const app = privateCopy(owner);
      const { started } = await npmStart(app, owner);
      // PostgreSQL runs as that user, on the data folder where it was asked for.
      const dataDir = join(app, '.data/postgres');
      expect(lstatSync(dataDir).isDirectory()).toBe(true);
      expect(statSync(`/proc/${postmasterPid(dataDir)}`).uid).toBe(owner?.uid ?? process.getuid!());
      await stopGroup(started);
    },
    180_000,
  );
});
