// Pure checks that turn a validated request shape into a SubscriberRow: topic keys known,
// consent evidence complete and not from the future. Shared by the API and the import.
import { FieldError } from '../common/problem';
import { ConsentSource } from './subscriber.entity';
import { CreateSubscriberDto } from './dto/subscriber.dto';
import { normalizeEmail } from '../addresses/email';
import { SubscriberRow } from './subscriber-rows';

export interface TopicRef {
  id: string;
  archived: boolean;
}

export type RowResult = { ok: true; row: SubscriberRow } | { ok: false; errors: FieldError[] };

export function toSubscriberRow(input: CreateSubscriberDto, topics: ReadonlyMap<string, TopicRef>, now: Date, defaultSource: ConsentSource): RowResult {
  const errors: FieldError[] = [];
  const topicIds: string[] = [];
  (input.topics ?? []).forEach((key, index) => {
    const topic = topics.get(key);
    if (!topic) errors.push({ field: `topics[${index}]`, message: `"${key}" is not a topic` });
    else if (topic.archived) errors.push({ field: `topics[${index}]`, message: `"${key}" is archived` });
    else if (!topicIds.includes(topic.id)) topicIds.push(topic.id);
  });

  let confirmedAt: Date | null = null;
  if (input.consent?.confirmedAt !== undefined) {
    confirmedAt = new Date(input.consent.confirmedAt);
    if (confirmedAt.getTime() > now.getTime() + 60_000) {
      errors.push({ field: 'consent.confirmedAt', message: 'lies in the future' });
    }
    if (input.consent.source === undefined) {
      errors.push({ field: 'consent.source', message: 'is required with consent.confirmedAt (where was consent given?)' });
    }
    if ((input.topics ?? []).length === 0) {
      errors.push({ field: 'topics', message: 'must name the topics the confirmed consent covers' });
    }
  }
  if (errors.length > 0) return { ok: false, errors };

  return {
    ok: true,
    row: {
      email: normalizeEmail(input.email),
      locale: input.locale ?? null,
      timeZone: input.timeZone ?? null,
      cadence: input.cadence ?? null,
      digestWeekday: input.digestWeekday ?? null,
      digestHour: input.digestHour ?? null,
      attributes: input.attributes ?? null,
      topicIds,
      consent: {
        source: input.consent?.source ?? defaultSource,
        confirmedAt,
        ip: input.consent?.ip ?? null,
        userAgent: input.consent?.userAgent ?? null,
        textVersion: input.consent?.textVersion ?? null,
      },
    },
  };
}
