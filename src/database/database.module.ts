// The one way to PostgreSQL for every domain (database/sql.ts) and its start-up check.
import { Global, Module } from '@nestjs/common';
import { Db } from './sql';
import { StatementCheck } from './statement-check';

@Global()
@Module({ providers: [Db, StatementCheck], exports: [Db] })
export class DatabaseModule {}
