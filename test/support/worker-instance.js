// One more Tactful instance for tests about several instances: a process of its own that boots
// the app from a dist/ copy (DistSnapshot) with the given environment, registers the test's mail
// kinds and runs its delivery worker on command. Driven over IPC:
//   { kind: 'start', env } -> 'ready';  'run' -> worker.start();  'stop' -> { kind: 'stopped', sent, maxLagMs }
//   'close' -> exits.
// Each instance has its own event loop, pools and SMTP pool, as separate servers would.
'use strict';
const { join } = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const dist = process.argv[2];
require(join(dist, '../node_modules/reflect-metadata'));
const { createApp } = require(join(dist, 'bootstrap'));
const { loadConfig } = require(join(dist, 'config/config'));
const { DeliveryKinds, subscriberGate } = require(join(dist, 'delivery/delivery-kinds'));
const { DeliveryWorker } = require(join(dist, 'delivery/delivery-worker'));
const { TemplateRenderer } = require(join(dist, 'rendering/template-renderer'));
const { MailRelays } = require(join(dist, 'delivery/mail-relays'));

const MAIL_DATA = {
  subject: 'Ihre Nachricht',
  bodyHtml: '<p>Guten Tag.</p>',
  topicName: 'Messetermine',
  // For rows without a subscriber, which get no links of their own.
  preferencesUrl: 'http://tactful.test/p/x',
  unsubscribeUrl: 'http://tactful.test/u/x',
  feedback: { usefulUrl: 'http://tactful.test/f/u', notUsefulUrl: 'http://tactful.test/f/n' },
};

let app;
let lag;
process.on('message', async (message) => {
  const kind = typeof message === 'string' ? message : message.kind;
  if (kind === 'start') {
    app = await createApp(loadConfig(message.env), message.env.DATABASE_URL);
    const kinds = app.get(DeliveryKinds);
    for (const name of ['test_notice', 'test_marketing']) {
      kinds.register({ kind: name, gate: (tx, delivery) => subscriberGate(tx, delivery), compose: async () => ({ template: 'campaign', data: MAIL_DATA }) });
    }
    // The first render compiles the MJML layout: done before anything is measured.
    await app.get(TemplateRenderer).render('campaign', 'de', { companyName: 'Tactful', postalAddress: 'Musterstraße 1', locale: 'de', replyAddress: 'team@tactful.test', ...MAIL_DATA });
    // And one mail straight through the transport, which opens the pool's first connection (the
    // sink greets after 100 ms): mails queued behind a connection still being opened would go out
    // together once it is up, whatever their slots.
    const { transport } = app.get(MailRelays).for('service');
    await transport.send({ messageId: `<warmup-${process.pid}@tactful.test>`, from: 'news@tactful.test', to: `warmup-${process.pid}@example.de`, subject: 'warm-up', html: '<p>warm-up</p>', text: 'warm-up', headers: {} });
    process.send({ kind: 'ready' });
  } else if (kind === 'run') {
    lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    app.get(DeliveryWorker).start();
  } else if (kind === 'stop') {
    const worker = app.get(DeliveryWorker);
    await worker.stop();
    // How long this instance could not run while it sent (a busy machine): the test's tolerance.
    process.send({ kind: 'stopped', sent: worker.totals.sent, maxLagMs: lag ? lag.max / 1e6 : 0 });
  } else if (kind === 'close') {
    await app?.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
