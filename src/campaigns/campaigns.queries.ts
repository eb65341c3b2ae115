// The campaigns domain's statements (docs/SQL.md): sender budgets. (Campaigns, dispatch and
// progress join them in issue 19's second step.)
import { queries, sql } from '../database/statements';

export interface SenderBudgetRow {
  sender: string;
  max_slots: number;
  per_slots: number;
  updated_at: Date;
}

export const CampaignQueries = queries('campaigns', {
  senderBudgets: sql<[], SenderBudgetRow>(
    'Every sender budget in force, by sender.',
    `SELECT sender, max_slots, per_slots, updated_at FROM sender_budgets ORDER BY sender`,
  ),
  putSenderBudget: sql<[sender: string, maxSlots: number, perSlots: number, at: Date], SenderBudgetRow>(
    "A sender's budget, created or replaced whole (PUT): dispatch reads it for every campaign of that sender.",
    `INSERT INTO sender_budgets (sender, max_slots, per_slots, updated_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (sender) DO UPDATE SET max_slots = EXCLUDED.max_slots, per_slots = EXCLUDED.per_slots, updated_at = EXCLUDED.updated_at
     RETURNING sender, max_slots, per_slots, updated_at`,
  ),
  deleteSenderBudget: sql<[sender: string]>(
    'Removes a budget (the cadence cap still applies); the row count says whether there was one.',
    `DELETE FROM sender_budgets WHERE sender = $1`,
  ),
});
