import { bounceClass, decideMailEvent, dsnKind, MAIL_EVENT_KINDS } from '../../src/mail-events/mail-event.policy';
import { bareAddress, normalizeMessageId } from '../../src/mail-events/mail-events.service';

const policy = { limit: 5, days: 30 };
const active = (softBouncesInWindow = 0) => ({ subscriberStatus: 'active', softBouncesInWindow });

describe('reading status codes', () => {
  it('reads RFC 3463 enhanced codes and basic SMTP reply codes as hard (5) or soft (4)', () => {
    expect(bounceClass('5.1.1')).toBe('hard');
    expect(bounceClass('5.1.10')).toBe('hard');
    expect(bounceClass('4.2.2')).toBe('soft');
    expect(bounceClass('4.0.0 (mailbox full)')).toBe('soft');
    expect(bounceClass('550')).toBe('hard');
    expect(bounceClass('smtp; 452 4.2.2 Mailbox is full')).toBe('soft');
    expect(bounceClass('2.0.0')).toBeNull();
    expect(bounceClass('')).toBeNull();
    expect(bounceClass(undefined)).toBeNull();
  });

  it('takes RFC 3464 Action failed with 5.x.x as hard, with 4.x.x as soft, delayed as a delay, and success as nothing', () => {
    expect(dsnKind('failed', '5.1.1')).toBe('hard_bounce');
    expect(dsnKind('Failed', '4.4.7')).toBe('soft_bounce');
    expect(dsnKind('failed', undefined)).toBe('hard_bounce'); // the MTA gave up
    expect(dsnKind('delayed', '4.0.0')).toBe('delayed');
    for (const action of ['delivered', 'relayed', 'expanded', '', undefined]) expect(dsnKind(action, '2.0.0')).toBeNull();
  });

  it('normalises Message-IDs to their stored form and reads bare addresses from report fields', () => {
    expect(normalizeMessageId('abc@shop.example')).toBe('<abc@shop.example>');
    expect(normalizeMessageId(' <abc@shop.example> ')).toBe('<abc@shop.example>');
    expect(normalizeMessageId('two words')).toBeNull();
    expect(normalizeMessageId('')).toBeNull();
    expect(bareAddress('rfc822; Anna@Example.DE')).toBe('anna@example.de');
    expect(bareAddress('rfc822;<anna@example.de>')).toBe('anna@example.de');
    expect(bareAddress('Anna <anna@example.de>')).toBe('anna@example.de');
    expect(bareAddress('redacted')).toBeNull();
  });
});

describe('what an event does to a person', () => {
  it('bounces a subscriber on a hard bounce and suppresses every class of queued mail', () => {
    const d = decideMailEvent('hard_bounce', active(), policy);
    expect(d).toMatchObject({ outcome: 'bounced', newStatus: 'bounced', revokeTopics: false, reason: 'suppressed_bounced' });
    expect(d.suppressClasses).toEqual(['marketing', 'service', 'transactional']);
  });

  it('counts soft bounces below the limit and bounces the address at the limit', () => {
    expect(decideMailEvent('soft_bounce', active(4), policy)).toMatchObject({ outcome: 'counted', newStatus: null });
    expect(decideMailEvent('soft_bounce', active(5), policy)).toMatchObject({ outcome: 'bounced', newStatus: 'bounced' });
    expect(decideMailEvent('soft_bounce', { subscriberStatus: null, softBouncesInWindow: 5 }, policy)).toMatchObject({
      outcome: 'bounced',
      blockAddress: 'bounced',
    });
    expect(decideMailEvent('soft_bounce', { subscriberStatus: null, softBouncesInWindow: 1 }, policy)).toMatchObject({
      outcome: 'counted',
      blockAddress: null,
    });
  });

  it('marks a complaint complained, revokes the topics and keeps transactional mail going', () => {
    const d = decideMailEvent('complaint', active(), policy);
    expect(d).toMatchObject({ outcome: 'complained', newStatus: 'complained', revokeTopics: true, reason: 'suppressed_complained' });
    expect(d.suppressClasses).toEqual(['marketing', 'service']);
  });

  it('unsubscribes from marketing only', () => {
    const d = decideMailEvent('unsubscribe', { subscriberStatus: 'paused', softBouncesInWindow: 0 }, policy);
    expect(d).toMatchObject({ outcome: 'unsubscribed', newStatus: 'unsubscribed', revokeTopics: true });
    expect(d.suppressClasses).toEqual(['marketing']);
  });

  it('never lets a weaker event lift a stronger block: bounced outranks complained outranks unsubscribed', () => {
    const order = ['unsubscribed', 'complained', 'bounced'];
    for (const kind of MAIL_EVENT_KINDS) {
      for (const status of order) {
        const d = decideMailEvent(kind, { subscriberStatus: status, softBouncesInWindow: 99 }, policy);
        if (d.newStatus) expect(order.indexOf(d.newStatus)).toBeGreaterThan(order.indexOf(status));
      }
    }
  });

  it('only notes a delay, and finds nothing to unsubscribe without a subscriber', () => {
    expect(decideMailEvent('delayed', active(), policy)).toMatchObject({ outcome: 'noted', newStatus: null, blockAddress: null });
    expect(decideMailEvent('unsubscribe', { subscriberStatus: null, softBouncesInWindow: 0 }, policy)).toMatchObject({ outcome: 'none' });
    expect(decideMailEvent('complaint', { subscriberStatus: null, softBouncesInWindow: 0 }, policy)).toMatchObject({
      outcome: 'complained',
      blockAddress: 'complained',
    });
  });
});
