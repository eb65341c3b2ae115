import fc from 'fast-check';
import { DeliveryReferences } from '../../src/delivery/delivery-reference';
import { VerpCodec } from '../../src/delivery/verp';
import { InboundAddresses, readInboundMail, recipientOf } from '../../src/mail-events/inbound-mail';
import { TokenSigner } from '../../src/links/tokens';
import { mailFixture } from '../support/inbound-mail';

const SECRET = 'inbound-test-secret-0123456789abcdef0123456789';
const verp = new VerpCodec([SECRET], 'bounce.shop.example');
const references = new DeliveryReferences([SECRET]);
const tokens = new TokenSigner([SECRET]);
const addresses: InboundAddresses = { verp, bounceMailbox: 'bounces@bounce.shop.example', unsubscribe: 'unsubscribe@shop.example' };
const context = { addresses, references, tokens };

const delivery = { deliveryId: '4711', createdAt: new Date('2026-12-02T09:00:00Z') };
const VERP = verp.address(delivery);
const values = {
  VERP,
  RECIPIENT: 'anna@recipient.example',
  MESSAGE_ID: '<0f3a9c1be2d44f6a8b7c6d5e4f3a2b1c@shop.example>',
  REFERENCE: references.encode('4711'),
};

describe('which addresses the receiver takes', () => {
  it('takes genuine VERP addresses, the bounce mailbox and the unsubscribe mailto (with or without a token), nothing else', () => {
    expect(recipientOf(VERP, addresses)).toEqual({ kind: 'verp', deliveryId: '4711' });
    expect(recipientOf(`<${VERP.toUpperCase()}>`, addresses)).toEqual({ kind: 'verp', deliveryId: '4711' });
    expect(recipientOf('bounces@bounce.shop.example', addresses)).toEqual({ kind: 'bounce-mailbox' });
    expect(recipientOf('Unsubscribe@Shop.Example', addresses)).toEqual({ kind: 'unsubscribe', token: null });
    expect(recipientOf('unsubscribe+AbC.dEf@shop.example', addresses)).toEqual({ kind: 'unsubscribe', token: 'AbC.dEf' });
    const forged = VERP.replace(/\+([0-9a-f])/, (_, c) => `+${c === '0' ? '1' : '0'}`);
    for (const other of [forged, 'postmaster@bounce.shop.example', 'anna@shop.example', 'unsubscribe@other.example', 'not an address']) {
      expect(recipientOf(other, addresses)).toBeNull();
    }
  });
});

describe('delivery status notifications as MTAs write them', () => {
  it.each([
    ['postfix-hard-bounce.eml', 'hard_bounce', '5.1.1', /User unknown in virtual/],
    ['postfix-soft-bounce.eml', 'soft_bounce', '4.2.2', /Mailbox is full/],
    ['exim-hard-bounce.eml', 'hard_bounce', '5.0.0', /Recipient address rejected/],
    ['exim-delayed.eml', 'delayed', '4.0.0', /Greylisting/],
    ['gmail-hard-bounce.eml', 'hard_bounce', '5.1.1', /550-5\.1\.1 The email account that you tried to reach does not exist.* 550 5\.1\.1/],
    ['microsoft-hard-bounce.eml', 'hard_bounce', '5.1.10', /RESOLVER\.ADR\.RecipientNotFound/],
    ['rfc3464-example.eml', 'soft_bounce', '4.0.0', /426 connection timed out/],
  ])('reads %s as a %s with status %s, matched by the VERP token', async (file, kind, status, diagnostic) => {
    const reading = await readInboundMail(mailFixture(file, values), [VERP], context);
    expect(reading.type).toBe('dsn');
    expect(reading.events).toHaveLength(1);
    const [event] = reading.events;
    expect(event).toMatchObject({ source: 'smtp-dsn', kind, statusCode: status, deliveryId: '4711', recipient: 'anna@recipient.example' });
    expect(event.diagnostic).toMatch(diagnostic);
    if (file !== 'rfc3464-example.eml') expect(event.messageId).toBe(values.MESSAGE_ID);
  });

  it('falls back on the sealed X-Tactful-Delivery header and the Message-ID of the returned mail when the bounce reaches the bare mailbox', async () => {
    const [event] = (await readInboundMail(mailFixture('gmail-hard-bounce.eml', values), ['bounces@bounce.shop.example'], context)).events;
    expect(event).toMatchObject({ deliveryId: '4711', messageId: values.MESSAGE_ID, recipient: 'anna@recipient.example' });
    const withoutReference = mailFixture('microsoft-hard-bounce.eml', { ...values, REFERENCE: 'garbage', VERP: 'bounces@bounce.shop.example' });
    const [byMessageId] = (await readInboundMail(withoutReference, ['bounces@bounce.shop.example'], context)).events;
    // The Message-ID finds the mail (and so the person); the address is not passed on without a signed clue.
    expect(byMessageId).toMatchObject({ deliveryId: null, messageId: values.MESSAGE_ID, recipient: null });
  });

  it('never trusts a bare address alone: a made-up DSN naming a recipient (and an invented Message-ID) names nobody', async () => {
    for (const MESSAGE_ID of ['', '<invented@shop.example>']) {
      const raw = mailFixture('rfc3464-example.eml', { ...values, VERP: 'bounces@bounce.shop.example', MESSAGE_ID });
      const [event] = (await readInboundMail(raw, ['bounces@bounce.shop.example'], context)).events;
      expect(event).toMatchObject({ deliveryId: null, recipient: null });
    }
  });
});

