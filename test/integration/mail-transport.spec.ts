import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import {
  createMailTransport,
  EmlFileTransport,
  SmtpMailTransport,
  UnsafeMailError,
  type MailTransport,
  type OutgoingMail,
} from '../../src/delivery/mail-transport';
import type { SendOutcome } from '../../src/delivery/smtp-outcome.policy';
import { startSmtpSink, type SmtpFault, type SmtpSink } from '../support/smtp-sink';

function mail(n: number, overrides: Partial<OutgoingMail> = {}): OutgoingMail {
  return {
    messageId: `<delivery-${n}@tactful.test>`,
    from: '"Tactful Test" <news@tactful.test>',
    to: `kunde${n}@example.de`,
    subject: `Issue ${n}`,
    html: `<p>Hello ${n}</p>`,
    text: `Hello ${n}`,
    headers: {
      'List-Unsubscribe': `<https://tactful.test/u/token-${n}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'X-Tactful-Delivery': `delivery-${n}`,
    },
    ...overrides,
  };
}

/** A ~8 kB marketing mail: about 5 kB of HTML and 3 kB of text. */
function bigMail(n: number): OutgoingMail {
  const paragraph = 'Die Messe in Köln wurde auf den 14. März verschoben; neue Zahlungsziele gelten ab sofort. ';
  return mail(n, {
    html: `<html><body>${`<p>${paragraph}</p>`.repeat(52)}</body></html>`,
    text: paragraph.repeat(33),
  });
}

/** A header's value as written, unfolded. mailparser turns List-* headers into objects, so read the lines. */
function header(parsed: ParsedMail, name: string): string | undefined {
  const line = parsed.headerLines.find((candidate) => candidate.key === name.toLowerCase())?.line;
  return line
    ?.slice(name.length + 1)
    .replace(/\r?\n[ \t]+/g, ' ')
    .trim();
}

/** Runs `tasks` with at most `limit` in flight. */
async function runLimited<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

describe('SmtpMailTransport against the SMTP sink', () => {
  let sink: SmtpSink;
  let transport: SmtpMailTransport;

  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink.close();
  });
  beforeEach(() => {
    sink.clear();
    transport = new SmtpMailTransport({ url: sink.url, maxConnections: 2, socketTimeoutMs: 2_000 });
  });
  afterEach(async () => {
    await transport.close();
  });

  it('sends html and text as one multipart/alternative mail with the exact Message-ID and list headers', async () => {
    const outcome = await transport.send(mail(1));

    expect(outcome.status).toBe('sent');
    expect(outcome.response).toMatch(/^250 /);
    const [received] = await sink.waitFor(1);
    expect(received.envelope).toEqual({ mailFrom: 'news@tactful.test', rcptTo: ['kunde1@example.de'] });
    expect(received.parsed.messageId).toBe('<delivery-1@tactful.test>');
    expect(received.raw).toMatch(/^Message-ID: <delivery-1@tactful\.test>\r$/m);
    expect(received.raw).toMatch(/^Content-Type: multipart\/alternative;/m);
    expect(received.parsed.html).toBe('<p>Hello 1</p>');
    expect(received.parsed.text?.trim()).toBe('Hello 1');
    expect(header(received.parsed, 'List-Unsubscribe')).toBe('<https://tactful.test/u/token-1>');
    expect(header(received.parsed, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    expect(header(received.parsed, 'X-Tactful-Delivery')).toBe('delivery-1');
  });

  it('keeps German umlauts in subject and both body parts', async () => {
    const subject = 'Neue Zahlungsziele für Kunden in Köln – jetzt prüfen: äöüß ÄÖÜ';
    const outcome = await transport.send(mail(2, { subject, html: '<p>Grüße aus Düsseldorf, Ihr Team</p>', text: 'Grüße aus Düsseldorf, Ihr Team' }));

    expect(outcome.status).toBe('sent');
    const [received] = await sink.waitFor(1);
    expect(received.parsed.subject).toBe(subject);
    expect(received.parsed.html).toBe('<p>Grüße aus Düsseldorf, Ihr Team</p>');
    expect(received.parsed.text?.trim()).toBe('Grüße aus Düsseldorf, Ihr Team');
    // encoded on the wire: no 8-bit bytes for a relay without SMTPUTF8/8BITMIME to mangle
    // eslint-disable-next-line no-control-regex -- the range is all of 7-bit ASCII, control characters included
    expect(received.raw).not.toMatch(/[^\x00-\x7f]/);
  });

  it('attaches a calendar invitation as text/calendar with METHOD=REQUEST', async () => {
    const ics = 'BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:Webinar\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
    const outcome = await transport.send(
      mail(3, { attachments: [{ filename: 'webinar.ics', content: ics, contentType: 'text/calendar', method: 'request' }] }),
    );

    expect(outcome.status).toBe('sent');
    const [received] = await sink.waitFor(1);
    expect(received.raw).toMatch(/Content-Type: text\/calendar; charset=utf-8; method=REQUEST/);
    const attachment = received.parsed.attachments.find((candidate) => candidate.filename === 'webinar.ics');
    expect(attachment?.content.toString('utf8')).toBe(ics);
  });

  const faults: [string, SendOutcome['status'], SmtpFault][] = [
    ['421 at connect', 'retry', { kind: 'reject-connect' }],
    ['451 4.3.0 at RCPT', 'retry', { kind: 'reject-rcpt', code: 451, message: '4.3.0 Temporary lookup failure' }],
    ['451 4.3.0 after DATA', 'retry', { kind: 'reject-data', code: 451, message: '4.3.0 Local error in processing' }],
    ['550 5.1.1 at RCPT', 'bounce', { kind: 'reject-rcpt', code: 550, message: '5.1.1 <kunde10@example.de>: Recipient address rejected' }],
    ['554 5.7.1 after DATA', 'policy', { kind: 'reject-data', code: 554, message: '5.7.1 Message rejected as spam' }],
    ['a connection cut after DATA', 'unknown', { kind: 'cut-after-data' }],
  ];

  it.each(faults)('maps %s to %s, and the sink counts nothing as received', async (_name, expected, fault) => {
    const stage = fault.kind === 'reject-connect' ? 'connect' : 'message';
    sink.fault((ctx) => (ctx.stage === stage ? fault : undefined));

    const outcome = await transport.send(mail(10));

    expect(outcome.status).toBe(expected);
    if (fault.kind === 'reject-rcpt' || fault.kind === 'reject-data') {
      expect(outcome.response).toBe(`${fault.code} ${fault.message}`);
    }
    if (fault.kind === 'reject-connect') expect(outcome.response).toMatch(/^421 4\.3\.2 /);
    expect(sink.messages).toHaveLength(0);
    // one attempt: the pool does not quietly retry behind the outbox's back
    expect(sink.connectionCount).toBe(1);
  });

  it('keeps a message cut off after DATA apart from the accepted ones, so duplicates can be reasoned about', async () => {
    sink.fault((ctx) => (ctx.stage === 'message' && ctx.attempt === 1 ? { kind: 'cut-after-data' } : undefined));

    const first = await transport.send(mail(11));
    const second = await transport.send(mail(11));

    expect([first.status, second.status]).toEqual(['unknown', 'sent']);
    expect(sink.cutAfterData.map((message) => message.parsed.messageId)).toEqual(['<delivery-11@tactful.test>']);
    expect(sink.messages.map((message) => message.parsed.messageId)).toEqual(['<delivery-11@tactful.test>']);
  });

  it('reports retry when the connection drops while the message is still being streamed', async () => {
    sink.fault((ctx) => (ctx.stage === 'message' ? { kind: 'cut-during-data' } : undefined));
    // bigger than the loopback socket buffers, so the client cannot have handed it all over
    const large = mail(17, { attachments: [{ filename: 'big.bin', content: Buffer.alloc(24 * 1024 * 1024, 7), contentType: 'application/octet-stream' }] });

    const outcome = await transport.send(large);

    expect(outcome.status).toBe('retry');
    expect(sink.messages).toHaveLength(0);
  });

  it('reports unknown when the final reply does not come within the socket timeout', async () => {
    const impatient = new SmtpMailTransport({ url: sink.url, pool: false, socketTimeoutMs: 200 });
    sink.fault((ctx) => (ctx.stage === 'message' ? { kind: 'accept', delayMs: 1_000 } : undefined));
    try {
      const outcome = await impatient.send(mail(12));
      expect(outcome).toEqual({ status: 'unknown', response: expect.stringContaining('ETIMEDOUT') });
    } finally {
      await impatient.close();
    }
  });

  it('reports retry when the relay does not listen', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const nowhere = new SmtpMailTransport({ url: `smtp://127.0.0.1:${closedPort}` });
    try {
      const outcome = await nowhere.send(mail(13));
      expect(outcome.status).toBe('retry');
      expect(outcome.response).toMatch(/ECONNREFUSED/);
    } finally {
      await nowhere.close();
    }
  });

  it.each([
    ['a header value with CRLF', mail(14, { headers: { 'X-Note': 'ok\r\nBcc: victim@example.de' } })],
    ['a header value with a bare LF', mail(14, { headers: { 'List-Id': 'news\n<news.tactful.test>' } })],
    ['a subject with CRLF', mail(14, { subject: 'Hi\r\nBcc: victim@example.de' })],
    ['a Message-ID without angle brackets', mail(14, { messageId: 'delivery-14@tactful.test' })],
    ['a header name with a colon', mail(14, { headers: { 'X-Bad:Name': 'x' } })],
    ['a Message-ID passed as a header', mail(14, { headers: { 'Message-ID': '<other@tactful.test>' } })],
  ])('rejects %s before any SMTP traffic', async (_name, unsafe) => {
    await expect(transport.send(unsafe)).rejects.toThrow(UnsafeMailError);
    expect(sink.connectionCount).toBe(0);
  });

  it('delivers 500 concurrent mails through the pool exactly once each', async () => {
    const pooled = new SmtpMailTransport({ url: sink.url, maxConnections: 5 });
    try {
      const outcomes = await Promise.all(Array.from({ length: 500 }, (_, i) => pooled.send(mail(1000 + i))));

      expect(outcomes.filter((outcome) => outcome.status !== 'sent')).toEqual([]);
      await sink.waitFor(500);
      const ids = sink.messages.map((message) => message.parsed.messageId);
      expect(new Set(ids).size).toBe(500);
      expect(ids.sort()).toEqual(Array.from({ length: 500 }, (_, i) => `<delivery-${1000 + i}@tactful.test>`).sort());
      expect(sink.connectionCount).toBeLessThanOrEqual(5);
    } finally {
      await pooled.close();
    }
    // nothing trickles in late
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sink.messages).toHaveLength(500);
  });

  it('keeps sending over the pool after a connection was cut mid-transaction', async () => {
    const pooled = new SmtpMailTransport({ url: sink.url, maxConnections: 3 });
    sink.fault((ctx) => (ctx.stage === 'message' && ctx.rcpt === 'kunde2005@example.de' ? { kind: 'cut-after-data' } : undefined));
    try {
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => pooled.send(mail(2000 + i))));

      expect(outcomes[5].status).toBe('unknown');
      expect(outcomes.filter((outcome) => outcome.status === 'sent')).toHaveLength(19);
      expect(sink.messages).toHaveLength(19);
      expect(sink.cutAfterData).toHaveLength(1);
    } finally {
      await pooled.close();
    }
  });

  it('waits for mails in flight when closed', async () => {
    const pooled = new SmtpMailTransport({ url: sink.url, maxConnections: 1 });
    sink.fault((ctx) => (ctx.stage === 'message' ? { kind: 'accept', delayMs: 150 } : undefined));
    const pending = pooled.send(mail(15));

    await pooled.close();

    expect(sink.messages).toHaveLength(1);
    await expect(pending).resolves.toMatchObject({ status: 'sent' });
    await expect(pooled.send(mail(16))).rejects.toThrow(/closed/);
  });

  it('describes itself without credentials', () => {
    const withSecret = new SmtpMailTransport({ url: 'smtps://user:s3cret@relay.example:465', maxConnections: 4, ratePerSecond: 50 });
    expect(withSecret.description).toBe('smtps://relay.example:465 (pooled, 4 connections, 50/s)');
    void withSecret.close();
  });
});

