// The decisions feedback drives, the feedback link format, and the Reply-To configuration.
import { loadConfig, ConfigError } from '../../src/config/config';
import { replyToFor } from '../../src/addresses/email';
import { orderSections, shouldAskToDrop, topicScore, usefulRate } from '../../src/feedback/feedback.policy';
import { TokenSigner } from '../../src/links/tokens';

const at = (day: number) => new Date(Date.UTC(2026, 2, day));
const SECRETS = { TOKEN_SECRET: 'x'.repeat(40), WEBHOOK_SECRET: 'y'.repeat(40) };

describe('shouldAskToDrop', () => {
  it('asks after the last two ratings on a topic are "not useful"', () => {
    expect(
      shouldAskToDrop(
        [
          { rating: 'not_useful', at: at(9) },
          { rating: 'not_useful', at: at(2) },
        ],
        null,
      ),
    ).toBe(true);
  });
  it('does not ask after one, or when a "useful" breaks the streak', () => {
    expect(shouldAskToDrop([{ rating: 'not_useful', at: at(9) }], null)).toBe(false);
    expect(
      shouldAskToDrop(
        [
          { rating: 'not_useful', at: at(9) },
          { rating: 'useful', at: at(5) },
          { rating: 'not_useful', at: at(2) },
        ],
        null,
      ),
    ).toBe(false);
    expect(
      shouldAskToDrop(
        [
          { rating: 'useful', at: at(9) },
          { rating: 'not_useful', at: at(5) },
          { rating: 'not_useful', at: at(2) },
        ],
        null,
      ),
    ).toBe(false);
  });
  it('asks once per streak: both answers must be newer than the last question', () => {
    const streak = [
      { rating: 'not_useful' as const, at: at(9) },
      { rating: 'not_useful' as const, at: at(2) },
    ];
    expect(shouldAskToDrop(streak, at(3))).toBe(false);
    expect(shouldAskToDrop(streak, at(1))).toBe(true);
  });
});

describe('digest section order', () => {
  const section = (topicId: string, priority: number, day: number) => ({ topicId, topicName: topicId, entries: [{ priority, freshness: at(day) }] });
  it('puts the customer’s best-rated topics first, unrated in the middle', () => {
    const scores = new Map([
      ['liked', topicScore(3, 0)],
      ['disliked', topicScore(0, 2)],
    ]);
    const ordered = orderSections([section('disliked', 9, 9), section('unrated', 0, 1), section('liked', 0, 1)], scores);
    expect(ordered.map((s) => s.topicId)).toEqual(['liked', 'unrated', 'disliked']);
  });
  it('breaks ties by priority, then freshness', () => {
    const ordered = orderSections([section('old', 1, 1), section('fresh', 1, 5), section('urgent', 5, 1)], new Map());
    expect(ordered.map((s) => s.topicId)).toEqual(['urgent', 'fresh', 'old']);
  });
  it('scores a topic between 0 and 1, 0.5 when unrated', () => {
    expect(topicScore(0, 0)).toBe(0.5);
    expect(topicScore(1, 0)).toBeGreaterThan(0.5);
    expect(topicScore(0, 1)).toBeLessThan(0.5);
    expect(usefulRate(0, 0)).toBeNull();
    expect(usefulRate(2, 1)).toBe(0.667);
  });
});

describe('feedback link tokens', () => {
  const signer = new TokenSigner(['s'.repeat(40)]);
  const subscriber = '3f2b8c1e-1111-4222-8333-444455556666';
  const campaign = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';

  it('binds one subscriber to one item and fits under 100 characters', () => {
    const token = signer.signItem(subscriber, 'campaign', campaign);
    expect(token.length).toBeLessThanOrEqual(100);
    expect(signer.verifyItem(token)).toEqual({ subscriberId: subscriber, kind: 'campaign', itemId: campaign });
  });
  it('is not a subscriber token and vice versa, and a changed byte or another key fails', () => {
    const token = signer.signItem(subscriber, 'digest_item', campaign);
    expect(signer.verify('feedback', token)).toBeNull();
    expect(signer.verifyItem(signer.sign('feedback', subscriber))).toBeNull();
    const [kid, body, mac] = token.split('.');
    const tampered = Buffer.from(body, 'base64url');
    tampered[17] = 1; // digest_item → campaign
    expect(signer.verifyItem(`${kid}.${tampered.toString('base64url')}.${mac}`)).toBeNull();
    expect(new TokenSigner(['o'.repeat(40)]).verifyItem(token)).toBeNull();
  });
});

describe('Reply-To configuration', () => {
  it('defaults to MAIL_FROM and lets each sender have its own mailbox', () => {
    const config = loadConfig({ ...SECRETS, MAIL_FROM: 'Shop <news@shop.example>', SENDER_REPLY_TO: '{"events":"Events <events@shop.example>"}' });
    expect(replyToFor(config, 'events')).toBe('Events <events@shop.example>');
    expect(replyToFor(config, 'marketing')).toBe('Shop <news@shop.example>');
    expect(replyToFor(config, null)).toBe('Shop <news@shop.example>');
    expect(replyToFor(config, 'constructor')).toBe('Shop <news@shop.example>');
  });
  it('refuses a no-reply address anywhere, naming the variable', () => {
    for (const [variable, env] of [
      ['MAIL_FROM', { MAIL_FROM: 'Shop <noreply@shop.example>' }],
      ['REPLY_TO', { REPLY_TO: 'no-reply@shop.example' }],
      ['SENDER_REPLY_TO', { SENDER_REPLY_TO: '{"x":"do-not-reply@shop.example"}' }],
      ['SENDER_REPLY_TO', { SENDER_REPLY_TO: '["not an object"]' }],
    ] as const) {
      expect(() => loadConfig({ ...SECRETS, ...env })).toThrow(ConfigError);
      try {
        loadConfig({ ...SECRETS, ...env });
      } catch (error) {
        expect((error as ConfigError).problems.map((p) => p.variable)).toContain(variable);
      }
    }
  });
});
