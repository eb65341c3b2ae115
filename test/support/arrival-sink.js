// An SMTP sink in a process of its own that records when each message arrived (its own clock,
// milliseconds), for tests about rate: the app instances under test share the test process's
// event loop, and a sink inside it would see a stall of that loop as a burst of arrivals.
// Driven over IPC: { kind: 'arrivals' } -> { kind: 'arrivals', arrivals: [{ at, mailFrom, rcpt }], maxLagMs }.
'use strict';
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { SMTPServer } = require('smtp-server');

// How long this process could not run: arrivals that came in meanwhile get one late timestamp.
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();

const arrivals = [];
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  hideENHANCEDSTATUSCODES: true,
  disableReverseLookup: true,
  logger: false,
  onData(stream, session, callback) {
    stream.on('data', () => undefined);
    stream.once('end', () => {
      arrivals.push({
        at: performance.timeOrigin + performance.now(),
        mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        rcpt: session.envelope.rcptTo.map((r) => r.address).join(','),
      });
      callback(null, 'OK');
    });
  },
});
server.on('error', () => undefined);
server.listen(0, '127.0.0.1', () => process.send({ kind: 'ready', port: server.server.address().port }));
process.on('message', (message) => {
  if (message.kind === 'arrivals') process.send({ kind: 'arrivals', arrivals, maxLagMs: lag.max / 1e6 });
  if (message.kind === 'close') server.close(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