describe('complaint feedback reports (ARF)', () => {
  it.each(['yahoo-arf.eml', 'microsoft-jmrp-arf.eml', 'rfc5965-example.eml'])(
    'reads %s as a complaint about the delivery its VERP envelope names',
    async (file) => {
      const reading = await readInboundMail(mailFixture(file, values), ['bounces@bounce.shop.example'], context);
      expect(reading.type).toBe('arf');
      expect(reading.events).toEqual([
        expect.objectContaining({ source: 'arf', kind: 'complaint', deliveryId: '4711', messageId: values.MESSAGE_ID, statusCode: 'abuse' }),
      ]);
    },
  );

  it('takes only Feedback-Type abuse as a complaint', async () => {
    const raw = Buffer.from(mailFixture('rfc5965-example.eml', values).toString().replace('Feedback-Type: abuse', 'Feedback-Type: not-spam'));
    expect((await readInboundMail(raw, ['bounces@bounce.shop.example'], context)).events).toEqual([]);
  });
});

describe('unsubscribe mail to the List-Unsubscribe mailto', () => {
  const subscriberId = '0195f2a4-7c1e-7b3a-9d2e-5a1b2c3d4e5f';
  const token = tokens.sign('unsubscribe', subscriberId);

  it('finds the signed token in the subject, as the header wrote it (mailto:…?subject=unsubscribe-<token>)', async () => {
    const raw = mailFixture('gmail-unsubscribe.eml', { TO: 'unsubscribe@shop.example', SUBJECT: `unsubscribe-${token}` });
    const reading = await readInboundMail(raw, ['unsubscribe@shop.example'], context);
    expect(reading.events).toEqual([expect.objectContaining({ source: 'mailto', kind: 'unsubscribe', subscriberId })]);
  });

  it('finds the token in the address (unsubscribe+<token>@…)', async () => {
    const to = `unsubscribe+${token}@shop.example`;
    const reading = await readInboundMail(mailFixture('gmail-unsubscribe.eml', { TO: to, SUBJECT: 'Unsubscribe' }), [to], context);
    expect(reading.events).toEqual([expect.objectContaining({ kind: 'unsubscribe', subscriberId })]);
  });

  it('does nothing for a forged or missing token, or a token signed for another purpose', async () => {
    for (const subject of ['unsubscribe', `unsubscribe-${token.slice(0, -2)}xx`, `unsubscribe-${tokens.sign('preferences', subscriberId)}`]) {
      const reading = await readInboundMail(mailFixture('gmail-unsubscribe.eml', { SUBJECT: subject }), ['unsubscribe@shop.example'], context);
      expect(reading.events).toEqual([]);
    }
  });
});

describe('hostile or broken mail', () => {
  const files = ['postfix-hard-bounce.eml', 'gmail-hard-bounce.eml', 'microsoft-hard-bounce.eml', 'yahoo-arf.eml', 'exim-delayed.eml'];

  it('never throws on a truncated or corrupted report, and names a delivery only through a signed or sealed clue', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...files),
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 20 }),
        async (file, cut, flips) => {
          const raw = Buffer.from(mailFixture(file, { ...values, REFERENCE: 'not-a-reference' }));
          for (const [at, byte] of flips) raw[at % raw.length] = byte;
          const reading = await readInboundMail(raw.subarray(0, 1 + (cut % raw.length)), ['bounces@bounce.shop.example'], context);
          for (const event of reading.events) expect(event.deliveryId === null || event.deliveryId === '4711').toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
