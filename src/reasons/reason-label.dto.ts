// A decision reason in words (REASON_LABELS), as the timeline, the audience dry run and the
// order and shipment mails show it.
import { ApiProperty } from '@nestjs/swagger';

export class ReasonLabel {
  @ApiProperty({ example: 'In den nächsten Newsletter verschoben (Versandrhythmus)' }) de: string;
  @ApiProperty({ example: 'Folded into the next digest (cadence)' }) en: string;
}
