#!/usr/bin/env node
// Builds dist/ from src/.
//   node scripts/build.js             `npm run build`: nest build, type-checked (the Docker image, releases).
//   node scripts/build.js --if-stale  `npm start` and the test set-up: nothing when dist/ is complete and
//                                     newer than src/ and the build settings; else a transpile-only build
//                                     (about a quarter of the CPU of a checked one; `npm run typecheck`
//                                     and CI check the types).
// Either way dist/.build-complete marks a finished build, stamped with the time the build started,
// so a file saved during a build makes the next start build again.
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } = require('node:fs');
const { dirname, join, relative, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..');
const DIST = join(ROOT, 'dist');
const STAMP = join(DIST, '.build-complete');
/** What the output depends on besides src/. */
const SETTINGS = ['tsconfig.json', 'tsconfig.build.json', 'nest-cli.json'];

/** Newest modification time under `path`, folders included (a deleted file changes its folder's). */
function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Why dist/ must be built, or undefined when it is current. */
function staleness() {
  if (!existsSync(STAMP)) return existsSync(DIST) ? 'dist/ is incomplete or from an older build' : 'dist/ does not exist yet';
  const built = statSync(STAMP).mtimeMs;
  const inputs = ['src', ...SETTINGS].map((name) => join(ROOT, name)).filter((path) => existsSync(path));
  const changed = inputs.find((path) => newestMtime(path) > built);
  return changed ? `${relative(ROOT, changed)} changed since the last build` : undefined;
}

function stamp(startedMs) {
  writeFileSync(STAMP, '');
  const at = new Date(startedMs);
  utimesSync(STAMP, at, at);
}

/** nest build (type-checked, deleteOutDir). */
function checkedBuild() {
  const started = Date.now();
  execFileSync(process.execPath, [join(ROOT, 'node_modules/@nestjs/cli/bin/nest.js'), 'build'], { cwd: ROOT, stdio: 'inherit' });
  stamp(started);
}

/**
 * Each file of the build's program through ts.transpileModule, as ts-jest runs the tests
 * (isolatedModules): the same JavaScript, decorator metadata written without the checker.
 * Written to a fresh folder and swapped in whole, so a running process never sees half a build.
 */
function transpiledBuild() {
  const started = Date.now();
  const ts = require(join(ROOT, 'node_modules/typescript'));
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  const srcDir = parsed.options.rootDir ?? join(ROOT, 'src');
  const next = `${DIST}.next-${process.pid}`;
  rmSync(next, { recursive: true, force: true });
  for (const file of parsed.fileNames) {
    const out = join(next, relative(srcDir, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    const { outputText, sourceMapText, diagnostics } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { ...parsed.options, outDir: undefined, rootDir: undefined },
      fileName: file,
      reportDiagnostics: true,
    });
    // Only syntax can be wrong here; types are the type check's.
    const errors = (diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (errors.length > 0) {
      rmSync(next, { recursive: true, force: true });
      throw new Error(ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' }));
    }
    writeFileSync(out, outputText);
    if (sourceMapText) {
      // Pointing back at src/ relative to the map's place in dist/, as tsc's maps do.
      const map = JSON.parse(sourceMapText);
      map.sources = [relative(dirname(join(DIST, relative(next, out))), file)];
      writeFileSync(`${out}.map`, JSON.stringify(map));
    }
  }
  const old = `${DIST}.old-${process.pid}`;
  if (existsSync(DIST)) renameSync(DIST, old);
  renameSync(next, DIST);
  rmSync(old, { recursive: true, force: true });
  stamp(started);
}

/** Builds when stale; returns the reason it built, or undefined when dist/ was current. */
function buildIfStale(log = (line) => process.stderr.write(line + '\n')) {
  const reason = staleness();
  if (!reason) return undefined;
  log(`Building dist/ (${reason})...`);
  const started = Date.now();
  transpiledBuild();
  log(`Built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  return reason;
}

module.exports = { buildIfStale, checkedBuild };

if (require.main === module) {
  try {
    if (process.argv.includes('--if-stale')) buildIfStale();
    else checkedBuild();
  } catch (error) {
    process.stderr.write(`Build failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
