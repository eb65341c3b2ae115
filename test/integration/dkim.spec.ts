// DKIM as a receiver checks it: mails signed by the SMTP transport go through the SMTP sink, and
// mailauth's verifier checks what arrived against the public key published in a test resolver
// (the TXT record dkimDnsRecord() gives the operator to publish). RSA 2048 and Ed25519.
import { generateKeyPairSync } from 'node:crypto';
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { DkimSigner, dkimDnsRecord } from '../../src/delivery/dkim';
import { SmtpMailTransport, type OutgoingMail } from '../../src/delivery/mail-transport';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';

const DOMAIN = 'tactful.test';
const SELECTOR = 'mail2026';

function keyPem(type: 'rsa' | 'ed25519'): string {
  const pair = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  return pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** A DNS resolver that knows exactly one DKIM record, as mailauth asks for it (TXT, chunks). */
function resolverFor(record: string) {
  return async (name: string, type: string): Promise<string[][]> => {
    if (type === 'TXT' && name === `${SELECTOR}._domainkey.${DOMAIN}`) return [[record]];
    throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
  };
}

function marketingMail(n: number): OutgoingMail {
  const paragraph = 'Die Messe in Köln wurde auf den 14. März verschoben;  neue Zahlungsziele   gelten ab sofort. \t';
  return {
    messageId: `<dkim-${n}@tactful.test>`,
    from: 'Tactful <news@tactful.test>',
    to: `kunde${n}@example.de`,
    envelopeFrom: `bounces+${'ab'.repeat(20)}@bounce.tactful.test`,
    replyTo: 'Team <team@tactful.test>',
    subject: `Neues zur Messe — Ausgabe ${n}`,
    html: `<html><body>${`<p>${paragraph}</p>\n`.repeat(40)}</body></html>`,
    text: `${paragraph}\n`.repeat(30) + '\n\n\n',
    headers: {
      'List-Unsubscribe': `<https://tactful.test/u/token-${n}>, <mailto:unsubscribe@tactful.test?subject=unsubscribe-${n}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'List-Id': 'Tactful <campaign.tactful.test>',
      'Feedback-ID': `cmp-${n}:campaign:marketing:tactful`,
    },
  };
}

describe.each(['rsa', 'ed25519'] as const)('DKIM signing with an %s key', (type) => {
  let sink: SmtpSink;
  let transport: SmtpMailTransport;
  let record: string;

  beforeAll(async () => {
    const pem = keyPem(type);
    record = dkimDnsRecord(pem);
    sink = await startSmtpSink();
    const algorithm = type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256';
    transport = new SmtpMailTransport({ url: sink.url, maxConnections: 2, dkim: new DkimSigner({ domain: DOMAIN, selector: SELECTOR, privateKeyPem: pem, algorithm }) });
  });
  afterAll(async () => {
    await transport?.close();
    await sink?.close();
  });

  it('publishes the key type the record names', () => {
    expect(record).toMatch(type === 'rsa' ? /^v=DKIM1; k=rsa; p=MIIB/ : /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
  });

  it('signs From, Subject and the List-Unsubscribe pair, and the mail verifies against the published key', async () => {
    for (let n = 1; n <= 3; n++) expect((await transport.send(marketingMail(n))).status).toBe('sent');
    expect(sink.messages).toHaveLength(3);
    for (const message of sink.messages) {
      const result = await dkimVerify(Buffer.from(message.raw, 'utf8'), { resolver: resolverFor(record) });
      expect(result.results).toHaveLength(1);
      const [signature] = result.results;
      expect(signature.status.result).toBe('pass');
      expect(signature.signingDomain).toBe(DOMAIN);
      expect(signature.selector).toBe(SELECTOR);
      expect(signature.status.header).toMatchObject({ a: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256' });
      // h= as written (mailauth's signingHeaders lists only the instances it found).
      const field = /^DKIM-Signature:[^]*?(?=\r\n\S)/m.exec(message.raw)![0].replace(/\r\n[ \t]+/g, ' ');
      const signed = /\bh=([^;]+)/.exec(field)![1].split(':').map((name: string) => name.trim().toLowerCase());
      expect(signed).toEqual(expect.arrayContaining(['from', 'subject', 'list-unsubscribe', 'list-unsubscribe-post', 'date', 'message-id', 'to', 'reply-to']));
      // Over-signed: a second From or Subject added on the way breaks the signature.
      expect(signed.filter((name: string) => name === 'from')).toHaveLength(2);
      // The envelope sender is not a header of ours: the receiving MTA writes Return-Path.
      expect(message.raw).not.toMatch(/^Return-Path:/im);
      expect(message.envelope.mailFrom).toBe(`bounces+${'ab'.repeat(20)}@bounce.tactful.test`);
    }
  });

  it('fails verification once the Subject is changed, or a second List-Unsubscribe is slipped in', async () => {
    sink.clear();
    expect((await transport.send(marketingMail(7))).status).toBe('sent');
    const raw = sink.messages[0].raw;
    const verify = async (text: string) => (await dkimVerify(Buffer.from(text, 'utf8'), { resolver: resolverFor(record) })).results[0].status.result;
    expect(await verify(raw)).toBe('pass');
    const tampered = raw.replace(/^Subject: .*$/m, 'Subject: Sie haben gewonnen');
    expect(tampered).not.toBe(raw);
    expect(await verify(tampered)).toBe('fail');
    const injected = raw.replace(/\r\n\r\n/, '\r\nList-Unsubscribe: <https://evil.test/u>\r\n\r\n');
    expect(await verify(injected)).toBe('fail');
    const body = raw.replace('Zahlungsziele', 'Zahlungsfristen');
    // A changed body fails its body hash; mailauth reports that as neutral with this comment.
    const bodyResult = (await dkimVerify(Buffer.from(body, 'utf8'), { resolver: resolverFor(record) })).results[0].status;
    expect(bodyResult).toMatchObject({ result: 'neutral', comment: 'body hash did not verify' });
  });

  it('keeps telling a mail cut off during DATA (safe to resend) from one cut off after it (outcome unknown)', async () => {
    sink.clear();
    sink.fault((ctx) => (ctx.stage === 'message' ? { kind: 'cut-during-data' } : undefined));
    // Bigger than the loopback socket buffers (as in mail-transport.spec.ts), so it cannot all be handed over.
    const large = { ...marketingMail(9), attachments: [{ filename: 'big.bin', content: Buffer.alloc(24 * 1024 * 1024, 7), contentType: 'application/octet-stream' }] };
    expect((await transport.send(large)).status).toBe('retry');
    sink.fault((ctx) => (ctx.stage === 'message' ? { kind: 'cut-after-data' } : undefined));
    expect((await transport.send(marketingMail(10))).status).toBe('unknown');
    sink.fault(undefined);
  });

  it('fails against another key published under the same selector', async () => {
    sink.clear();
    expect((await transport.send(marketingMail(8))).status).toBe('sent');
    const other = dkimDnsRecord(keyPem(type));
    const result = await dkimVerify(Buffer.from(sink.messages[0].raw, 'utf8'), { resolver: resolverFor(other) });
    expect(result.results[0].status.result).toBe('fail');
  });
});
