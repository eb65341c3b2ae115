// An API key row as the statements return it (auth.queries.ts; never its hash): plain data, no ORM mapping.
export interface ApiKey {
  id: string;
  name: string;

  /** The first characters of the key, shown in lists so people can tell keys apart. */
  prefix: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}
