// Bulk import: JSON, NDJSON or CSV, read as a stream and checked with no transaction open, then
// written in set-based batches inside one transaction. Either every valid row is applied and each
// bad row reported, or (atomic) nothing is applied when any row is bad — never a half-applied
// mystery, and an upload that never ends holds no database connection.
import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { parse as parseCsv } from 'csv-parse';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { PROTOTYPE_KEYS, unsafeJsonProblems } from '../common/body-parsers';
import { Clock } from '../common/clock';
import { DomainException, ErrorCode, FieldError } from '../common/problem';
import { flattenValidationErrors } from '../common/validation';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Db, Tx } from '../database/sql';
import { MetricsService } from '../metrics/metrics.service';
import { CreateSubscriberDto, ImportReport } from './dto/subscriber.dto';
import { RowSpool, SpooledRow, Upload } from './import-spool';
import { toSubscriberRow, TopicRef } from './subscriber-input.policy';
import { normalizeEmail } from '../addresses/email';
import { writeSubscribers, writeTopicConsent } from './subscriber-rows';
import { SubscribersService } from './subscribers.service';

export type ImportFormat = 'json' | 'ndjson' | 'csv';

const BATCH = 5000;
const MAX_REPORTED_ERRORS = 10_000;

/** CSV columns and where they go in the request shape; `attr.<name>` columns fill `attributes`. */
/** A CSV record in the request shape, before validation (every value as the file spells it). */
interface CsvInput {
  email?: string;
  locale?: string;
  timeZone?: string;
  cadence?: string;
  digestWeekday?: number;
  digestHour?: number;
  topics?: string[];
  consent?: { source?: string; confirmedAt?: string; ip?: string; userAgent?: string; textVersion?: string };
  attributes?: Record<string, string>;
}

const CSV_COLUMNS: Record<string, (dto: CsvInput, value: string) => void> = {
  email: (d, v) => (d.email = v),
  locale: (d, v) => (d.locale = v),
  time_zone: (d, v) => (d.timeZone = v),
  cadence: (d, v) => (d.cadence = v),
  digest_weekday: (d, v) => (d.digestWeekday = Number(v)),
  digest_hour: (d, v) => (d.digestHour = Number(v)),
  topics: (d, v) =>
    (d.topics = v
      .split(/[;|,]/)
      .map((t) => t.trim())
      .filter(Boolean)),
  consent_source: (d, v) => ((d.consent ??= {}).source = v),
  consent_confirmed_at: (d, v) => ((d.consent ??= {}).confirmedAt = v),
  consent_ip: (d, v) => ((d.consent ??= {}).ip = v),
  consent_user_agent: (d, v) => ((d.consent ??= {}).userAgent = v),
  consent_text_version: (d, v) => ((d.consent ??= {}).textVersion = v),
};

function csvRecordToInput(record: Record<string, string>): CsvInput {
  const dto: CsvInput = {};
  for (const [column, raw] of Object.entries(record)) {
    const value = raw.trim();
    if (value === '') continue;
    if (column.startsWith('attr.')) (dto.attributes ??= {})[column.slice(5)] = value;
    else CSV_COLUMNS[column](dto, value);
  }
  return dto;
}

/** A known column, or `attr.<name>`; `in` would also find `constructor` and `__proto__` on every object. */
const isCsvColumn = (column: string): boolean =>
  Object.hasOwn(CSV_COLUMNS, column) || (/^attr\.[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(column) && !PROTOTYPE_KEYS.has(column.slice(5)));

function checkCsvHeader(columns: string[]): string[] {
  const unknown = columns.filter((c) => !isCsvColumn(c));
  if (unknown.length > 0) {
    throw new DomainException(
      ErrorCode.Validation,
      `Unknown CSV column(s): ${unknown.join(', ')}. Known: ${Object.keys(CSV_COLUMNS).join(', ')}, attr.<name>.`,
      unknown.map((c) => ({ field: `columns.${c}`, message: 'is not a known column' })),
    );
  }
  if (!columns.includes('email')) {
    throw new DomainException(ErrorCode.Validation, 'The CSV header has no email column.', [{ field: 'columns.email', message: 'is required' }]);
  }
  return columns;
}

/** Yields raw row objects from the body, whatever its format. */
async function* readRows(format: ImportFormat, body: unknown, byteLimit: number): AsyncGenerator<unknown> {
  if (format === 'json') {
    const rows = Array.isArray(body) ? body : (body as { subscribers?: unknown })?.subscribers;
    if (!Array.isArray(rows)) {
      throw new DomainException(ErrorCode.Validation, 'Send a JSON array of subscribers, or {"subscribers": [...]}.', [
        { field: 'body', message: 'must be an array of subscribers' },
      ]);
    }
    yield* rows;
    return;
  }
  const stream = limitBytes(body as Readable, byteLimit);
  if (format === 'ndjson') {
    let line = 0;
    for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      try {
        yield JSON.parse(text);
      } catch {
        yield { __invalidJson: line };
      }
    }
    return;
  }
  const parser = stream.pipe(
    parseCsv({
      columns: (header: string[]) => checkCsvHeader(header.map((h) => h.trim())),
      bom: true,
      skip_empty_lines: true,
      trim: false,
      relax_column_count: false,
    }),
  );
  stream.on('error', (error) => parser.destroy(error));
  for await (const record of parser) yield csvRecordToInput(record as Record<string, string>);
}

