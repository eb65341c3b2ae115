// The hand-over state machine: each outcome of a marketing mail's hand-over, what it does to the
// customer's window and what becomes of the mail; and how the worker's results map to outcomes.
import { attemptOutcome, HAND_OVER_OUTCOMES, HAND_OVER_TABLE, handOverStep, refusalOutcome } from '../../src/cadence/hand-over.policy';
import { Reason } from '../../src/reasons/reason-codes';

describe('the hand-over state machine', () => {
  it.each([
    ['gate_refused', 'release', 'will_not_go'],
    ['cancelled', 'release', 'will_not_go'],
    ['expired', 'release', 'will_not_go'],
    ['hand_over_lost', 'yield', 'deferred_to_digest'],
    ['domain_paused', 'keep', 'tries_again'],
    ['sent', 'keep', 'went'],
    ['retry', 'forget', 'tries_again'],
    ['unknown_outcome', 'keep', 'tries_again'],
    ['unknown_given_up', 'keep', 'may_have_gone'],
    ['final_failure', 'forget', 'will_not_go'],
  ] as const)('%s: the window does %s, the mail %s', (outcome, window, mail) => {
    expect(handOverStep(outcome)).toEqual({ window, mail });
  });

  it('has one row per outcome and no other', () => {
    expect(Object.keys(HAND_OVER_TABLE).sort()).toEqual([...HAND_OVER_OUTCOMES].sort());
  });

  it('never gives the window back once a mail may have reached the customer', () => {
    for (const outcome of HAND_OVER_OUTCOMES) {
      const step = handOverStep(outcome);
      if (step.mail === 'went' || step.mail === 'may_have_gone') expect({ outcome, window: step.window }).toEqual({ outcome, window: 'keep' });
    }
  });

  it('keeps the reservation for a mail that tries again, and rewinds the window only for one that never went', () => {
    for (const outcome of HAND_OVER_OUTCOMES) {
      const { window, mail } = handOverStep(outcome);
      if (mail === 'tries_again') expect({ outcome, keeps: window === 'keep' || window === 'forget' }).toEqual({ outcome, keeps: true });
      if (window === 'release') expect({ outcome, mail }).toEqual({ outcome, mail: 'will_not_go' });
    }
  });

  it('reads a gate refusal by its reason', () => {
    expect(refusalOutcome(Reason.Expired)).toBe('expired');
    expect(refusalOutcome(Reason.SuppressedCancelled)).toBe('cancelled');
    expect(refusalOutcome(Reason.SuppressedUnsubscribed)).toBe('gate_refused');
    expect(refusalOutcome(Reason.SuppressedEmpty)).toBe('gate_refused');
  });

  it.each([
    ['sent', Reason.Sent, 'sent'],
    ['queued', Reason.Retrying, 'retry'],
    ['queued', Reason.DomainPaused, 'retry'],
    ['queued', Reason.UnknownOutcome, 'unknown_outcome'],
    ['unknown', Reason.UnknownOutcome, 'unknown_given_up'],
    ['failed', Reason.FailedPermanent, 'final_failure'],
    ['failed', Reason.FailedBounced, 'final_failure'],
    ['failed', Reason.FailedRetriesExhausted, 'final_failure'],
  ] as const)('reads an attempt that ended %s / %s as %s', (status, reason, outcome) => {
    expect(attemptOutcome(status, reason)).toBe(outcome);
  });
});
