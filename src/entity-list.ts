// TypeORM entities: none. Every table is reached through named statements (database/sql.ts,
// docs/SQL.md); TypeORM only runs the migrations and holds the pools.
export const ENTITIES = [];
