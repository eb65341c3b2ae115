// Which of a subscriber's candidate entries go into this digest: highest priority first, then
// the soonest to expire (so nothing expires unseen), then the freshest; at most `cap`. Pure.

export interface DigestCandidate {
  type: 'item' | 'campaign';
  /** digest item id, or the deferred campaign delivery id */
  ref: string;
  topicId: string;
  priority: number;
  expiresAt: Date | null;
  freshness: Date;
}

export function selectEntries(candidates: DigestCandidate[], cap: number): { included: DigestCandidate[]; left: DigestCandidate[] } {
  const seen = new Set<string>();
  const unique = candidates.filter((c) => {
    const key = `${c.type}:${c.ref}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const ordered = [...unique].sort(
    (a, b) =>
      b.priority - a.priority ||
      (a.expiresAt?.getTime() ?? Infinity) - (b.expiresAt?.getTime() ?? Infinity) ||
      b.freshness.getTime() - a.freshness.getTime() ||
      a.ref.localeCompare(b.ref),
  );
  return { included: ordered.slice(0, cap), left: ordered.slice(cap) };
}