function limitBytes(stream: Readable, limit: number): Readable {
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      stream.destroy(new DomainException(ErrorCode.PayloadTooLarge, `The import is larger than ${limit} bytes.`));
    }
  });
  return stream;
}

/** A topic the rows name was archived or deleted between checking and writing them. */
function assertTopicsUnchanged(current: Map<string, TopicRef>, checked: Map<string, TopicRef>, used: Set<string>): void {
  const changed = [...checked].filter(([key, ref]) => used.has(ref.id) && (current.get(key)?.id !== ref.id || current.get(key)!.archived));
  if (changed.length > 0) {
    throw new DomainException(
      ErrorCode.Conflict,
      `Topic(s) ${changed.map(([key]) => key).join(', ')} changed while the import was read; nothing was imported. Send it again.`,
      changed.map(([key]) => ({ field: 'topics', message: `"${key}" was archived or deleted meanwhile` })),
    );
  }
}

function csvError(error: unknown): never {
  if (error instanceof DomainException) throw error;
  const e = error as { code?: string; message?: string; lines?: number };
  if (e?.code?.startsWith('CSV_')) {
    throw new DomainException(ErrorCode.Validation, `The CSV cannot be read: ${e.message}`, [
      { field: 'body', message: e.message ?? 'is not valid CSV', ...(e.lines ? { row: e.lines - 1 } : {}) },
    ]);
  }
  throw error;
}

