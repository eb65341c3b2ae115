// PostgreSQL error codes the services react to (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const codeOf = (error: unknown): string | undefined =>
  (error as { code?: string; driverError?: { code?: string } })?.driverError?.code ??
  (error as { code?: string })?.code;

export const isUniqueViolation = (error: unknown): boolean => codeOf(error) === '23505';
export const isForeignKeyViolation = (error: unknown): boolean => codeOf(error) === '23503';
export const isExclusionViolation = (error: unknown): boolean => codeOf(error) === '23P01';
