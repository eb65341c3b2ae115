// Which statements a distributed PostgreSQL (Citus, distribution column subscriber_id) could not
// route to one customer's shard or run as a colocated join (issue 21, item 7; docs/SCALING.md).
// Each statement is parsed by PostgreSQL's own parser (libpg-query); every place it reads or
// writes a customer-scoped table must be pinned by an equality (=, IN, = ANY, IN (subquery)) on
// that table's distribution column, in a WHERE, a JOIN's ON or USING; an INSERT must name the
// column. A table occurrence without one is a statement that fans out to every shard.
import { loadModule, parseSync } from 'libpg-query';

/** A customer-scoped table and its distribution column (subscribers: id, the others: subscriber_id). */
export type DistributionColumns = ReadonlyMap<string, string>;

export interface Unpinned {
  /** The tables the statement touches without pinning them, in the order they appear. */
  tables: string[];
}

type Node = Record<string, unknown>;

interface Occurrence {
  table: string;
  /** The name its columns are qualified by: the alias, else the table's name. */
  ref: string;
  scope: number;
  /** An INSERT that names the distribution column among its columns. */
  pinned: boolean;
}

interface Pin {
  /** The qualifier of the column (alias or table), null when unqualified. */
  ref: string | null;
  column: string;
  scope: number;
}

let loaded: Promise<void> | undefined;
/** libpg-query's WebAssembly module loads once. */
export function loadParser(): Promise<void> {
  return (loaded ??= loadModule());
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null;
}

/** The column a ColumnRef names, with its qualifier. */
function columnOf(node: unknown): { ref: string | null; column: string } | undefined {
  if (!isNode(node) || !isNode(node.ColumnRef)) return undefined;
  const fields = ((node.ColumnRef as Node).fields as Node[]).map((f) => (isNode(f.String) ? ((f.String as Node).sval as string) : '*'));
  return { ref: fields.length > 1 ? fields[fields.length - 2] : null, column: fields[fields.length - 1] };
}

const EQUALITY = new Set(['AEXPR_OP', 'AEXPR_OP_ANY', 'AEXPR_IN']);

/** The tables of a statement that no equality on their distribution column pins to one customer. */
export function unpinnedTables(text: string, columns: DistributionColumns): Unpinned {
  const occurrences: Occurrence[] = [];
  const pins: Pin[] = [];
  const cteNames = new Set<string>();
  let scopes = 0;

  const pinsOf = (expr: unknown, scope: number): void => {
    if (!isNode(expr)) return;
    if (isNode(expr.A_Expr)) {
      const a = expr.A_Expr as Node;
      const op = ((a.name as Node[] | undefined)?.[0]?.String as Node | undefined)?.sval;
      if (EQUALITY.has(a.kind as string) && (a.kind === 'AEXPR_IN' || op === '=')) {
        for (const side of [a.lexpr, a.rexpr]) {
          const col = columnOf(side);
          if (col) pins.push({ ...col, scope });
        }
      }
    }
    if (isNode(expr.SubLink)) {
      const s = expr.SubLink as Node;
      const col = s.subLinkType === 'ANY_SUBLINK' ? columnOf(s.testexpr) : undefined;
      if (col) pins.push({ ...col, scope });
    }
    for (const value of Object.values(expr)) {
      if (Array.isArray(value)) value.forEach((v) => pinsOf(v, scope));
      else pinsOf(value, scope);
    }
  };

  const addRange = (range: Node, scope: number, insertColumns?: string[]): void => {
    const table = range.relname as string;
    if (cteNames.has(table) || !columns.has(table)) return;
    const alias = isNode(range.alias) ? ((range.alias as Node).aliasname as string) : undefined;
    const pinned = insertColumns !== undefined && insertColumns.includes(columns.get(table)!);
    occurrences.push({ table, ref: alias ?? table, scope, pinned });
  };

  /** A FROM item: a table, a join (its ON and USING pin), a subquery (a scope of its own). */
  const fromItem = (item: unknown, scope: number): void => {
    if (!isNode(item)) return;
    if (isNode(item.RangeVar)) addRange(item.RangeVar as Node, scope);
    else if (isNode(item.JoinExpr)) {
      const j = item.JoinExpr as Node;
      fromItem(j.larg, scope);
      fromItem(j.rarg, scope);
      pinsOf(j.quals, scope);
      for (const u of (j.usingClause as Node[] | undefined) ?? []) pins.push({ ref: null, column: (u.String as Node).sval as string, scope });
    } else walk(item);
  };

  /** Any node: statements open a scope; everything else is searched for statements inside. */
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!isNode(node)) return;
    const withClause = (stmt: Node) => {
      for (const cte of ((stmt.withClause as Node | undefined)?.ctes as Node[] | undefined) ?? [])
        cteNames.add((cte.CommonTableExpr as Node).ctename as string);
    };
    if (isNode(node.SelectStmt)) {
      const s = node.SelectStmt as Node;
      withClause(s);
      // A UNION's arms are SelectStmts without the wrapper.
      if (s.larg || s.rarg) return walk([s.withClause, { SelectStmt: s.larg }, { SelectStmt: s.rarg }]);
      const scope = scopes++;
      ((s.fromClause as unknown[] | undefined) ?? []).forEach((f) => fromItem(f, scope));
      pinsOf(s.whereClause, scope);
      return walk([s.withClause, s.targetList, s.whereClause, s.havingClause, s.valuesLists, s.groupClause, s.sortClause]);
    }
    for (const kind of ['UpdateStmt', 'DeleteStmt', 'InsertStmt'] as const) {
      if (!isNode(node[kind])) continue;
      const s = node[kind] as Node;
      withClause(s);
      const scope = scopes++;
      const insertColumns = kind === 'InsertStmt' ? ((s.cols as Node[] | undefined) ?? []).map((c) => (c.ResTarget as Node).name as string) : undefined;
      addRange(s.relation as Node, scope, insertColumns);
      ((kind === 'DeleteStmt' ? s.usingClause : s.fromClause) as unknown[] | undefined)?.forEach((f) => fromItem(f, scope));
      pinsOf(s.whereClause, scope);
      return walk([s.withClause, s.selectStmt, s.targetList, s.whereClause, s.returningList, s.onConflictClause]);
    }
    for (const value of Object.values(node)) walk(value);
  };

  walk(parseSync(text).stmts);
  const pinnedOccurrence = (o: Occurrence) =>
    o.pinned || pins.some((p) => p.column === columns.get(o.table) && (p.ref === o.ref || (p.ref === null && p.scope === o.scope)));
  return { tables: [...new Set(occurrences.filter((o) => !pinnedOccurrence(o)).map((o) => o.table))] };
}
