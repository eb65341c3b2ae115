// The simulated quarter: the real app (HTTP, PostgreSQL, delivery worker, SMTP sink) driven
// through 13 weeks of virtual time by customers, eight eager senders and a shop whose carrier
// reports late, twice and out of order. Everything goes through the public surface (REST API,
// customer pages, signed webhooks); the scheduler jobs are called as the clock advances.
//
// Deterministic: a seeded PRNG decides every action, so a run can be repeated.
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { FakeClock } from '../../src/common/clock';
import { signWebhook } from '../../src/common/signatures';
import { DeliveryReferences } from '../../src/delivery/delivery-reference';
import { DeliveryWorker } from '../../src/delivery/delivery-worker';
import { TokenSigner } from '../../src/links/tokens';
import { DeferralService } from '../../src/cadence/deferral.service';
import { CampaignDispatchService } from '../../src/campaigns/campaign-dispatch.service';
import { CampaignProgressService } from '../../src/campaigns/campaign-progress.service';
import { DigestsService } from '../../src/digests/digests.service';
import { PreferencesService } from '../../src/preferences/preferences.service';
import { ConfirmationService } from '../../src/subscribers/confirmation.service';
import { WebinarRegistrationsService } from '../../src/webinars/webinar-registrations.service';
import { startTestApp, TestApp, TEST_SECRETS } from '../support/app';
import { SinkMessage, SmtpSink, startSmtpSink } from '../support/smtp-sink';
import { instrument } from './instrumentation';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

export interface QuarterOptions {
  subscribers: number;
  orders: number;
  weeks: number;
  /** Virtual hours per scheduler step. */
  stepHours: number;
  seed: number;
  /** 'smtp': a real SMTP sink (refuses gone-* addresses: hard bounces); 'eml': the .eml outbox. */
  transport: 'smtp' | 'eml';
  progress?: (line: string) => void;
}

export interface QuarterRun {
  t: TestApp;
  sink: SmtpSink;
  db: Client;
  start: Date;
  end: Date;
  options: QuarterOptions;
  /** What the simulated people and systems did (requests that Tactful accepted). */
  actions: Record<string, number>;
  /** Requests Tactful answered with something unexpected (should stay empty). */
  surprises: string[];
  close(): Promise<void>;
}

export const TOPICS = ['trade-fairs', 'offers', 'payment-terms', 'markets', 'webinars', 'products'] as const;
const ZONES = ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Pacific/Auckland', 'UTC'];
const SENDERS: { sender: string; topics: string[]; hourUtc: number }[] = [
  { sender: 'marketing', topics: ['offers', 'products', 'markets'], hourUtc: 7 },
  { sender: 'events-team', topics: ['trade-fairs', 'webinars'], hourUtc: 8 },
  { sender: 'shop', topics: ['offers'], hourUtc: 9 },
  { sender: 'sales', topics: ['payment-terms', 'offers'], hourUtc: 10 },
  { sender: 'product-team', topics: ['products'], hourUtc: 12 },
  { sender: 'partners', topics: ['markets', 'trade-fairs'], hourUtc: 14 },
  { sender: 'finance', topics: ['payment-terms'], hourUtc: 15 },
  { sender: 'press', topics: ['markets', 'products', 'trade-fairs'], hourUtc: 17 },
];

/** mulberry32: small, fast, seeded. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Person {
  email: string;
  id: string;
  locale: 'de' | 'en';
  topics: Set<string>;
  /** Imported without consent evidence: pending until they click the confirmation. */
  pending: boolean;
  gone: boolean;
  customer: boolean;
  out: boolean;
}

interface Timed {
  at: number;
  run: () => Promise<void>;
}

