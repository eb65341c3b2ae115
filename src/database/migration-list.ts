// Every migration, in order. Listed explicitly so the same list works compiled and under ts-jest.
import { Foundation1764000000000 } from './migrations/1764000000000-Foundation';
import { Outbox1764000001000 } from './migrations/1764000001000-Outbox';
import { CadenceAndCampaigns1764000002000 } from './migrations/1764000002000-CadenceAndCampaigns';
import { Digests1764000003000 } from './migrations/1764000003000-Digests';
import { Shipments1764000004000 } from './migrations/1764000004000-Shipments';
import { SenderBudgets1764000007000 } from './migrations/1764000007000-SenderBudgets';
import { Webinars1764000005000 } from './migrations/1764000005000-Webinars';
import { Feedback1764000006000 } from './migrations/1764000006000-Feedback';
import { DispatchHotPath1764000008000 } from './migrations/1764000008000-DispatchHotPath';
import { BouncedAddresses1764000009000 } from './migrations/1764000009000-BouncedAddresses';
import { DeferredHousekeeping1764000010000 } from './migrations/1764000010000-DeferredHousekeeping';
import { DeferredByTopic1764000011000 } from './migrations/1764000011000-DeferredByTopic';
import { TimeOrderedSubscriberIds1764000012000 } from './migrations/1764000012000-TimeOrderedSubscriberIds';
import { ConsentEvidence1765000100000 } from './migrations/1765000100000-ConsentEvidence';
import { IdempotencyRetention1765000300000 } from './migrations/1765000300000-IdempotencyRetention';
import { HonestStates1765000500000 } from './migrations/1765000500000-HonestStates';
import { ReasonCodesChecked1766000000000 } from './migrations/1766000000000-ReasonCodesChecked';
import { InboundMailEvents1766000300000 } from './migrations/1766000300000-InboundMailEvents';
import { MailStreams1766000400000 } from './migrations/1766000400000-MailStreams';
import { WebinarRegistrationRequests1766000600000 } from './migrations/1766000600000-WebinarRegistrationRequests';
import { ConsoleSessions1766000700000 } from './migrations/1766000700000-ConsoleSessions';
import { HousekeepingRetention1766000800000 } from './migrations/1766000800000-HousekeepingRetention';
import { DeliveryCounts1766000810000 } from './migrations/1766000810000-DeliveryCounts';
import { ClaimLease1766000820000 } from './migrations/1766000820000-ClaimLease';
import { CampaignCounts1767000100000 } from './migrations/1767000100000-CampaignCounts';
import { HealthIndexes1767000200000 } from './migrations/1767000200000-HealthIndexes';
import { PartitionedDecisionLog1767000300000 } from './migrations/1767000300000-PartitionedDecisionLog';

export const MIGRATIONS = [
  Foundation1764000000000,
  Outbox1764000001000,
  CadenceAndCampaigns1764000002000,
  Digests1764000003000,
  Shipments1764000004000,
  Webinars1764000005000,
  Feedback1764000006000,
  SenderBudgets1764000007000,
  DispatchHotPath1764000008000,
  BouncedAddresses1764000009000,
  DeferredHousekeeping1764000010000,
  DeferredByTopic1764000011000,
  TimeOrderedSubscriberIds1764000012000,
  ConsentEvidence1765000100000,
  IdempotencyRetention1765000300000,
  HonestStates1765000500000,
  ReasonCodesChecked1766000000000,
  InboundMailEvents1766000300000,
  MailStreams1766000400000,
  WebinarRegistrationRequests1766000600000,
  ConsoleSessions1766000700000,
  HousekeepingRetention1766000800000,
  DeliveryCounts1766000810000,
  ClaimLease1766000820000,
  CampaignCounts1767000100000,
  HealthIndexes1767000200000,
  PartitionedDecisionLog1767000300000,
];