@Injectable()
export class SubscriberImportService implements BeforeApplicationShutdown {
  /** Uploads being read now: a stopping instance cuts them off rather than wait for slow clients. */
  private readonly uploads = new Set<Upload>();

  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly subscribers: SubscribersService,
    private readonly metrics: MetricsService,
  ) {}

  beforeApplicationShutdown(): void {
    for (const upload of this.uploads) {
      upload.cut(new DomainException(ErrorCode.Unavailable, 'The service is stopping; nothing of this import was applied. Send it again.'));
    }
  }

  /**
   * Two steps, so that no transaction ever waits on a client: first the whole body is read,
   * parsed and checked with no transaction open (a slow or vanished client costs a socket, not a
   * database connection), the good rows spooled to a private temporary file; then one
   * transaction writes them from that file. A client that gives up midway leaves nothing behind.
   */
  async import(format: ImportFormat, body: unknown, atomic: boolean): Promise<ImportReport> {
    const now = this.clock.now();
    const report: ImportReport = {
      atomic,
      applied: false,
      received: 0,
      created: 0,
      updated: 0,
      rejected: 0,
      errors: [],
      errorsTruncated: false,
    };
    const reject = (row: number, errors: FieldError[]) => {
      report.rejected++;
      for (const error of errors) {
        if (report.errors.length >= MAX_REPORTED_ERRORS) report.errorsTruncated = true;
        else report.errors.push({ row, ...error });
      }
    };
    const atomicFailure = () =>
      new DomainException(
        ErrorCode.Unprocessable,
        `${report.rejected} of ${report.received} rows are invalid; with atomic=true nothing was imported.`,
        report.errors,
        { received: report.received, rejected: report.rejected, errorsTruncated: report.errorsTruncated, applied: false },
      );

    // Read from the start, so a client that goes away is noticed whenever it happens.
    const upload = format === 'json' ? undefined : new Upload(body as Readable, this.config.importIdleTimeoutMs);
    if (upload) this.reading(upload, true);
    let spool: RowSpool | undefined;
    try {
      const topics = await this.subscribers.topicRefs();
      const usedTopics = new Set<string>();
      spool = await RowSpool.open();

      // Step 1: no transaction, no connection held while the client sends.
      const seen = new Map<string, number>();
      try {
        // Nothing async between this check and the reader attaching its listeners.
        upload?.assertReadable();
        for await (const raw of readRows(format, upload?.stream ?? body, this.config.importBodyLimitBytes)) {
          const rowNumber = ++report.received;
          const checked = this.checkRow(raw, topics, now);
          if (!checked.ok) {
            reject(rowNumber, checked.errors);
            continue;
          }
          const first = seen.get(checked.row.email);
          if (first !== undefined) {
            reject(rowNumber, [{ field: 'email', message: `repeats row ${first}` }]);
            continue;
          }
          seen.set(checked.row.email, rowNumber);
          for (const id of checked.row.topicIds) usedTopics.add(id);
          await spool.append(rowNumber, checked.row);
        }
        upload?.assertComplete();
      } catch (error) {
        csvError(upload?.failure(error) ?? error);
      }
      if (upload) this.reading(upload, false);
      if (atomic && report.rejected > 0) throw atomicFailure();

      // Step 2: one transaction over local data only.
      const rows = spool;
      await this.db.transaction(async (tx) => {
        assertTopicsUnchanged(await this.subscribers.topicRefs(tx), topics, usedTopics);
        let batch: SpooledRow[] = [];
        for await (const row of rows.rows()) {
          batch.push(row);
          if (batch.length >= BATCH) {
            await this.applyBatch(tx, batch, now, report, reject);
            batch = [];
          }
        }
        await this.applyBatch(tx, batch, now, report, reject);
        // Rows refused by the database's state (suppressed, written concurrently) count too.
        if (atomic && report.rejected > 0) throw atomicFailure();
      });
      report.applied = true;
      return report;
    } finally {
      if (upload) {
        this.reading(upload, false);
        upload.cut();
      }
      await spool?.close();
    }
  }

  private reading(upload: Upload, reading: boolean): void {
    if (reading === this.uploads.has(upload)) return;
    if (reading) this.uploads.add(upload);
    else this.uploads.delete(upload);
    this.metrics.importUploads.set(this.uploads.size);
  }

  private checkRow(raw: unknown, topics: Map<string, TopicRef>, now: Date) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      return { ok: false as const, errors: [{ field: 'row', message: 'must be an object' }] };
    }
    if ('__invalidJson' in raw) return { ok: false as const, errors: [{ field: 'row', message: 'is not valid JSON' }] };
    const unsafe = unsafeJsonProblems(raw);
    if (unsafe.length > 0) return { ok: false as const, errors: unsafe };
    const dto = plainToInstance(CreateSubscriberDto, raw);
    const problems = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true });
    if (problems.length > 0) return { ok: false as const, errors: flattenValidationErrors(problems) };
    return toSubscriberRow(dto, topics, now, 'import');
  }

  private async applyBatch(tx: Tx, batch: SpooledRow[], now: Date, report: ImportReport, reject: (row: number, errors: FieldError[]) => void): Promise<void> {
    if (batch.length === 0) return;
    const blocked = await this.subscribers.suppressedEmails(
      tx,
      batch.map((b) => b.value),
    );
    const allowed = batch.filter((b) => {
      const error = blocked.get(b.value.email);
      if (error) reject(b.row, [error]);
      return !error;
    });
    const rows = allowed.map((b) => b.value);
    const written = await writeSubscribers(tx, rows, this.subscribers.writeDefaults(now), true);
    const ids = new Map(written.map((w) => [w.email, w.id]));
    for (const w of written) {
      if (w.created) report.created++;
      else report.updated++;
    }
    // A row another transaction inserted between our update and insert is reported, not lost.
    for (const b of allowed) {
      if (!ids.has(normalizeEmail(b.value.email))) {
        reject(b.row, [{ field: 'email', message: 'was written concurrently by another request; import this row again' }]);
      }
    }
    await writeTopicConsent(tx, rows, ids, now);
    await this.subscribers.requestConfirmation(
      tx,
      written.map((w) => w.id),
    );
  }
}