export async function runQuarter(options: QuarterOptions): Promise<QuarterRun> {
  const rnd = prng(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)];
  const chance = (p: number) => rnd() < p;
  const log = options.progress ?? (() => undefined);

  // Monday 2 March 2026, 00:00 UTC: the quarter crosses the DST changes of New York (8 March),
  // Berlin (29 March) and Auckland (5 April).
  const start = new Date('2026-03-02T00:00:00Z');
  const end = new Date(start.getTime() + options.weeks * 7 * DAY);
  const clock = new FakeClock(new Date(start.getTime() - DAY));
  const sink = await startSmtpSink({ parse: false });
  // Addresses that do not exist: the relay refuses them (a hard bounce at hand-over).
  sink.fault((ctx) =>
    ctx.stage === 'message' && ctx.rcpt?.startsWith('gone-') ? { kind: 'reject-rcpt', code: 550, message: '5.1.1 No such user' } : undefined,
  );
  const t = await startTestApp({
    clock,
    env: {
      ...(options.transport === 'smtp' ? { SMTP_URL: sink.url } : {}),
      // The simulation is one IP sending thousands of customer clicks per wall-clock minute.
      CUSTOMER_RATE_LIMIT_PER_IP: '1000000',
      CUSTOMER_RATE_LIMIT_PER_TOKEN: '1000000',
      WORKER_BATCH_SIZE: '500',
    },
  });
  const db = new Client({ connectionString: t.db.url });
  db.on('error', () => undefined); // the database is dropped under it at the end
  await db.connect();
  await instrument(db);
  try {
    const signer = new TokenSigner([TEST_SECRETS.TOKEN_SECRET]);
    const references = new DeliveryReferences([TEST_SECRETS.TOKEN_SECRET]);
    const worker = t.app.get(DeliveryWorker);
    const actions: Record<string, number> = {};
    const surprises: string[] = [];
    const count = (what: string, n = 1) => (actions[what] = (actions[what] ?? 0) + n);

    const setClock = async (at: number) => {
      clock.set(new Date(at));
      await db.query(`UPDATE sim_clock SET now = $1`, [new Date(at)]);
    };

    const expect = (what: string, res: { status: number; body?: unknown }, ok: number[]) => {
      if (ok.includes(res.status)) return true;
      if (surprises.length < 50) surprises.push(`${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      return false;
    };

    const form = async (path: string, fields: [string, string][]) => {
      const res = await fetch(t.baseUrl + path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
      return { status: res.status, body: await res.text() };
    };

    const signed = async (path: string, body: unknown) => {
      const raw = JSON.stringify(body);
      const res = await fetch(t.baseUrl + path, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-tactful-signature': signWebhook(TEST_SECRETS.WEBHOOK_SECRET, raw, Math.floor(clock.now().getTime() / 1000)),
        },
        body: raw,
      });
      return { status: res.status, body: (await res.json()) as any };
    };

    // ---- the mails, as the SMTP sink saw them ----------------------------------------------------

    const headerOf = (m: Pick<SinkMessage, 'raw'>, name: string) =>
      new RegExp(`^${name}: *(.+)$`, 'mi').exec(m.raw.slice(0, m.raw.indexOf('\r\n\r\n')))?.[1]?.trim();

    /** The decoded text of every part (quoted-printable or base64), enough to find the links. */
    function bodyText(raw: string): string {
      const out: string[] = [];
      const parts = raw.split(/\r\n--[^\r\n]+\r\n/);
      for (const part of parts) {
        const split = part.indexOf('\r\n\r\n');
        if (split < 0) continue;
        const head = part.slice(0, split);
        const body = part.slice(split + 4);
        const encoding = /content-transfer-encoding: *([\w-]+)/i.exec(head)?.[1]?.toLowerCase();
        if (encoding === 'base64') out.push(Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8'));
        else if (encoding === 'quoted-printable')
          out.push(body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16))));
        else out.push(body);
      }
      return out.join('\n');
    }

    const logReceived = async () => {
      const messages: Pick<SinkMessage, 'raw' | 'envelope'>[] = sink.messages.splice(0);
      if (options.transport === 'eml') {
        for (const name of await readdir(t.config.outboxDir)) {
          if (!name.endsWith('.eml')) continue;
          const path = join(t.config.outboxDir, name);
          const raw = await readFile(path, 'utf8');
          await unlink(path);
          const to = /^To: *(?:.*<)?([^<>\s]+@[^<>\s]+?)>?\s*$/im.exec(raw.slice(0, raw.indexOf('\r\n\r\n')))?.[1] ?? '';
          messages.push({ raw, envelope: { mailFrom: '', rcptTo: [to.toLowerCase()] } });
        }
      }
      if (messages.length === 0) return;
      const at = clock.now();
      const ids: string[] = [];
      const rcpts: string[] = [];
      const entryDelivery: string[] = [];
      const entrySubscriber: string[] = [];
      const entryKind: string[] = [];
      const entryItem: string[] = [];
      for (const m of messages) {
        const reference = headerOf(m, 'X-Tactful-Delivery');
        const id = reference ? references.decode(reference) : null;
        if (!id) {
          surprises.push(`a mail without X-Tactful-Delivery to ${m.envelope.rcptTo.join(',')}`);
          continue;
        }
        ids.push(id);
        rcpts.push(m.envelope.rcptTo[0]);
        if (!/^Feedback-ID: *[^:]*:digest:/im.test(m.raw.slice(0, m.raw.indexOf('\r\n\r\n')))) continue;
        const seen = new Set<string>();
        for (const match of bodyText(m.raw).matchAll(/\/f\/([\w-]+\.[\w-]+\.[\w-]+)/g)) {
          const claims = signer.verifyItem(match[1]);
          if (!claims || claims.kind === 'topic' || seen.has(claims.itemId)) continue;
          seen.add(claims.itemId);
          entryDelivery.push(id);
          entrySubscriber.push(claims.subscriberId);
          entryKind.push(claims.kind);
          entryItem.push(claims.itemId);
        }
      }
      await db.query(
        `INSERT INTO sim_received (delivery_id, subscriber_id, rcpt, class, kind, topic_id, ref_id, at)
         SELECT d.id, d.subscriber_id, m.rcpt, d.class, d.kind,
                CASE WHEN d.kind = 'campaign' THEN (SELECT c.topic_id FROM campaigns c WHERE c.id::text = d.ref_id) ELSE d.topic_id END,
                d.ref_id, $3
         FROM unnest($1::bigint[], $2::text[]) AS m(id, rcpt) JOIN deliveries d ON d.id = m.id`,
        [ids, rcpts, at],
      );
      if (entryDelivery.length) {
        await db.query(
          `INSERT INTO sim_received_entries (delivery_id, subscriber_id, token_subscriber_id, item_kind, item_id, topic_id, at)
           SELECT e.d, d.subscriber_id, e.s, e.k, e.i,
                  CASE WHEN e.k = 'campaign' THEN (SELECT c.topic_id FROM campaigns c WHERE c.id = e.i)
                       ELSE (SELECT i.topic_id FROM digest_items i WHERE i.id = e.i) END, $5
           FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::uuid[]) AS e(d, s, k, i) JOIN deliveries d ON d.id = e.d`,
          [entryDelivery, entrySubscriber, entryKind, entryItem, at],
        );
      }
    };

    const spent: Record<string, number> = {};
    const timed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      const began = Date.now();
      try {
        return await fn();
      } finally {
        spent[what] = (spent[what] ?? 0) + Date.now() - began;
      }
    };
    let handedOver = 0;
    const drain = async () => {
      handedOver += (await timed('worker', () => worker.drain())).sent;
      await timed('log', logReceived);
    };

    // What the scheduler's cron ticks call (src/scheduler/jobs.service.ts), in the same order.
    const tickJobs = async () => {
      await timed('resume', () => t.app.get(PreferencesService).resumeEndedPauses());
      await timed('dispatch', () => t.app.get(CampaignDispatchService).dispatchDue());
      await timed('progress', () => t.app.get(CampaignProgressService).tick());
      await timed('digests', () => t.app.get(DigestsService).composeDue());
      await timed('expire', async () => {
        await t.app.get(DeferralService).expireStale();
        await t.app.get(DeferralService).suppressUnreachable();
      });
      await timed('opt-in', async () => {
        await t.app.get(ConfirmationService).sendReminders();
        await t.app.get(ConfirmationService).expirePending();
      });
      await timed('reminders', () => t.app.get(WebinarRegistrationsService).sendDueReminders());
    };

    // ---- the people ------------------------------------------------------------------------------

    await setClock(start.getTime() - DAY);
    for (const key of TOPICS) {
      expect(`topic ${key}`, await t.api('POST', '/v1/topics', { body: { key, nameDe: `Thema ${key}`, nameEn: `Topic ${key}` } }), [201]);
    }
    expect('shop budget', await t.api('PUT', '/v1/senders/shop/budget', { body: { maxSlots: 1, perSlots: 4 } }), [200]);

    const people: Person[] = [];
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < options.subscribers; i++) {
      const gone = chance(0.005);
      const pending = !gone && chance(0.1);
      const locale = chance(0.6) ? 'de' : 'en';
      const topics = new Set<string>();
      const n = 1 + Math.floor(rnd() * 4);
      while (topics.size < n) topics.add(pick(TOPICS));
      const customer = chance(0.35);
      const email = `${gone ? 'gone-' : ''}c${i}@${pick(['example.de', 'example.com', 'example.org', 'mail.example.net'])}`;
      people.push({ email, id: '', locale, topics, pending, gone, customer, out: false });
      rows.push({
        email,
        locale,
        timeZone: pick(ZONES),
        cadence: chance(0.6) ? 'weekly' : 'biweekly',
        digestWeekday: 1 + Math.floor(rnd() * 7),
        digestHour: 7 + Math.floor(rnd() * 12),
        topics: [...topics],
        attributes: { customer, segment: chance(0.5) ? 'retail' : 'industry' },
        ...(pending ? {} : { consent: { source: 'form', confirmedAt: '2026-01-15T10:00:00Z', textVersion: 'form-v3' } }),
      });
    }
    for (let i = 0; i < rows.length; i += 2000) {
      const res = await t.api('POST', '/v1/subscribers/import?atomic=true', { body: rows.slice(i, i + 2000) });
      expect('import', res, [200]);
    }
    const idRows: { id: string; email: string }[] = (await db.query(`SELECT id, email FROM subscribers`)).rows;
    const byEmail = new Map(idRows.map((r) => [r.email, r.id]));
    for (const p of people) p.id = byEmail.get(p.email)!;
    count('subscribers imported', people.length);

    // Some active customers are asked for one more topic (pending until they confirm it on their page).
    for (const p of people) {
      if (p.pending || !chance(0.04)) continue;
      const extra = TOPICS.find((k) => !p.topics.has(k));
      if (!extra) continue;
      const res = await t.api('PATCH', `/v1/subscribers/${p.id}`, { body: { topics: [...p.topics, extra] } });
      if (expect('add pending topic', res, [200])) count('topics added pending (API)');
    }

    // ---- customer actions ------------------------------------------------------------------------

    const active = () => people.filter((p) => !p.out && !p.pending && !p.gone);
    const preferencesPage = async (p: Person, fields: (topics: string[]) => [string, string][]) => {
      const token = signer.sign('preferences', p.id);
      const page = await fetch(`${t.baseUrl}/p/${token}`);
      const html = await page.text();
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
      const checked = [...html.matchAll(/<input[^>]*name="topics"[^>]*>/g)]
        .map((m) => m[0])
        .filter((s) => /checked/.test(s))
        .map((s) => /value="([^"]+)"/.exec(s)![1]);
      if (page.status !== 200 || !csrf) {
        surprises.push(`preferences page of ${p.email}: ${page.status}`);
        return null;
      }
      return form(`/p/${token}`, [['csrf', csrf], ...fields(checked)]);
    };

    const customerAction = async () => {
      const candidates = active();
      if (candidates.length === 0) return;
      const p = pick(candidates);
      const roll = rnd();
      if (roll < 0.3) {
        // A new rhythm, chosen on the preferences page.
        const res = await preferencesPage(p, (topics) => [
          ...topics.map((k): [string, string] => ['topics', k]),
          ['cadence', chance(0.5) ? 'weekly' : 'biweekly'],
        ]);
        if (res && expect('cadence change', res, [200])) count('cadence changes (page)');
      } else if (roll < 0.55) {
        // Drop one topic, or choose one more (or confirm the pending one).
        const res = await preferencesPage(p, (topics) => {
          const next = new Set(topics);
          if (next.size > 1 && chance(0.6)) next.delete(pick([...next]));
          else next.add(pick(TOPICS));
          p.topics = next;
          return [...next].map((k): [string, string] => ['topics', k]);
        });
        if (res && expect('topic change', res, [200])) count('topic changes (page)');
      } else if (roll < 0.75) {
        const res = await form(`/u/${signer.sign('unsubscribe', p.id)}`, [['List-Unsubscribe', 'One-Click']]);
        if (expect('one-click unsubscribe', res, [200])) {
          p.out = true;
          count('unsubscribes (one-click POST /u)');
        }
      } else if (roll < 0.82) {
        const res = await preferencesPage(p, () => []);
        if (res && expect('page unsubscribe', res, [200])) {
          p.out = true;
          count('unsubscribes (every topic off on /p)');
        }
      } else if (roll < 0.9) {
        const res = await preferencesPage(p, (topics) => [...topics.map((k): [string, string] => ['topics', k]), ['pause', '2']]);
        if (res && expect('pause', res, [200])) count('pauses (2 weeks, page)');
      } else if (roll < 0.95) {
        const res = await signed('/webhooks/mail-events', { id: `cmp-${p.id}`, type: 'complaint', email: p.email });
        if (expect('complaint', res, [200])) {
          p.out = true;
          count('complaints (webhook)');
        }
      } else {
        const res = await signed('/webhooks/mail-events', {
          id: `bnc-${p.id}`,
          type: 'bounce',
          bounceType: 'hard',
          email: p.email,
          detail: '550 5.1.1 user unknown',
        });
        if (expect('bounce', res, [200])) {
          p.out = true;
          count('hard bounces (webhook)');
        }
      }
    };

    const confirmPending = async () => {
      const p = people.find((x) => x.pending && !x.out && chance(0.2));
      if (!p) return;
      const res = await form(`/confirm/${signer.sign('confirm', p.id)}`, []);
      if (res.status === 404) {
        // Too late: unconfirmed sign-ups expire (ConfirmationService.expirePending), the link with them.
        p.out = true;
        count('double opt-in links clicked after expiry');
      } else if (expect('double opt-in', res, [200])) {
        p.pending = false;
        count('double opt-ins confirmed');
      }
    };

    // ---- senders ---------------------------------------------------------------------------------

    let campaignSeq = 0;
    const campaign = async (sender: string, topic: string, extra: Record<string, unknown> = {}) => {
      const n = ++campaignSeq;
      const res = await t.api('POST', '/v1/campaigns', {
        body: {
          name: `${sender} ${n}`,
          topic,
          sender,
          priority: Math.floor(rnd() * 10),
          subject: { de: `${sender}: Neuigkeit ${n}`, en: `${sender}: news ${n}` },
          body: { de: `<p>Neuigkeit ${n} zu ${topic}.</p>`, en: `<p>News ${n} about ${topic}.</p>` },
          digestSummary: { de: `Kurz: ${n}`, en: `In short: ${n}` },
          ...extra,
        },
      });
      if (!expect('campaign', res, [201])) return;
      const scheduled = await t.api('POST', `/v1/campaigns/${res.body.id}/schedule`, { body: {} });
      if (expect('schedule', scheduled, [200, 201])) count(`campaigns scheduled`);
    };

    let webinarSeq = 0;
    const webinar = async (now: number) => {
      const n = ++webinarSeq;
      const startsAt = new Date(now + (3 + Math.floor(rnd() * 9)) * DAY + 6 * HOUR);
      const res = await t.api('POST', '/v1/webinars', {
        body: {
          slug: `webinar-${n}`,
          topic: 'webinars',
          title: { de: `Webinar ${n}`, en: `Webinar ${n}` },
          startsAt: startsAt.toISOString(),
          endsAt: new Date(startsAt.getTime() + HOUR).toISOString(),
          joinUrl: `https://meet.example.com/w/${n}`,
          invitation: {},
        },
      });
      if (!expect('webinar', res, [201])) return;
      count('webinars with invitations');
      // A few people register right away (service mails: confirmation, at most two reminders).
      for (let i = 0; i < Math.max(2, Math.round(options.subscribers / 400)); i++) {
        const p = pick(people);
        const reg = await t.api('POST', `/v1/webinars/${res.body.id}/registrations`, { body: { email: p.email } });
        if (expect('webinar registration', reg, [200, 201, 409])) count('webinar registrations');
      }
    };

    let itemSeq = 0;
    const digestItem = async (now: number) => {
      const n = ++itemSeq;
      const res = await t.api('POST', '/v1/digest-items', {
        body: {
          topic: pick(TOPICS),
          sender: pick(SENDERS).sender,
          title: { de: `Meldung ${n}`, en: `Item ${n}` },
          summary: { de: `Worum es geht (${n})`, en: `What it is about (${n})` },
          ...(chance(0.3) ? { expiresAt: new Date(now + (2 + Math.floor(rnd() * 6)) * DAY).toISOString() } : {}),
        },
      });
      if (expect('digest item', res, [201])) count('digest items');
    };

    // ---- the shop and its carrier ----------------------------------------------------------------

    const timeline: Timed[] = [];
    const at = (when: number, run: () => Promise<void>, label = 'other') => timeline.push({ at: when, run: () => timed(`act:${label}`, run) });
    const lateness = () => {
      const r = rnd();
      if (r < 0.65) return Math.floor(rnd() * 50) * MIN;
      if (r < 0.9) return (2 + Math.floor(rnd() * 22)) * HOUR;
      return (1 + Math.floor(rnd() * 4)) * DAY;
    };
    let eventSeq = 0;
    const carrierEvent = (shipmentId: string, tracking: string, status: string, occurred: number) => {
      const eventId = `dhl-${++eventSeq}`;
      const arrivals = chance(0.15) ? 2 : 1;
      for (let copy = 0; copy < arrivals; copy++) {
        at(
          occurred + lateness() + copy * (30 * MIN + lateness()),
          async () => {
            const viaWebhook = chance(0.5);
            const body = { eventId, status, occurredAt: new Date(occurred).toISOString() };
            const res = await timed(`carrier:${viaWebhook}`, async () =>
              viaWebhook
                ? await signed('/webhooks/carrier', { carrier: 'dhl', trackingNumber: tracking, ...body })
                : await t.api('POST', `/v1/shipments/${shipmentId}/events`, { body }),
            );
            if (!expect(`carrier ${status}`, res, [200])) return;
            await db.query(
              `INSERT INTO sim_carrier_posts (shipment_id, event_id, status, occurred_at, posted_at, channel, http_status, duplicate) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
              [shipmentId, eventId, status, new Date(occurred), clock.now(), viaWebhook ? 'webhook' : 'api', res.status, res.body?.duplicate ?? null],
            );
            count(`carrier events posted`);
          },
          'carrier',
        );
      }
    };

    let parcelSeq = 0;
    const ship = async (orderNumber: string, items: { sku: string; quantity: number }[] | undefined) => {
      const tracking = `JJD${String(++parcelSeq).padStart(8, '0')}`;
      const res = await t.api('POST', '/v1/shipments', {
        body: { orderNumber, carrier: 'dhl', trackingNumber: tracking, trackingUrl: `https://track.example.com/${tracking}`, ...(items ? { items } : {}) },
      });
      if (!expect('shipment', res, [201])) return;
      count('shipments');
      const now = clock.now().getTime();
      const shipmentId: string = res.body.id;
      let when = now + 30 * MIN;
      carrierEvent(shipmentId, tracking, 'label_created', when);
      when += (2 + rnd() * 10) * HOUR;
      carrierEvent(shipmentId, tracking, 'in_transit', when);
      if (chance(0.05)) {
        when += (4 + rnd() * 20) * HOUR;
        carrierEvent(shipmentId, tracking, 'exception', when);
      }
      when += (10 + rnd() * 40) * HOUR;
      carrierEvent(shipmentId, tracking, 'out_for_delivery', when);
      when += (1 + rnd() * 6) * HOUR;
      carrierEvent(shipmentId, tracking, 'delivered', when);
    };

    const orderDays = Math.max(1, options.weeks * 7 - 7);
    for (let i = 0; i < options.orders; i++) {
      const placed = start.getTime() + Math.floor(rnd() * orderDays * 24) * HOUR;
      at(
        placed,
        async () => {
          const buyer = chance(0.85) ? pick(people.filter((p) => p.customer)) : null;
          const email = buyer?.email ?? `guest${i}@shop.example.com`;
          const split = chance(0.15);
          const items = split
            ? [
                { sku: 'MUG', name: 'Kaffeebecher', quantity: 2 },
                { sku: 'POT', name: 'Teekanne', quantity: 1 },
              ]
            : [{ sku: 'MUG', name: 'Kaffeebecher', quantity: 1 }];
          const number = `A-${100000 + i}`;
          const res = await t.api('POST', '/v1/orders', {
            body: { number, email, items, placedAt: new Date(clock.now().getTime() - 5 * MIN).toISOString(), ...(buyer ? {} : { locale: 'de' }) },
          });
          if (!expect('order', res, [201])) return;
          count('orders');
          if (chance(0.05)) {
            const again = await t.api('POST', '/v1/orders', {
              body: { number, email, items, placedAt: new Date(clock.now().getTime() - 5 * MIN).toISOString() },
            });
            if (expect('repeated order', again, [200, 201])) count('orders posted twice');
          }
          const first = clock.now().getTime() + (2 + Math.floor(rnd() * 28)) * HOUR;
          if (split) {
            at(first, () => ship(number, [{ sku: 'MUG', quantity: 2 }]), 'ship');
            at(first + (1 + Math.floor(rnd() * 3)) * DAY, () => ship(number, [{ sku: 'POT', quantity: 1 }]), 'ship');
          } else {
            at(first, () => ship(number, undefined), 'ship');
          }
        },
        'order',
      );
    }

    // ---- the daily plans of senders and customers --------------------------------------------------

    const perDay = (rate: number) => {
      const whole = Math.floor(rate);
      return whole + (chance(rate - whole) ? 1 : 0);
    };
    for (let day = 0; day < options.weeks * 7; day++) {
      const dayStart = start.getTime() + day * DAY;
      for (const s of SENDERS) {
        // Every sender mails as often as it may: one campaign a day, some a second one.
        const times = s.sender === 'marketing' || s.sender === 'shop' ? 2 : 1;
        for (let k = 0; k < times; k++) {
          at(
            dayStart + (s.hourUtc + k * 4) * HOUR,
            async () => {
              const topic = pick(s.topics);
              const extra: Record<string, unknown> = {};
              if (s.sender === 'shop') extra.audience = { attr: 'customer', eq: true };
              else if (chance(0.2)) extra.audience = { attr: 'segment', eq: pick(['retail', 'industry']) };
              if (chance(0.35)) extra.expiresAt = new Date(clock.now().getTime() + (1 + Math.floor(rnd() * 8)) * DAY).toISOString();
              await campaign(s.sender, topic, extra);
            },
            'campaign',
          );
        }
      }
      if (day % 7 === 0 || day % 7 === 3) at(dayStart + 8 * HOUR, () => webinar(dayStart + 8 * HOUR), 'webinar');
      for (let k = 0; k < 3; k++) at(dayStart + (6 + Math.floor(rnd() * 14)) * HOUR, () => digestItem(dayStart), 'item');
      const customerRate = options.subscribers * 0.0025;
      for (let k = 0; k < perDay(customerRate); k++) at(dayStart + Math.floor(rnd() * 24) * HOUR, customerAction, 'customer');
      for (let k = 0; k < perDay(options.subscribers * 0.0015); k++) at(dayStart + Math.floor(rnd() * 24) * HOUR, confirmPending, 'confirm');
    }

    // ---- the quarter -------------------------------------------------------------------------------

    await setClock(start.getTime() - HOUR);
    await drain();
    const step = options.stepHours * HOUR;
    let done = 0;
    const wallStart = Date.now();
    for (let now = start.getTime(); now < end.getTime(); now += step) {
      await setClock(now);
      await tickJobs();
      await drain();
      // What people and systems do in this step happens 20 minutes in (everything due by then); the
      // mails it causes, and every mail it makes obsolete, meet the worker at the next step.
      const actAt = now + 20 * MIN;
      const due = timeline.filter((x) => x.at <= actAt);
      if (due.length) {
        for (let i = timeline.length - 1; i >= 0; i--) if (timeline[i].at <= actAt) timeline.splice(i, 1);
        due.sort((a, b) => a.at - b.at);
        await setClock(actAt);
        await timed('actions', async () => {
          for (const action of due) await action.run();
        });
      }
      if (++done % ((7 * 24) / options.stepHours) === 0)
        log(
          `week ${Math.round((now - start.getTime()) / (7 * DAY))} done (${Math.round((Date.now() - wallStart) / 1000)} s, ${handedOver} mails; ${Object.entries(
            spent,
          )
            .map(([k, v]) => `${k} ${Math.round(v / 1000)}`)
            .join(', ')})`,
        );
    }
    // The quarter is over: what is due at its end is still handed over (or not), then we look.
    await setClock(end.getTime());
    await tickJobs();
    await drain();
    // A campaign whose last mails the drain just handed over completes at the next progress tick.
    await timed('progress', () => t.app.get(CampaignProgressService).tick());

    return {
      t,
      sink,
      db,
      start,
      end,
      options,
      actions,
      surprises,
      close: async () => {
        await db.end();
        await t.close();
        await sink.close();
      },
    };
  } catch (error) {
    await db.end().catch(() => undefined);
    await t.close();
    await sink.close();
    throw error;
  }
}
