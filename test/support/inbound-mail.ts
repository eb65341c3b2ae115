// The mail fixtures of test/fixtures/mail/ with their placeholders filled, and a sending MTA:
// a raw SMTP client that hands a message to a server the way a real MTA returns a bounce
// (empty envelope sender, CRLF line ends, dot-stuffing), reporting every reply it got.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

export interface FixtureValues {
  VERP?: string;
  RECIPIENT?: string;
  MESSAGE_ID?: string;
  REFERENCE?: string;
  FROM?: string;
  DATE?: string;
  TO?: string;
  SUBJECT?: string;
}

export function mailFixture(name: string, values: FixtureValues): Buffer {
  let text = readFileSync(join(__dirname, '..', 'fixtures', 'mail', name), 'utf8');
  const filled: Required<FixtureValues> = {
    VERP: 'bounces@bounce.shop.example',
    RECIPIENT: 'nobody@recipient.example',
    MESSAGE_ID: '<none@shop.example>',
    REFERENCE: 'none',
    FROM: 'Shop <news@shop.example>',
    DATE: 'Wed, 02 Dec 2026 09:40:00 +0000',
    TO: 'unsubscribe@shop.example',
    SUBJECT: 'unsubscribe',
    ...values,
  };
  for (const [key, value] of Object.entries(filled)) text = text.split(`%${key}%`).join(value);
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');
}

export interface SmtpReplies {
  /** Each reply line group, as `code text`, in order: greeting, EHLO, MAIL, RCPT…, DATA, end of data, QUIT. */
  replies: string[];
  /** The code of the RCPT reply of each recipient. */
  rcpt: number[];
  /** The reply to the message (after the final dot), or null when no recipient was accepted. */
  final: number | null;
}

/** One SMTP transaction as an MTA returning mail does it: `MAIL FROM:<>` by default. */
export async function sendRawMail(port: number, options: { from?: string; to: string[]; data: Buffer }): Promise<SmtpReplies> {
  const socket = connect(port, '127.0.0.1');
  socket.setTimeout(15_000, () => socket.destroy(new Error('SMTP conversation timed out')));
  const replies: string[] = [];
  let buffer = '';
  let waiting: { resolve: (reply: string) => void; reject: (error: Error) => void } | null = null;
  const queue: string[] = [];
  const deliver = () => {
    while (waiting && queue.length > 0) {
      const next = waiting;
      waiting = null;
      next.resolve(queue.shift()!);
    }
  };
  socket.on('data', (chunk) => {
    buffer += chunk.toString('utf8');
    // A reply ends with a line `NNN text` (a space after the code); `NNN-text` lines continue it.
    for (let match = /^(\d{3}) .*\r\n/m.exec(buffer); match; match = /^(\d{3}) .*\r\n/m.exec(buffer)) {
      const end = match.index + match[0].length;
      queue.push(buffer.slice(0, end).trim());
      buffer = buffer.slice(end);
    }
    deliver();
  });
  socket.on('error', (error) => waiting?.reject(error));
  const reply = async (line?: string): Promise<number> => {
    if (line !== undefined) socket.write(`${line}\r\n`);
    const text = await new Promise<string>((resolve, reject) => {
      waiting = { resolve, reject };
      deliver();
    });
    replies.push(text);
    return Number(text.slice(text.lastIndexOf('\n') + 1).slice(0, 3));
  };
  await reply();
  await reply('EHLO mx.returning.example');
  await reply(`MAIL FROM:<${options.from ?? ''}>`);
  const rcpt: number[] = [];
  for (const to of options.to) rcpt.push(await reply(`RCPT TO:<${to}>`));
  let final: number | null = null;
  if (rcpt.some((code) => code < 300) && (await reply('DATA')) === 354) {
    const body = options.data.toString('utf8').replace(/(^|\r\n)\./g, '$1..');
    final = await reply(`${body.endsWith('\r\n') ? body.slice(0, -2) : body}\r\n.`);
  }
  await reply('QUIT').catch(() => 0);
  socket.destroy();
  return { replies, rcpt, final };
}
