// The states a subscriber and a topic subscription can be in: the consent verdict
// (send-gate.policy.ts), the marketing outlook (cadence) and the no-marketing reasons read them;
// the subscribers module stores them (subscriber.entity.ts).
export const SUBSCRIBER_STATUSES = ['pending', 'active', 'paused', 'unsubscribed', 'bounced', 'complained'] as const;
export type SubscriberStatus = (typeof SUBSCRIBER_STATUSES)[number];

export const SUBSCRIPTION_STATUSES = ['pending', 'confirmed', 'revoked'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];
