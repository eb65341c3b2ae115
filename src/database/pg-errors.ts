// PostgreSQL error codes the services react to (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const codeOf = (error: unknown): string | undefined =>
  (error as { code?: string; driverError?: { code?: string } })?.driverError?.code ?? (error as { code?: string })?.code;

export const isUniqueViolation = (error: unknown): boolean => codeOf(error) === '23505';
export const isForeignKeyViolation = (error: unknown): boolean => codeOf(error) === '23503';
export const isExclusionViolation = (error: unknown): boolean => codeOf(error) === '23P01';
/** statement_timeout (or a cancel) ended the statement. */
export const isStatementTimeout = (error: unknown): boolean => codeOf(error) === '57014';
/** No connection of the work class's budget came free within its wait (pg-pool's connectionTimeoutMillis). */
export const isPoolExhausted = (error: unknown): boolean => /timeout exceeded when trying to connect/i.test((error as Error)?.message ?? '');
