#!/usr/bin/env node
// bench/dkim: the CPU one DKIM signature costs the worker (src/delivery/dkim.ts), RSA 2048 and
// Ed25519, over a ~12 kB campaign-sized message: relaxed canonicalization, both hashes and the
// signature. bench/send.js measures the same inside the whole send loop; this isolates it, as
// CPU time, which a busy machine distorts less than wall time.
//
//   npm run build && node bench/dkim.js [--signatures N]
'use strict';
const { generateKeyPairSync } = require('node:crypto');
const { existsSync } = require('node:fs');
const { join, resolve } = require('node:path');

const DIST = process.env.BENCH_DIST ? resolve(process.env.BENCH_DIST) : join(__dirname, '..', 'dist');
if (!existsSync(join(DIST, 'delivery/dkim.js'))) {
  process.stderr.write('bench/dkim.js needs the build: run `npm run build` first\n');
  process.exit(1);
}
const { DkimSigner } = require(join(DIST, 'delivery/dkim'));
const at = process.argv.indexOf('--signatures');
const N = at > 0 ? Number(process.argv[at + 1]) : 2000;

const paragraph = 'Die Messe in K=C3=B6ln wurde auf den 14. M=C3=A4rz verschoben; neue Zahlungsziele gelten ab sofort.=\r\n';
const message = Buffer.from(
  'From: Tactful <news@tactful.example>\r\nTo: kunde@example.de\r\nSubject: Neues zur Messe\r\nDate: Wed, 02 Dec 2026 13:29:08 +0000\r\n' +
    'Message-ID: <bench@tactful.example>\r\nMIME-Version: 1.0\r\nList-Unsubscribe: <https://tactful.example/u/x>\r\n' +
    'List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
    paragraph.repeat(120),
);
const cpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};
for (const [label, algorithm, pair] of [
  ['RSA 2048', 'rsa-sha256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ['Ed25519', 'ed25519-sha256', generateKeyPairSync('ed25519')],
]) {
  const signer = new DkimSigner({ domain: 'tactful.example', selector: 'bench', algorithm, privateKeyPem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() });
  for (let i = 0; i < 200; i++) signer.signature(message, new Date()); // warm-up
  const before = cpuMs();
  for (let i = 0; i < N; i++) signer.signature(message, new Date());
  process.stdout.write(`${label.padEnd(8)} ${((cpuMs() - before) / N).toFixed(3)} ms CPU per signature, ${(message.length / 1024).toFixed(1)} kB message, ${N} signatures\n`);
}
