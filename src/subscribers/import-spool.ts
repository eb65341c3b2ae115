// Getting an import off the wire before any transaction opens (subscriber-import.service.ts):
// Upload watches the request body (it must keep coming and must end, not be cut off), RowSpool
// keeps the checked rows in a private temporary file until the transaction writes them.
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, Readable } from 'node:stream';
import { DomainException, ErrorCode } from '../common/problem';
import { SubscriberRow } from './subscriber-rows';

export interface SpooledRow {
  /** 1-based position in the upload, for the report. */
  row: number;
  value: SubscriberRow;
}

const interrupted = () => new DomainException(ErrorCode.BadRequest, 'The upload ended before its last byte; nothing was imported.');

/** The request body as the import reads it: `stream`, which fails when the client stalls or goes away. */
export class Upload {
  readonly stream = new PassThrough();
  private ended = false;
  private cutBy: DomainException | undefined;
  private readonly idle: NodeJS.Timeout;

  constructor(
    private readonly body: Readable,
    idleTimeoutMs: number,
  ) {
    const stalled = () => {
      // Paused by our own backpressure (the import is busy), not by the client: wait on.
      if (this.body.isPaused()) this.idle.refresh();
      else this.cut(new DomainException(ErrorCode.BadRequest, `The upload sent nothing for ${idleTimeoutMs} ms and was cut off; nothing was imported.`));
    };
    this.idle = setTimeout(stalled, idleTimeoutMs);
    body.on('data', () => this.idle.refresh());
    body.once('end', () => {
      this.ended = true;
      clearTimeout(this.idle);
    });
    body.on('error', (error) => this.stream.destroy(error));
    // The reader gets the error through its own listener; this one keeps an early one from crashing.
    this.stream.on('error', () => undefined);
    // A body destroyed without an error would otherwise leave the reader waiting for ever.
    body.once('close', () => {
      clearTimeout(this.idle);
      if (!this.ended) this.stream.destroy(interrupted());
    });
    if (body.destroyed) {
      clearTimeout(this.idle);
      this.stream.destroy(interrupted());
    } else {
      body.pipe(this.stream);
    }
  }

  /** Stops reading: the import fails with `reason`; the rest of the body is discarded. A no-op once the body ended. */
  cut(reason: DomainException = interrupted()): void {
    if (this.ended || this.cutBy) return;
    this.cutBy = reason;
    clearTimeout(this.idle);
    this.body.unpipe(this.stream);
    this.body.resume();
    this.stream.destroy(reason);
  }

  /**
   * Before reading starts: a body cut off (or gone) while the import was still getting ready must
   * fail now, because a reader attached to an already destroyed stream would wait for ever.
   */
  assertReadable(): void {
    if (this.cutBy) throw this.cutBy;
    if (this.stream.destroyed) throw interrupted();
  }

  /** After the last row: the body really ended (was not cut off). */
  assertComplete(): void {
    if (this.cutBy) throw this.cutBy;
    if (!this.ended) throw interrupted();
  }

  /** What a failure while reading means: our own cut, a client that went away, or (undefined) something else. */
  failure(error: unknown): DomainException | undefined {
    if (this.cutBy) return this.cutBy;
    if (error instanceof DomainException) return error;
    return this.ended ? undefined : interrupted();
  }
}

const FLUSH_AT = 64 * 1024;

/**
 * Checked rows as JSON lines in a temporary file of their own (mode 0600). Where the OS allows
 * it the file is unlinked at once, so it lives only as long as its handle, even if the process dies.
 */
export class RowSpool {
  private pending = '';

  private constructor(
    private readonly dir: string,
    private readonly handle: FileHandle,
  ) {}

  static async open(): Promise<RowSpool> {
    const dir = await mkdtemp(join(tmpdir(), 'tactful-import-'));
    const handle = await open(join(dir, 'rows.ndjson'), 'w+', 0o600);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    return new RowSpool(dir, handle);
  }

  async append(row: number, value: SubscriberRow): Promise<void> {
    this.pending += JSON.stringify([row, value]) + '\n';
    if (this.pending.length >= FLUSH_AT) await this.flush();
  }

  async *rows(): AsyncGenerator<SpooledRow> {
    await this.flush();
    const input = this.handle.createReadStream({ start: 0, autoClose: false, encoding: 'utf8' });
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      const [row, value] = JSON.parse(line) as [number, SubscriberRow];
      value.consent.confirmedAt = value.consent.confirmedAt === null ? null : new Date(value.consent.confirmedAt);
      yield { row, value };
    }
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }

  private async flush(): Promise<void> {
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    await this.handle.write(text);
  }
}
