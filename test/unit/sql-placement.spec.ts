// SQL lives in `*.queries.ts` files only (docs/SQL.md): a scan of every source file's string
// literals for SQL, and of every call that reaches PostgreSQL some other way. Files not converted
// yet are listed below; the list only shrinks (a listed file without SQL fails too).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = join(__dirname, '../..');
const src = join(root, 'src');

/** Every file is converted: the list stays empty (a file with inline SQL fails the test). */
const NOT_CONVERTED_YET: string[] = [];

/** Where SQL may be: the statements' own files, the migrations, and the mechanism itself. */
function mayHoldSql(file: string): boolean {
  return (
    file.endsWith('.queries.ts') ||
    file.startsWith('src/database/migrations/') ||
    file === 'src/database/statement-check.ts' ||
    // Creates the app's database on the embedded server: no schema to check against yet.
    file === 'src/database/embedded-postgres.ts'
  );
}

/** A literal that is SQL: a statement keyword in upper case, as every statement here writes them. */
const SQL =
  /\b(SELECT\s|INSERT\s+INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|WITH\s+\w+\s+AS\s*(MATERIALIZED\s*)?\(|ON\s+CONFLICT\b|FOR\s+UPDATE\b)|^\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)\s*;?\s*$/;
/** Reaching PostgreSQL other than through database/sql.ts: TypeORM's query(), repositories, query builders, a pg client. */
const OTHER_WAY = /\.(query|getRepository|createQueryBuilder|createQueryRunner)\(|\bnew\s+(Client|Pool)\(|@InjectRepository\b/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(root, path)] : [];
  });
}

/** Every string and template literal of a file, with its line. */
function literals(file: string): { line: number; text: string }[] {
  const text = readFileSync(join(root, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: { line: number; text: string }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node))
      found.push({ line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, text: node.text });
    else if (ts.isTemplateExpression(node)) {
      found.push({
        line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
        text: [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join('${…}'),
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Where a file reaches PostgreSQL on its own: the lines (comments left out). */
function otherWays(file: string): number[] {
  return readFileSync(join(root, file), 'utf8')
    .split('\n')
    .flatMap((line, i) => (!/^\s*(\/\/|\*|\/\*)/.test(line) && OTHER_WAY.test(line) ? [i + 1] : []));
}

/** The database layer itself reaches pg directly: the executor, the pools, migrations, the embedded server, the advisory lock. */
const DATABASE_LAYER = new Set([
  'src/database/sql.ts',
  'src/database/statement-check.ts',
  'src/database/connection-budgets.ts',
  // Migrations run on a DataSource of their own, before the app (and its executor) exist.
  'src/database/data-source.ts',
  'src/database/embedded-postgres.ts',
  // PostgreSQL's clock is read once before the app or the worker thread (and their pools) exist.
  'src/common/database-clock.ts',
]);

describe('where SQL lives', () => {
  const files = sourceFiles(src);

  function offenders(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const file of files) {
      if (mayHoldSql(file)) continue;
      const found = literals(file)
        .filter((l) => SQL.test(l.text))
        .map((l) => `${file}:${l.line}: ${l.text.replace(/\s+/g, ' ').slice(0, 80)}`);
      if (!DATABASE_LAYER.has(file)) found.push(...otherWays(file).map((line) => `${file}:${line}: reaches PostgreSQL outside database/sql.ts`));
      if (found.length) out.set(file, found);
    }
    return out;
  }

  it('keeps every SQL statement in a *.queries.ts file (or a migration), controllers included', () => {
    const found = offenders();
    const unexpected = [...found].filter(([file]) => !NOT_CONVERTED_YET.includes(file)).flatMap(([, lines]) => lines);
    expect(unexpected).toEqual([]);
  });

  it('lists only files that still hold SQL as not converted yet, and never a controller', () => {
    const found = offenders();
    expect(NOT_CONVERTED_YET.filter((file) => !found.has(file))).toEqual([]);
    expect(NOT_CONVERTED_YET.filter((file) => file.endsWith('.controller.ts'))).toEqual([]);
  });

  it('finds SQL where it is: the scan is not blind', () => {
    const sample = literals('src/topics/topics.queries.ts').filter((l) => SQL.test(l.text));
    expect(sample.length).toBeGreaterThanOrEqual(5);
    expect(SQL.test('select a topic')).toBe(false);
    expect(OTHER_WAY.test(`await this.db.query('x')`)).toBe(true);
  });

  it('loads every queries file with the app (a file no service imports would escape the start-up check)', () => {
    const queryFiles = files.filter((f) => f.endsWith('.queries.ts'));
    const importers = files.filter((f) => !f.endsWith('.queries.ts')).map((f) => readFileSync(join(root, f), 'utf8'));
    const unused = queryFiles.filter((q) => {
      const base = q.replace(/^.*\//, '').replace(/\.ts$/, '');
      return !importers.some((text) => text.includes(`/${base}'`));
    });
    expect(unused).toEqual([]);
  });
});
