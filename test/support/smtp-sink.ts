// An in-process SMTP server for tests and benchmarks: keeps every accepted message (parsed with
// mailparser) and can misbehave on demand, like the relays the delivery worker must survive.
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/**
 * What the sink does instead of a plain accept. `message` is the reply text after the code;
 * put the enhanced status code first ('5.1.1 No such user'), as real servers do.
 * `delayMs` holds the decisive reply back (the greeting, the RCPT reply, the final reply, or
 * the cut) to imitate a slow relay.
 */
export type SmtpFault =
  /** Refuse the connection with a greeting of `code` (default 421) and hang up. */
  | { kind: 'reject-connect'; code?: number; message?: string; delayMs?: number }
  /** Refuse the recipient (RCPT TO). */
  | { kind: 'reject-rcpt'; code: number; message: string; delayMs?: number }
  /** Take the whole message, then refuse it in the reply to the final dot. */
  | { kind: 'reject-data'; code: number; message: string; delayMs?: number }
  /** Take the whole message, then drop the connection without any reply. */
  | { kind: 'cut-after-data'; delayMs?: number }
  /** Drop the connection as soon as the first bytes of the message arrive (no final dot seen). */
  | { kind: 'cut-during-data' }
  /** Accept normally, only later. */
  | { kind: 'accept'; delayMs: number };

export interface FaultContext {
  /**
   * 'connect': once per connection, before the greeting (no rcpt). A message-level fault
   * returned here applies to every message on that connection unless the 'message' call
   * returns its own. 'message': once per recipient, when RCPT TO arrives.
   */
  stage: 'connect' | 'message';
  /** 1-based. 'connect': the number of this connection; 'message': how often this rcpt was tried. */
  attempt: number;
  /** Recipient address as the client sent it ('message' stage only). */
  rcpt?: string;
  /** Messages accepted so far. */
  messageCount: number;
}

export type FaultFn = (ctx: FaultContext) => SmtpFault | undefined;

export interface SinkMessage {
  envelope: { mailFrom: string; rcptTo: string[] };
  parsed: ParsedMail;
  /** The message exactly as received (CRLF line ends, dot-unstuffed). */
  raw: string;
  /** When the whole message had arrived (the test process's clock). */
  receivedAt: Date;
}

export interface SmtpSink {
  readonly port: number;
  /** 'smtp://127.0.0.1:PORT' */
  readonly url: string;
  /** Accepted messages: each one the sink answered with 250. */
  readonly messages: SinkMessage[];
  /** Messages received in full and then cut off without a reply: the client cannot know. */
  readonly cutAfterData: SinkMessage[];
  /** Messages refused after DATA (reject-data), for reasoning about what was seen at all. */
  readonly rejectedAfterData: SinkMessage[];
  /** Connections opened since start or the last clear(). */
  readonly connectionCount: number;
  /** Decides faults from now on; undefined returns to accepting everything. */
  fault(fn: FaultFn | undefined): void;
  /**
   * Resolves once at least `count` messages were accepted; fails after `timeoutMs`, or with
   * `{ stallMs }` only when no message arrived for that long (a slow but moving sender on a
   * loaded machine is not a failure; a stopped one is).
   */
  waitFor(count: number, timeoutMs?: number | { stallMs: number }): Promise<SinkMessage[]>;
  /** Forgets messages, counters and the fault function. */
  clear(): void;
  close(): Promise<void>;
}

export interface SmtpSinkOptions {
  /** Parse with mailparser (default true). Off for throughput benchmarks: `parsed` is then an empty stub. */
  parse?: boolean;
}

function replyError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

const EMPTY_PARSED = { attachments: [], headers: new Map(), headerLines: [], html: false } as unknown as ParsedMail;

