// The digests domain's statements (docs/SQL.md): digest items. (Composition and the hand-over
// join them in issue 19's second step.)
import { queries, sql } from '../database/statements';

export interface DigestItemRow {
  id: string;
  topic: string;
  sender: string;
  priority: number;
  title_de: string | null;
  title_en: string | null;
  summary_de: string | null;
  summary_en: string | null;
  url: string | null;
  publish_at: Date;
  expires_at: Date | null;
  created_at: Date;
}

const ITEM = `SELECT i.*, t.key AS topic FROM digest_items i JOIN topics t ON t.id = i.topic_id`;

export const DigestQueries = queries('digests', {
  createItem: sql<
    [
      topicId: string,
      sender: string,
      priority: number,
      titleDe: string | null,
      titleEn: string | null,
      summaryDe: string | null,
      summaryEn: string | null,
      url: string | null,
      publishAt: Date,
      expiresAt: string | null,
      at: Date,
    ],
    { id: string }
  >(
    'A piece that goes only into digests; composition picks it up for every subscriber of its topic from publish_at on.',
    `INSERT INTO digest_items (topic_id, sender, priority, title_de, title_en, summary_de, summary_en, url, publish_at, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
  ),
  item: sql<[id: string], DigestItemRow>('One digest item with its topic key, as the API shows it.', `${ITEM} WHERE i.id = $1`),
  listItems: sql<[topicKey: string | null, limit: number], DigestItemRow>(
    'Digest items newest first, of one topic or all.',
    `${ITEM} WHERE ($1::text IS NULL OR t.key = $1) ORDER BY i.publish_at DESC LIMIT $2`,
  ),
});
