// Who changes a person's consent, and what the consent record then says about it. Only two kinds
// of actor may: the person, through a signed link that reached their mailbox (their browser's IP
// address and user agent are the evidence), and an API key with `subscribers:write` (its id is the
// evidence; the integration server's address says nothing about the person).
import { RecordedConsentSource, RevocationSource } from './subscriber.entity';

export type ConsentActor = { kind: 'person'; ip: string | null; userAgent: string | null } | { kind: 'api'; apiKeyId: string | null };

export interface ConsentEvidence {
  source: RecordedConsentSource;
  ip: string | null;
  userAgent: string | null;
  apiKeyId: string | null;
}

/** The evidence for a topic chosen by this actor on the preferences page or its API. */
export function grantEvidence(actor: ConsentActor): ConsentEvidence {
  return actor.kind === 'person'
    ? { source: 'preferences_page', ip: actor.ip, userAgent: actor.userAgent, apiKeyId: null }
    : { source: 'api', ip: null, userAgent: null, apiKeyId: actor.apiKeyId };
}

/** The revocation record for a topic this actor dropped; `personVia` names the person's way. */
export function revocationEvidence(
  actor: ConsentActor,
  personVia: RevocationSource = 'preferences_page',
): { source: RevocationSource; apiKeyId: string | null } {
  return actor.kind === 'person' ? { source: personVia, apiKeyId: null } : { source: 'api', apiKeyId: actor.apiKeyId };
}
