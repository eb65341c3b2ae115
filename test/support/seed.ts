// Shared set-up for tests that need topics and confirmed subscribers, through the real API.
import { TestApp } from './app';

export interface SeedSubscriber {
  email: string;
  locale?: 'de' | 'en';
  cadence?: 'weekly' | 'biweekly';
  timeZone?: string;
  topics: string[];
  attributes?: Record<string, string | number | boolean | null>;
  digestWeekday?: number;
  digestHour?: number;
}

export async function createTopics(t: TestApp, keys: string[]): Promise<void> {
  for (const key of keys) {
    const res = await t.api('POST', '/v1/topics', { body: { key, nameDe: `Thema ${key}`, nameEn: `Topic ${key}` } });
    if (res.status !== 201) throw new Error(`topic ${key}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** Imports confirmed (double opt-in done elsewhere) subscribers; returns their ids by e-mail. */
export async function importConfirmed(t: TestApp, subscribers: SeedSubscriber[]): Promise<Map<string, string>> {
  const res = await t.api('POST', '/v1/subscribers/import?atomic=true', {
    body: subscribers.map((s) => ({ ...s, consent: { source: 'form', confirmedAt: '2025-12-01T10:00:00Z' } })),
  });
  if (res.status !== 200) throw new Error(`import: ${res.status} ${JSON.stringify(res.body)}`);
  const ids = new Map<string, string>();
  for (const s of subscribers) {
    const found = await t.api('GET', `/v1/subscribers?email=${encodeURIComponent(s.email)}`);
    ids.set(s.email, found.body.items[0].id);
  }
  return ids;
}

export async function createCampaign(t: TestApp, body: Record<string, unknown>): Promise<string> {
  const res = await t.api('POST', '/v1/campaigns', {
    body: {
      name: 'campaign',
      subject: { de: 'Neuigkeiten', en: 'News' },
      body: { de: '<p>Hallo!</p>', en: '<p>Hello!</p>' },
      ...body,
    },
  });
  if (res.status !== 201) throw new Error(`campaign: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}
