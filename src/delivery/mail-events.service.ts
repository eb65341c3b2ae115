// Bounce and complaint events from the mail provider, applied in one transaction.
import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { Db } from '../database/sql';
import { blockAddress } from './bounced-addresses';
import { DeliveryQueries as Q } from './delivery.queries';
import { MailEventDto, MailEventResult } from './dto/mail-event.dto';

@Injectable()
export class MailEventsService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  apply(event: MailEventDto): Promise<MailEventResult> {
    const now = this.clock.now();
    return this.db.transaction(async (tx) => {
      const fresh = await tx.row(Q.mailEventFresh, [event.id, now]);
      if (!fresh) return { duplicate: true, subscriberFound: false, action: 'none' as const };
      const subscriber = event.email ? await tx.row(Q.lockSubscriberByEmail, [event.email]) : await tx.row(Q.lockSubscriberByMessageId, [event.messageId!]);
      const soft = event.type === 'bounce' && (event.bounceType ?? 'hard') === 'soft';
      const status = event.type === 'bounce' ? 'bounced' : 'complained';
      if (!subscriber) {
        // Order and shipment mail also goes to addresses that are no subscriber: remember those.
        const sent = event.email ? { to_address: event.email } : await tx.row(Q.addressOfMessage, [event.messageId!]);
        if (!sent || soft) return { duplicate: false, subscriberFound: false, action: sent ? ('noted' as const) : ('none' as const) };
        await blockAddress(tx, sent.to_address, status, `mail event ${event.id}`, now);
        return { duplicate: false, subscriberFound: false, action: status };
      }
      if (soft) return { duplicate: false, subscriberFound: true, action: 'noted' as const };
      await tx.run(Q.setSubscriberStatus, [subscriber.id, status, now]);
      if (status === 'complained') await tx.run(Q.revokeAllTopics, [subscriber.id, now]);
      return { duplicate: false, subscriberFound: true, action: status };
    });
  }
}
