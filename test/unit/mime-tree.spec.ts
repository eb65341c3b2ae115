// writeTreeAtOnce (src/delivery/mime-tree.ts) writes nodemailer's compiled tree in one pass instead
// of nodemailer's streams: what leaves the transport must be byte for byte what nodemailer writes
// for the same mail. Both sides run the whole of nodemailer's sendMail (compile, its own headers,
// the last newline, the newline transform) on the same mail with the same MIME boundary.
import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { createTransport } from 'nodemailer';
import type { SendMailOptions } from 'nodemailer';
import { DkimSigner } from '../../src/delivery/dkim';
import { OutgoingMail, toNodemailerMessage } from '../../src/delivery/mail-transport';
import { MimeTreeNode, writeTreeAtOnce } from '../../src/delivery/mime-tree';

type Newline = 'windows' | undefined;

/** nodemailer's bytes for the message, and whether the one-pass writer wrote them (`atOnce`). */
async function composed(message: SendMailOptions, atOnce: boolean, newline: Newline): Promise<{ bytes: Buffer; written: boolean }> {
  const transport = createTransport({ streamTransport: true, buffer: true, ...(newline ? { newline } : {}), disableFileAccess: true, disableUrlAccess: true });
  let written = false;
  if (atOnce) {
    transport.use('stream', (mail, done) => {
      written = writeTreeAtOnce(mail.message as unknown as MimeTreeNode);
      done();
    });
  }
  const info = (await transport.sendMail({ ...message, baseBoundary: 'fixedboundary01' } as SendMailOptions)) as { message: Buffer };
  return { bytes: info.message, written };
}

async function expectSameBytes(mail: OutgoingMail, newline?: Newline): Promise<Buffer> {
  const streamed = await composed(toNodemailerMessage(mail), false, newline);
  const atOnce = await composed(toNodemailerMessage(mail), true, newline);
  expect(atOnce.written).toBe(true);
  expect(atOnce.bytes.toString('latin1')).toBe(streamed.bytes.toString('latin1'));
  return atOnce.bytes;
}

const base: OutgoingMail = {
  messageId: '<0123456789abcdef@tactful.example>',
  from: 'Tactful Köln <newsletter@tactful.example>',
  to: 'kunde-17@example.de',
  envelopeFrom: 'b+abc@bounce.tactful.example',
  replyTo: 'Antwort <antwort@tactful.example>',
  subject: 'Neues zur Messe und zu Ihren Zahlungszielen',
  html: '<html><body><p>Die Messe in Köln wurde auf den 14. März verschoben.</p></body></html>',
  text: 'Die Messe in Köln wurde auf den 14. März verschoben.',
  headers: {
    'List-Unsubscribe': '<https://tactful.example/u/abc>, <mailto:unsubscribe@tactful.example?subject=unsubscribe-abc>',
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    'List-Id': 'Tactful <campaign.tactful.example>',
    'Feedback-ID': '42:campaign:marketing:tactful',
    'X-Tactful-Delivery': 'Zm9vYmFy',
  },
  date: new Date('2026-12-04T18:00:00.000Z'),
};

// Pieces that exercise the encoders' edges: long lines, white space at line ends and at the end,
// lone CR and LF, dots at line starts, '=' and non-Latin text, an emoji across a soft break.
const piece = fc.constantFrom(
  'Köln ',
  'a',
  ' ',
  '\t',
  '\r\n',
  '\n',
  '\r',
  '.',
  '=',
  '=C3',
  'ß€',
  '😀',
  'x'.repeat(75),
  'y '.repeat(40),
  '<a href="https://tactful.example/p/eyJhbGciOi.J9">Einstellungen</a>',
);
const text = fc.array(piece, { maxLength: 60 }).map((pieces) => pieces.join(''));
const headerText = fc
  .array(fc.constantFrom('Köln', 'Messe', ' ', 'ü', '😀', '=?', '?=', '"', 'x'.repeat(70), ','), { maxLength: 12 })
  .map((p) => p.join('').trim() || 'x');

describe('writeTreeAtOnce: the one-pass MIME writer', () => {
  it('writes what nodemailer streams for a campaign-like mail, on the wire and in an .eml file', async () => {
    const html = `<html><body>${'<p>Für Bestellungen bis Ende des Monats gelten verlängerte Zahlungsziele von 60 Tagen.</p>'.repeat(80)}</body></html>`;
    const mail = { ...base, html, text: 'Für Bestellungen bis Ende des Monats gelten verlängerte Zahlungsziele.\n\n'.repeat(40) };
    const bytes = await expectSameBytes(mail);
    expect(bytes.toString('latin1')).toContain('Content-Transfer-Encoding: quoted-printable');
    expect(bytes.toString('latin1')).toContain('Message-ID: <0123456789abcdef@tactful.example>');
    await expectSameBytes(mail, 'windows');
  });

  it('writes what nodemailer streams for any subject, text and HTML part', async () => {
    await fc.assert(
      fc.asyncProperty(headerText, text, text, fc.boolean(), async (subject, html, plain, windows) => {
        await expectSameBytes({ ...base, subject, html, text: plain || 'x' }, windows ? 'windows' : undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('writes what nodemailer streams for a 7-bit text part, header values with non-ASCII and no Reply-To', async () => {
    const { replyTo: _replyTo, ...noReplyTo } = base;
    await expectSameBytes({
      ...noReplyTo,
      text: 'Plain ASCII, short lines.',
      headers: { ...base.headers, 'List-Id': 'Tactful Köln GmbH & Co. KG <campaign.tactful.example>' },
    });
  });

  it('writes what nodemailer streams for attachments and a calendar invitation (base64 and quoted-printable parts)', async () => {
    const binary = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37) % 256));
    await fc.assert(
      fc.asyncProperty(text, fc.uint8Array({ maxLength: 300 }), async (ics, bytes) => {
        await expectSameBytes({
          ...base,
          attachments: [
            { filename: 'einladung.ics', content: `BEGIN:VCALENDAR\r\n${ics}\r\nEND:VCALENDAR\r\n`, contentType: 'text/calendar', method: 'request' },
            { filename: 'Übersicht.pdf', content: Buffer.concat([binary, Buffer.from(bytes)]), contentType: 'application/pdf' },
            { filename: 'notiz.txt', content: ics || 'leer', contentType: 'text/plain' },
          ],
        });
      }),
      { numRuns: 100 },
    );
  });

  it('gives the same DKIM signature: the signer sees the same bytes', async () => {
    const mail = { ...base, html: '<p>Köln</p>'.repeat(500) };
    const streamed = await composed(toNodemailerMessage(mail), false, undefined);
    const atOnce = await composed(toNodemailerMessage(mail), true, undefined);
    const at = new Date('2026-12-04T18:00:00Z');
    for (const [algorithm, pair] of [
      ['rsa-sha256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
      ['ed25519-sha256', generateKeyPairSync('ed25519')],
    ] as const) {
      const signer = new DkimSigner({
        domain: 'tactful.example',
        selector: 's1',
        algorithm,
        privateKeyPem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      });
      expect(signer.signature(atOnce.bytes, at)).toBe(signer.signature(streamed.bytes, at));
    }
  });

  it('leaves a tree with a stream in it to nodemailer, which still writes the whole mail', async () => {
    const message = { ...toNodemailerMessage(base), text: Readable.from([Buffer.from('aus einem Stream')]) };
    const atOnce = await composed(message, true, undefined);
    expect(atOnce.written).toBe(false);
    expect(atOnce.bytes.toString('latin1')).toContain('aus einem Stream');
  });
});
