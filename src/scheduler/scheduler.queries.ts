// The scheduler's statements (docs/SQL.md): the record of job runs that did something.
import { queries, sql } from '../database/statements';

export const SchedulerQueries = queries('scheduler', {
  recordRun: sql<[job: string, instance: string, startedAt: Date, finishedAt: Date, counts: string, error: string | null]>(
    'A run that did something (or failed), with what it counted: idle ticks are not stored.',
    `INSERT INTO scheduler_runs (job, instance, started_at, finished_at, counts, error) VALUES ($1, $2, $3, $4, $5, $6)`,
  ),
  recentRuns: sql<
    [job: string | null, limit: number],
    { id: string; job: string; instance: string; started_at: Date; finished_at: Date; counts: Record<string, number>; error: string | null }
  >(
    'The latest runs, of one job or all, newest first.',
    `SELECT id, job, instance, started_at, finished_at, counts, error FROM scheduler_runs
     WHERE ($1::text IS NULL OR job = $1) ORDER BY id DESC LIMIT $2`,
  ),
});
