import type { SendOutcome } from '../../src/delivery/smtp-outcome.policy';
import { classifySmtpError, parseEnhancedStatus, type SmtpErrorLike } from '../../src/delivery/smtp-outcome.policy';

// Error shapes as nodemailer 10 builds them (smtp-connection/_formatError): a server reply sets
// response + responseCode and the command it answered; a dropped or silent connection has only
// code + command 'CONN', whatever the stage. `dataSent` comes from the transport.
type Row = [description: string, error: SmtpErrorLike, expected: SendOutcome['status']];

const reply = (command: string, code: string, response: string): SmtpErrorLike => ({
  code,
  command,
  response,
  responseCode: Number(response.slice(0, 3)),
  message: `failed: ${response}`,
});

const rows: Row[] = [
  // transient replies: try again later
  ['421 greeting (server busy)', reply('CONN', 'EPROTOCOL', '421 4.3.2 Service not available'), 'retry'],
  ['421 after the message (server shutting down)', { ...reply('DATA', 'EMESSAGE', '421 4.3.2 Shutting down'), dataSent: true }, 'retry'],
  ['450 mailbox busy at RCPT', reply('RCPT TO', 'EENVELOPE', '450 4.2.1 Mailbox busy'), 'retry'],
  ['451 4.7.1 greylisting is a deferral, not a policy block', reply('RCPT TO', 'EENVELOPE', '451 4.7.1 Greylisted, try again'), 'retry'],
  ['451 4.3.0 after the data', { ...reply('DATA', 'EMESSAGE', '451 4.3.0 Local error in processing'), dataSent: true }, 'retry'],
  ['452 4.2.2 over quota (temporary)', reply('RCPT TO', 'EENVELOPE', '452 4.2.2 Mailbox full'), 'retry'],
  ['503 bad sequence is a broken session, not a refusal', reply('DATA', 'EENVELOPE', '503 5.5.1 Error: need RCPT command'), 'retry'],

  // the mailbox does not exist: hard bounce
  ['550 5.1.1 unknown user', reply('RCPT TO', 'EENVELOPE', '550 5.1.1 <kunde@example.de>: Recipient address rejected'), 'bounce'],
  ['550 5.1.10 null MX', reply('RCPT TO', 'EENVELOPE', '550 5.1.10 RESOLVER.ADR.RecipientNotFound'), 'bounce'],
  ['553 5.1.3 bad address syntax', reply('RCPT TO', 'EENVELOPE', '553 5.1.3 Invalid recipient address syntax'), 'bounce'],
  ['550 5.1.1 in the reply to the data (after-queue check)', { ...reply('DATA', 'EMESSAGE', '550 5.1.1 User unknown'), dataSent: true }, 'bounce'],
  [
    'multi-line reply keeps its enhanced code',
    reply('RCPT TO', 'EENVELOPE', '550-5.1.1 The email account does not exist.\n550 5.1.1 Please try again'),
    'bounce',
  ],
  ['550 5.2.1 account disabled', reply('RCPT TO', 'EENVELOPE', '550 5.2.1 The email account that you tried to reach is disabled'), 'bounce'],
  ['553 without enhanced code (mailbox name not allowed)', reply('RCPT TO', 'EENVELOPE', '553 sorry, that domain is not in my list'), 'bounce'],
  ['550 without enhanced code but "user unknown"', reply('RCPT TO', 'EENVELOPE', '550 <a@b.de>: User unknown in virtual mailbox table'), 'bounce'],

  // policy: spam, authentication, reputation
  ['554 5.7.1 spam', { ...reply('DATA', 'EMESSAGE', '554 5.7.1 Message rejected as spam'), dataSent: true }, 'policy'],
  ['550 5.7.26 DMARC', { ...reply('DATA', 'EMESSAGE', '550 5.7.26 Unauthenticated email is not accepted'), dataSent: true }, 'policy'],
  ['535 5.7.8 bad credentials', reply('AUTH PLAIN', 'EAUTH', '535 5.7.8 Authentication credentials invalid'), 'policy'],
  ['554 without enhanced code mentioning a block list', reply('CONN', 'EPROTOCOL', '554 Your IP is listed on a blocklist'), 'policy'],

  // other permanent failures: this message will not go, the customer stays active
  ['552 5.3.4 message too big', { ...reply('DATA', 'EMESSAGE', '552 5.3.4 Message size exceeds fixed limit'), dataSent: true }, 'failed'],
  ['554 5.6.0 content rejected', { ...reply('DATA', 'EMESSAGE', '554 5.6.0 Message content rejected'), dataSent: true }, 'failed'],
  ['550 5.1.8 is about our sender domain, not the customer', reply('MAIL FROM', 'EENVELOPE', '550 5.1.8 Sender address rejected: Domain not found'), 'failed'],
  ['any 5.1.x at MAIL FROM is about the sender', reply('MAIL FROM', 'EENVELOPE', '553 5.1.3 Sender address syntax error'), 'failed'],
  ['550 without enhanced code or known text', reply('RCPT TO', 'EENVELOPE', '550 Requested action not taken'), 'failed'],
  ['554 5.0.0 transaction failed', { ...reply('DATA', 'EMESSAGE', '554 5.0.0 Transaction failed'), dataSent: true }, 'failed'],
  ['client-side envelope error (no recipient)', { code: 'EENVELOPE', command: 'API', message: 'No recipients defined' }, 'failed'],

  // decision documented in the policy: 5.2.2 mailbox full is a soft bounce
  ['552 5.2.2 mailbox full is retried (soft bounce)', reply('RCPT TO', 'EENVELOPE', '552 5.2.2 Mailbox full'), 'retry'],
  ['552 without enhanced code means storage exceeded', reply('RCPT TO', 'EENVELOPE', '552 Requested mail action aborted'), 'retry'],

  // no reply at all, before the message went out: safe to retry
  ['ECONNREFUSED', { code: 'ESOCKET', command: 'CONN', message: 'connect ECONNREFUSED 127.0.0.1:2525' }, 'retry'],
  ['bare ECONNREFUSED from the socket', { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:2525' }, 'retry'],
  ['ETIMEDOUT at CONN', { code: 'ETIMEDOUT', command: 'CONN', message: 'Connection timeout' }, 'retry'],
  ['ECONNECTION before the greeting', { code: 'ECONNECTION', command: 'CONN', message: 'Connection closed unexpectedly' }, 'retry'],
  ['ESOCKET while streaming the body (not all handed over)', { code: 'ESOCKET', command: 'CONN', message: 'write EPIPE', dataSent: false }, 'retry'],
  ['EDNS', { code: 'EDNS', command: 'CONN', message: 'getaddrinfo ENOTFOUND smtp.example' }, 'retry'],

  // the whole message was handed over, then silence: nobody knows
  ['ESOCKET after DATA', { code: 'ESOCKET', command: 'CONN', message: 'read ECONNRESET', dataSent: true }, 'unknown'],
  ['ECONNECTION after DATA', { code: 'ECONNECTION', command: 'CONN', message: 'Connection closed unexpectedly', dataSent: true }, 'unknown'],
  ['ETIMEDOUT waiting for 250', { code: 'ETIMEDOUT', command: 'CONN', message: 'Timeout', dataSent: true }, 'unknown'],
  ['command DATA without a reply is read as after DATA', { code: 'ESOCKET', command: 'DATA', message: 'read ECONNRESET' }, 'unknown'],
];

describe('classifySmtpError', () => {
  it.each(rows)('%s', (_description, error, expected) => {
    expect(classifySmtpError(error).status).toBe(expected);
  });

  it('keeps the server reply as the stored response', () => {
    const outcome = classifySmtpError(reply('RCPT TO', 'EENVELOPE', '550 5.1.1 <a@b.de>: Recipient address rejected'));
    expect(outcome).toEqual({ status: 'bounce', response: '550 5.1.1 <a@b.de>: Recipient address rejected' });
  });

  it('describes a failure without a reply by its code and message', () => {
    const outcome = classifySmtpError({ code: 'ETIMEDOUT', command: 'CONN', message: 'Timeout', dataSent: true });
    expect(outcome).toEqual({ status: 'unknown', response: 'ETIMEDOUT: Timeout' });
  });

  it('an explicit dataSent=false wins over command DATA', () => {
    expect(classifySmtpError({ code: 'ESOCKET', command: 'DATA', dataSent: false }).status).toBe('retry');
  });
});

describe('parseEnhancedStatus', () => {
  it.each([
    ['550 5.1.1 User unknown', { klass: 5, subject: 1, detail: 1 }],
    ['550-5.1.10 first line', { klass: 5, subject: 1, detail: 10 }],
    ['451 4.7.1 Try later', { klass: 4, subject: 7, detail: 1 }],
  ])('reads %s', (response, expected) => {
    expect(parseEnhancedStatus(response)).toEqual(expected);
  });

  it.each(['550 User unknown', '550 5.1 short', '250 2.0.0x', '', undefined])('finds none in %p', (response) => {
    expect(parseEnhancedStatus(response)).toBeUndefined();
  });
});
