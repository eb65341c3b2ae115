// Sender budgets: how much of each customer's attention one sender may take.
import { Body, Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiProperty, ApiTags } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { RequireScopes } from '../auth/scopes';
import { ApiInstant, ApiInteger, ApiNoContent, ApiOk, ApiProblems } from '../common/openapi';
import { invalid, notFound } from '../common/problem';
import { SLUG } from '../common/slug';
import type { SenderBudgetRow } from './campaigns.queries';
import { SendersService } from './senders.service';


export class SenderBudgetDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: 52, example: 1, description: 'At most this many of every `perSlots` cadence windows of one customer.' })
  @IsInt()
  @Min(1)
  @Max(52)
  maxSlots: number;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: 52, example: 4, description: 'Counted over this many windows (1 in 4: the shop takes at most every fourth week).' })
  @IsInt()
  @Min(1)
  @Max(52)
  perSlots: number;
}

export class SenderBudgetResponse {
  @ApiProperty({ example: 'shop' }) sender: string;
  @ApiInteger({ minimum: 1, maximum: 52, example: 1 }) maxSlots: number;
  @ApiInteger({ minimum: 1, maximum: 52, example: 4 }) perSlots: number;
  @ApiInstant() updatedAt: string;
}

const EXAMPLE: SenderBudgetResponse = { sender: 'shop', maxSlots: 1, perSlots: 4, updatedAt: '2026-03-02T08:00:00.000Z' };
const SENDER_PARAM = { name: 'sender', description: 'The sender’s slug (`sender` of its campaigns).', schema: { type: 'string', pattern: SLUG.source } };

const toResponse = (r: SenderBudgetRow): SenderBudgetResponse => ({ sender: r.sender, maxSlots: r.max_slots, perSlots: r.per_slots, updatedAt: r.updated_at.toISOString() });

@ApiTags('campaigns')
@ApiBearerAuth()
@Controller('v1/senders')
export class SendersController {
  constructor(private readonly senders: SendersService) {}

  @Get()
  @RequireScopes('read', 'campaigns:write')
  @ApiOperation({ summary: 'Sender budgets in force' })
  @ApiOk([SenderBudgetResponse], [EXAMPLE])
  async list(): Promise<SenderBudgetResponse[]> {
    return (await this.senders.list()).map(toResponse);
  }

  @Put(':sender/budget')
  @RequireScopes('campaigns:write')
  @ApiOperation({
    summary: 'Limit a sender to maxSlots of every perSlots windows of each customer',
    description: 'Over budget, the sender’s campaigns are folded into the customer’s digest (reason deferred_budget) instead of taking the window. The seed’s shop that mailed offers every two days after an order: shop = 1 in 4.',
  })
  @ApiParam(SENDER_PARAM)
  @ApiOk(SenderBudgetResponse, EXAMPLE, { description: 'The budget now in force (created or replaced).' })
  async put(@Param('sender') sender: string, @Body() body: SenderBudgetDto): Promise<SenderBudgetResponse> {
    if (!SLUG.test(sender)) throw invalid('sender', 'must be a slug: lower-case letters, digits and dashes');
    if (body.perSlots < body.maxSlots) throw invalid('perSlots', 'must be at least maxSlots');
    return toResponse(await this.senders.put(sender, body.maxSlots, body.perSlots));
  }

  @Delete(':sender/budget')
  @HttpCode(204)
  @RequireScopes('campaigns:write')
  @ApiOperation({ summary: 'Remove a sender budget (the cadence cap still applies)' })
  @ApiParam(SENDER_PARAM)
  @ApiNoContent('Removed.')
  @ApiProblems({ 404: 'The sender has no budget.' })
  async remove(@Param('sender') sender: string): Promise<void> {
    if (!(await this.senders.remove(sender))) throw notFound('Sender budget', sender);
  }
}