export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const parse = options.parse ?? true;
  const messages: SinkMessage[] = [];
  const cutAfterData: SinkMessage[] = [];
  const rejectedAfterData: SinkMessage[] = [];
  let faultFn: FaultFn | undefined;
  let connectionCount = 0;
  let rcptAttempts = new Map<string, number>();
  // Keyed by session id: the fault chosen for the connection, and for the current transaction.
  const connectionFaults = new Map<string, SmtpFault>();
  const transactionFaults = new Map<string, SmtpFault>();
  const timers = new Set<NodeJS.Timeout>();
  let waiters: { count: number; resolve: (list: SinkMessage[]) => void; arrived?: () => void }[] = [];
  let closed = false;
  // Bumped by clear(): a transaction still running from before (a delayed reply, say) finishes
  // its SMTP dialogue but is not recorded into the next test's lists.
  let generation = 0;

  const later = (delayMs: number | undefined, action: () => void): void => {
    if (!delayMs) return action();
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, delayMs);
    timers.add(timer);
  };

  const notify = (): void => {
    if (!waiters.length) return;
    for (const waiter of waiters) waiter.arrived?.();
    const ready = waiters.filter((waiter) => messages.length >= waiter.count);
    waiters = waiters.filter((waiter) => messages.length < waiter.count);
    for (const waiter of ready) waiter.resolve(messages.slice());
  };

  const toMessage = async (raw: Buffer, session: SMTPServerSession): Promise<SinkMessage> => ({
    envelope: {
      mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
      rcptTo: session.envelope.rcptTo.map((rcpt) => rcpt.address),
    },
    parsed: parse ? await simpleParser(raw) : EMPTY_PARSED,
    raw: raw.toString('utf8'),
    receivedAt: new Date(),
  });

  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    // smtp-server otherwise prefixes its own enhanced code ("550 5.0.0 5.1.1 ..."), which would
    // hide the one a fault supplies in its message.
    hideENHANCEDSTATUSCODES: true,
    // A reverse DNS lookup per connection costs more than the SMTP session itself here.
    disableReverseLookup: true,
    logger: false,
    banner: 'tactful test sink',
    closeTimeout: 100,

    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' });
    },

    onConnect(session, callback) {
      connectionCount += 1;
      const fault = faultFn?.({ stage: 'connect', attempt: connectionCount, messageCount: messages.length });
      if (!fault) return callback();
      if (fault.kind === 'reject-connect') {
        const error = replyError(fault.code ?? 421, fault.message ?? '4.3.2 Service not available, closing transmission channel');
        return later(fault.delayMs, () => callback(error));
      }
      if (fault.kind === 'accept') return later(fault.delayMs, () => callback());
      connectionFaults.set(session.id, fault);
      callback();
    },

    onMailFrom(_address, session, callback) {
      transactionFaults.delete(session.id);
      callback();
    },

    onRcptTo(address, session, callback) {
      const key = address.address.toLowerCase();
      const attempt = (rcptAttempts.get(key) ?? 0) + 1;
      rcptAttempts.set(key, attempt);
      const fault = faultFn?.({ stage: 'message', attempt, rcpt: address.address, messageCount: messages.length }) ?? connectionFaults.get(session.id);
      if (!fault) return callback();
      switch (fault.kind) {
        case 'reject-rcpt':
          return later(fault.delayMs, () => callback(replyError(fault.code, fault.message)));
        case 'reject-connect':
          // A 421 in the middle of a session: smtp-server hangs up after sending it.
          return later(fault.delayMs, () => callback(replyError(fault.code ?? 421, fault.message ?? '4.3.2 Service shutting down')));
        default:
          // Decided after the data: several recipients keep the first fault chosen.
          if (!transactionFaults.has(session.id)) transactionFaults.set(session.id, fault);
          return callback();
      }
    },

    onClose(session) {
      connectionFaults.delete(session.id);
      transactionFaults.delete(session.id);
    },

    onData(stream, session, callback) {
      const destroySocket = (): void => {
        const connection = [...server.connections].find((candidate) => candidate.id === session.id);
        // destroy, not end: no reply, no QUIT, as when a relay crashes mid-transaction
        connection?._socket.destroy();
      };
      if (transactionFaults.get(session.id)?.kind === 'cut-during-data') {
        transactionFaults.delete(session.id);
        stream.once('data', destroySocket);
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.once('error', (error) => callback(error));
      const startedIn = generation;
      stream.once('end', () => {
        const fault = transactionFaults.get(session.id);
        transactionFaults.delete(session.id);
        const raw = Buffer.concat(chunks);
        toMessage(raw, session).then(
          (message) => {
            if (fault?.kind === 'cut-after-data') {
              return later(fault.delayMs, () => {
                if (startedIn === generation) cutAfterData.push(message);
                destroySocket();
              });
            }
            if (fault?.kind === 'reject-data') {
              return later(fault.delayMs, () => {
                if (startedIn === generation) rejectedAfterData.push(message);
                callback(replyError(fault.code, fault.message));
              });
            }
            const delayMs = fault?.kind === 'accept' ? fault.delayMs : undefined;
            later(delayMs, () => {
              // Recorded before the 250 is written: a client that sees 250 always finds it here.
              if (startedIn === generation) {
                messages.push(message);
                notify();
              }
              callback(null, `2.0.0 OK queued as ${session.id}.${session.transaction}`);
            });
          },
          // A message mailparser cannot read is a test bug, but the client deserves a reply.
          (error: Error) => callback(replyError(554, `5.6.0 sink could not parse the message: ${error.message}`)),
        );
      });
    },
  });

  server.on('error', () => {
    // Client sockets that reset (the cut-after-data fault does this on purpose) surface here;
    // the sink keeps serving.
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    cutAfterData,
    rejectedAfterData,
    get connectionCount() {
      return connectionCount;
    },
    fault(fn) {
      faultFn = fn;
    },
    waitFor(count, timeoutMs = 10_000) {
      if (messages.length >= count) return Promise.resolve(messages.slice());
      const stallMs = typeof timeoutMs === 'number' ? null : timeoutMs.stallMs;
      const limitMs = stallMs ?? (timeoutMs as number);
      return new Promise<SinkMessage[]>((resolve, reject) => {
        const fail = () => {
          waiters = waiters.filter((candidate) => candidate !== waiter);
          const within = stallMs === null ? `within ${limitMs} ms` : `(none arrived for ${limitMs} ms)`;
          reject(new Error(`smtp-sink: expected ${count} messages ${within}, got ${messages.length}`));
        };
        let timer = setTimeout(fail, limitMs);
        const waiter = {
          count,
          resolve: (list: SinkMessage[]) => {
            clearTimeout(timer);
            resolve(list);
          },
          arrived:
            stallMs === null
              ? undefined
              : () => {
                  clearTimeout(timer);
                  timer = setTimeout(fail, limitMs);
                },
        };
        waiters.push(waiter);
      });
    },
    clear() {
      generation += 1;
      messages.length = 0;
      cutAfterData.length = 0;
      rejectedAfterData.length = 0;
      connectionCount = 0;
      rcptAttempts = new Map();
      connectionFaults.clear();
      transactionFaults.clear();
      faultFn = undefined;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      // Pooled clients keep idle connections open; waiting for them would take closeTimeout
      // per test file, so cut them now.
      for (const connection of server.connections) connection._socket.destroy();
      await done;
    },
  };
}
