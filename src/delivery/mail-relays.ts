// Mail streams and their relays. Service and transactional mail (order confirmations, shipment
// mails, double opt-in, webinar confirmations) is one stream, marketing (campaigns, digests) the
// other: each is claimed by lanes of its own, so a campaign's million queued mails never stand in
// front of an order confirmation, and each may go over a relay of its own (SMTP_URL,
// SMTP_MARKETING_URL) with a rate limit of its own, held across all instances (relay-pacer.ts).
import type { AppConfig } from '../config/config';
import { DkimSigner } from './dkim';
import { createMailTransport, MailTransport } from './mail-transport';
import type { MessageClass } from '../reasons/reason-codes';

export type MailStream = 'service' | 'marketing';
export const MAIL_STREAMS: readonly MailStream[] = ['service', 'marketing'];

/** The classes each stream claims. */
export const STREAM_CLASSES: Record<MailStream, readonly MessageClass[]> = {
  service: ['service', 'transactional'],
  marketing: ['marketing'],
};

export function streamOf(messageClass: MessageClass): MailStream {
  return messageClass === 'marketing' ? 'marketing' : 'service';
}

export interface Relay {
  /** Names the relay's row in relay_paces: one limit per relay, however many streams use it. */
  name: string;
  transport: MailTransport;
  /** Mails per second across all instances; 0: no limit. */
  ratePerSecond: number;
}

export class MailRelays {
  constructor(
    private readonly service: Relay,
    private readonly marketing: Relay = service,
  ) {}

  for(stream: MailStream): Relay {
    return stream === 'marketing' ? this.marketing : this.service;
  }

  /** For logs and /health; never contains credentials. */
  get description(): string {
    return this.marketing === this.service
      ? this.service.transport.description
      : `service: ${this.service.transport.description}; marketing: ${this.marketing.transport.description}`;
  }

  async close(): Promise<void> {
    await Promise.all([...new Set([this.service, this.marketing])].map((relay) => relay.transport.close()));
  }
}

export function createMailRelays(config: AppConfig): MailRelays {
  const dkim = config.dkim ? new DkimSigner(config.dkim) : undefined;
  // The relay's rate is held by the pacer across instances; nodemailer's per-process limit stays off.
  const service: Relay = {
    name: 'default',
    transport: createMailTransport({ smtpUrl: config.smtpUrl, outboxDir: config.outboxDir, maxConnections: config.smtpMaxConnections, ratePerSecond: 0, dkim }),
    ratePerSecond: config.smtpRatePerSecond,
  };
  if (!config.smtpMarketingUrl) return new MailRelays(service);
  const marketing: Relay = {
    name: 'marketing',
    transport: createMailTransport({
      smtpUrl: config.smtpMarketingUrl,
      outboxDir: config.outboxDir,
      maxConnections: config.smtpMarketingMaxConnections,
      ratePerSecond: 0,
      dkim,
    }),
    ratePerSecond: config.smtpMarketingRatePerSecond,
  };
  return new MailRelays(service, marketing);
}
