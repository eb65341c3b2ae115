// A private, verified copy of dist/ for tests that start `node dist/main.js` as real processes.
// `nest build` (deleteOutDir) empties dist/ while it rebuilds, so a process started while another
// test run or a developer rebuilds would load half a build. The copy sits in a temp folder next
// to links to node_modules/ and templates/ (the app reads templates relative to its own files),
// and is used only after the whole module graph loaded from it.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

export interface DistSnapshot {
  /** Absolute path of main.js in the copy. */
  main: string;
  dispose(): void;
}

export async function snapshotDist(timeoutMs = 120_000): Promise<DistSnapshot> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    const dir = mkdtempSync(join(tmpdir(), 'tactful-dist-'));
    const dispose = () => rmSync(dir, { recursive: true, force: true });
    try {
      if (existsSync(join(ROOT, 'dist/main.js'))) {
        cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
        symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
        symlinkSync(join(ROOT, 'templates'), join(dir, 'templates'));
        const check = spawnSync(process.execPath, ['-e', `require('reflect-metadata'); require(${JSON.stringify(join(dir, 'dist/bootstrap.js'))})`], {
          cwd: dir,
          encoding: 'utf8',
          timeout: 60_000,
        });
        if (check.status === 0) return { main: join(dir, 'dist/main.js'), dispose };
        lastError = check.stderr.slice(0, 2000);
      } else {
        lastError = 'dist/main.js does not exist';
      }
    } catch (error) {
      lastError = String(error);
    }
    dispose();
    if (Date.now() > deadline) throw new Error(`no complete build in dist/ within ${timeoutMs} ms: ${lastError}`);
    await new Promise((done) => setTimeout(done, 1_000));
  }
}
