// The optional inbound SMTP receiver (INBOUND_SMTP_ENABLED): the MX of the bounce domain and of
// the List-Unsubscribe mailto address. It takes mail only for those addresses (any other RCPT is
// refused with 550 before a byte of the message is read), reads each mail (inbound-mail.ts) and
// hands what it found to MailEventsService before it answers the final dot: a 250 means the
// bounce, complaint or unsubscribe is stored; a failure answers 451, so the sending MTA retries.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { APP_CONFIG, AppConfig } from '../config/config';
import { runAs } from '../database/connection-budgets';
import { DeliveryReferences } from '../delivery/delivery-reference';
import { mailDomain } from '../addresses/email';
import { VerpCodec } from '../delivery/verp';
import { MetricsService } from '../metrics/metrics.service';
import { TokenService } from '../links/tokens';
import { InboundAddresses, readInboundMail, recipientOf } from './inbound-mail';
import { MailEventsService } from './mail-events.service';
import { header, parseFields } from './mime';

const smtpError = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

/** The addresses the receiver answers for, from the configuration. */
export function inboundAddresses(config: AppConfig): InboundAddresses {
  const secrets = [config.tokenSecret, ...config.previousTokenSecrets];
  return {
    verp: config.bounceDomain ? new VerpCodec(secrets, config.bounceDomain) : null,
    bounceMailbox: config.bounceDomain ? `bounces@${config.bounceDomain}` : null,
    unsubscribe: (config.unsubscribeMailto ?? `unsubscribe@${mailDomain(config.mailFrom)}`).toLowerCase(),
  };
}

@Injectable()
export class InboundSmtpReceiver implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(InboundSmtpReceiver.name);
  private readonly addresses: InboundAddresses;
  private readonly references: DeliveryReferences;
  private server: SMTPServer | undefined;
  /** The port it listens on (INBOUND_SMTP_PORT, or the one the system chose for 0). */
  port: number | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly mailEvents: MailEventsService,
    private readonly tokens: TokenService,
    private readonly metrics: MetricsService,
  ) {
    this.addresses = inboundAddresses(config);
    this.references = new DeliveryReferences([config.tokenSecret, ...config.previousTokenSecrets]);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.inboundSmtp.enabled) await this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async listen(): Promise<number> {
    const { host, port, maxBytes, tlsKeyFile, tlsCertFile } = this.config.inboundSmtp;
    const tls = tlsKeyFile && tlsCertFile ? { key: readFileSync(tlsKeyFile), cert: readFileSync(tlsCertFile) } : null;
    const server = new SMTPServer({
      name: this.config.bounceDomain ?? mailDomain(this.config.mailFrom),
      banner: 'Tactful inbound mail',
      size: maxBytes,
      authOptional: true,
      // STARTTLS only with a certificate; no AUTH: nobody logs in, mail is taken for our addresses only.
      disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
      ...(tls ?? {}),
      logger: false,
      maxClients: 100,
      socketTimeout: 60_000,
      closeTimeout: 5_000,
      onRcptTo: (address, _session, callback) => {
        if (recipientOf(address.address, this.addresses)) return callback();
        this.metrics.mailEventsRefused.inc({ source: 'smtp', reason: 'unknown_recipient' });
        callback(smtpError(550, '5.1.1 No such recipient here: this server takes bounces and unsubscribe requests only'));
      },
      onData: (stream, session, callback) => {
        this.receive(stream, session).then(
          (message) => callback(null, message),
          (error: Error & { responseCode?: number }) => {
            if (!error.responseCode) this.logger.error({ err: error }, 'inbound mail could not be stored; the sender will retry');
            callback(error.responseCode ? error : smtpError(451, '4.3.0 Temporary failure, please try again later'));
          },
        );
      },
    });
    server.on('error', (error) => this.logger.warn({ err: error }, 'inbound SMTP connection error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server as unknown as { server: { address(): AddressInfo } }).server.address().port;
    this.logger.log({ port: this.port, host }, 'inbound SMTP receiver listening');
    return this.port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    // Past the limit the rest is read (the client sends it anyway) but not kept.
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size <= this.config.inboundSmtp.maxBytes) chunks.push(chunk as Buffer);
    }
    if (stream.sizeExceeded || size > this.config.inboundSmtp.maxBytes)
      throw smtpError(552, `5.3.4 Message too big: at most ${this.config.inboundSmtp.maxBytes} bytes`);
    const raw = Buffer.concat(chunks);
    const rcptTo = session.envelope.rcptTo.map((r) => r.address);
    return runAs('inbound', async () => {
      const reading = await readInboundMail(raw, rcptTo, { addresses: this.addresses, references: this.references, tokens: this.tokens });
      // A report delivered twice (the MTA missed our 250) is recognised by its own Message-ID and
      // the mail it is about.
      const reportId = header(
        parseFields(
          raw
            .subarray(0, 64 * 1024)
            .toString('latin1')
            .split(/\r?\n\r?\n/)[0],
        ),
        'message-id',
      );
      let applied = 0;
      for (const [index, event] of reading.events.entries()) {
        const about = event.deliveryId ?? event.messageId ?? event.subscriberId ?? '';
        const replayKey = reportId ? { source: `smtp-${reading.type}`, id: `${reportId.slice(0, 200)}#${about.slice(0, 80)}#${index}` } : undefined;
        const result = await this.mailEvents.record({ ...event, replayKey });
        if (result.outcome !== 'none') applied++;
      }
      if (reading.events.length === 0) {
        this.metrics.mailEventsRefused.inc({ source: `smtp-${reading.type}`, reason: 'nothing_to_act_on' });
        this.logger.log({ type: reading.type, note: reading.note }, 'inbound mail taken, nothing to act on');
      }
      return `2.0.0 Thank you: ${reading.type}, ${applied} of ${reading.events.length} applied`;
    });
  }
}