describe('EmlFileTransport', () => {
  let dir: string;

  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'tactful-eml-')), 'outbox'); // not created yet on purpose
  });
  afterEach(() => {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  it('writes a parseable .eml file with both parts, the Message-ID and the headers', async () => {
    const transport = new EmlFileTransport({ dir });
    const outcome = await transport.send(mail(1, { subject: 'Grüße aus Köln' }));

    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^delivery-1@tactful\.test\.[0-9a-f]{12}\.eml$/);
    expect(outcome).toEqual({ status: 'sent', response: `250 written ${join(dir, files[0])}` });
    const raw = readFileSync(join(dir, files[0]));
    expect(raw.toString('latin1')).toMatch(/\r\n\r\n/); // CRLF, as on the wire
    const parsed = await simpleParser(raw);
    expect(parsed.messageId).toBe('<delivery-1@tactful.test>');
    expect(parsed.subject).toBe('Grüße aus Köln');
    expect(parsed.html).toBe('<p>Hello 1</p>');
    expect(parsed.text?.trim()).toBe('Hello 1');
    expect(header(parsed, 'List-Unsubscribe')).toBe('<https://tactful.test/u/token-1>');
    expect(header(parsed, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    await transport.close();
  });

  it('overwrites the file when the same delivery is sent again, and leaves no temp files', async () => {
    const transport = new EmlFileTransport({ dir });
    await transport.send(mail(1, { subject: 'first' }));
    await Promise.all([transport.send(mail(1, { subject: 'second' })), transport.send(mail(1, { subject: 'second' }))]);
    await transport.send(mail(2));

    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    const parsed = await simpleParser(
      readFileSync(
        join(
          dir,
          files.find((name) => name.startsWith('delivery-1@'))!,
        ),
      ),
    );
    expect(parsed.subject).toBe('second');
  });

  it('gives Message-IDs that sanitise alike different files', () => {
    const transport = new EmlFileTransport({ dir });
    const a = transport.fileNameFor('<a/b@tactful.test>');
    const b = transport.fileNameFor('<a_b@tactful.test>');
    expect(a).not.toBe(b);
    expect(a).not.toContain('/');
    expect(transport.fileNameFor('<../../etc/passwd@x>')).not.toContain('/');
  });

  it('rejects a CR/LF header value without writing anything', async () => {
    const transport = new EmlFileTransport({ dir });
    await expect(transport.send(mail(1, { headers: { 'X-Note': 'a\r\nb' } }))).rejects.toThrow(UnsafeMailError);
    expect(() => readdirSync(dir)).toThrow(/ENOENT/);
  });
});

describe('createMailTransport', () => {
  it('chooses SMTP when SMTP_URL is set and .eml files otherwise', async () => {
    const transports: MailTransport[] = [
      createMailTransport({ smtpUrl: 'smtp://127.0.0.1:2525', outboxDir: '/tmp/x', maxConnections: 2, ratePerSecond: 0 }),
      createMailTransport({ smtpUrl: '', outboxDir: '/tmp/x', maxConnections: 2, ratePerSecond: 0 }),
      createMailTransport({ smtpUrl: 'smtp://127.0.0.1:2525', outboxDir: '/tmp/x', maxConnections: 2, ratePerSecond: 0, pool: false }),
    ];
    expect(transports[0]).toBeInstanceOf(SmtpMailTransport);
    expect(transports[0].description).toBe('smtp://127.0.0.1:2525 (pooled, 2 connections)');
    expect(transports[1]).toBeInstanceOf(EmlFileTransport);
    expect(transports[1].description).toBe('.eml files in /tmp/x');
    expect(transports[2].description).toBe('smtp://127.0.0.1:2525 (one connection per mail)');
    await Promise.all(transports.map((transport) => transport.close()));
  });

  it('refuses a URL that is not smtp: or smtps:', () => {
    expect(() => createMailTransport({ smtpUrl: 'http://relay:25', outboxDir: '/tmp/x', maxConnections: 1, ratePerSecond: 0 })).toThrow(/smtp: or smtps:/);
  });
});

describe('SMTP throughput (printed, not asserted)', () => {
  let sink: SmtpSink;

  beforeAll(async () => {
    // The sink does not parse here, so the figure is about the transport, not mailparser.
    sink = await startSmtpSink({ parse: false });
  });
  afterAll(async () => {
    await sink.close();
  });

  it('sends ~500 mails of 8 kB pooled and unpooled', async () => {
    const sample = bigMail(0);
    const size = Buffer.byteLength(sample.html) + Buffer.byteLength(sample.text);
    const rates: string[] = [];
    // Unpooled pays smtp-server's fixed 100 ms greeting delay (early-talker check) per mail,
    // so fewer mails give the same rate.
    for (const [label, pool, count] of [
      ['pooled (5 connections)', true, 500],
      ['unpooled (5 in flight)', false, 150],
    ] as const) {
      sink.clear();
      const transport = new SmtpMailTransport({ url: sink.url, pool, maxConnections: 5 });
      await transport.send(bigMail(-1)); // warm-up: connection, JIT
      const started = process.hrtime.bigint();
      const outcomes = await runLimited(count, pool ? count : 5, (i) => transport.send(bigMail(i)));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      await transport.close();
      expect(outcomes.every((outcome) => outcome.status === 'sent')).toBe(true);
      rates.push(`${label}: ${count} mails, ${Math.round(count / seconds)} mails/s`);
    }
    console.log(`SMTP sink, ~${Math.round(size / 1024)} kB body per mail\n${rates.join('\n')}`);
  });
});
