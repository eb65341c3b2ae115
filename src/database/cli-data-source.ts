// Entry point for the TypeORM CLI (`npm run migration:generate`); it needs DATABASE_URL.
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source';

if (!process.env.DATABASE_URL) {
  throw new Error('DATABASE_URL must point at a migrated database to generate a migration');
}

export const CliDataSource = new DataSource(dataSourceOptions(process.env.DATABASE_URL));
