// Sender budgets: how much of each customer's attention one sender may take.
import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { Db } from '../database/sql';
import { CampaignQueries as Q, SenderBudgetRow } from './campaigns.queries';

@Injectable()
export class SendersService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  list(): Promise<SenderBudgetRow[]> {
    return this.db.rows(Q.senderBudgets, []);
  }

  async put(sender: string, maxSlots: number, perSlots: number): Promise<SenderBudgetRow> {
    return (await this.db.row(Q.putSenderBudget, [sender, maxSlots, perSlots, this.clock.now()]))!;
  }

  /** False when the sender had no budget. */
  async remove(sender: string): Promise<boolean> {
    return (await this.db.run(Q.deleteSenderBudget, [sender])) > 0;
  }
}
