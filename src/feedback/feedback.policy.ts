// The decisions feedback drives, as pure functions: when to ask "drop this topic?", how a
// customer's ratings rank their topics, and in which order a digest shows its sections.

export type Rating = 'useful' | 'not_useful';
export const RATINGS: readonly Rating[] = ['useful', 'not_useful'];

export const COMMENT_MAX = 2000;

export const isRating = (value: unknown): value is Rating => value === 'useful' || value === 'not_useful';

/** How many "not useful" in a row on one topic before the customer is asked whether to drop it. */
export const DROP_STREAK = 2;

/**
 * Ask whether to drop a topic when the customer's last DROP_STREAK ratings on it (in the order
 * they first rated the items) are all "not useful", and all of them came after the last time we
 * asked: one question per streak, never a nag in every digest.
 */
export function shouldAskToDrop(ratingsNewestFirst: { rating: Rating; at: Date }[], lastAskedAt: Date | null): boolean {
  const streak = ratingsNewestFirst.slice(0, DROP_STREAK);
  return streak.length === DROP_STREAK && streak.every((r) => r.rating === 'not_useful' && (lastAskedAt === null || r.at.getTime() > lastAskedAt.getTime()));
}

/**
 * A topic's standing with one customer: the useful rate with one imagined vote each way, so an
 * unrated topic sits at 0.5, one "useful" lifts it above the unrated, one "not useful" below.
 */
export function topicScore(useful: number, notUseful: number): number {
  return (useful + 1) / (useful + notUseful + 2);
}

export interface SectionEntry {
  priority: number;
  freshness: Date;
}

/**
 * Digest sections: the customer's best-rated topics first, then by the section's highest
 * priority, then its freshest entry, then name (stable). Entries inside a section keep their order.
 */
export function orderSections<S extends { topicId: string; topicName: string; entries: SectionEntry[] }>(sections: S[], scores: Map<string, number>): S[] {
  const best = (s: S) => Math.max(...s.entries.map((e) => e.priority));
  const freshest = (s: S) => Math.max(...s.entries.map((e) => e.freshness.getTime()));
  return [...sections].sort(
    (a, b) =>
      (scores.get(b.topicId) ?? 0.5) - (scores.get(a.topicId) ?? 0.5) ||
      best(b) - best(a) ||
      freshest(b) - freshest(a) ||
      a.topicName.localeCompare(b.topicName),
  );
}

/** The useful rate of a set of answers, or null when there are none (no rate is not a 0 % rate). */
export function usefulRate(useful: number, notUseful: number): number | null {
  const total = useful + notUseful;
  return total === 0 ? null : Math.round((useful / total) * 1000) / 1000;
}

/** A comment as stored: trimmed, empty → null, length checked by the caller. */
export function normalizeComment(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.replace(/\r\n?/g, '\n').trim();
  return trimmed === '' ? null : trimmed;
}
