// An injected fault for test/e2e/worker-thread.spec.ts, preloaded with `node -r`: worker threads
// inherit the flag, so this runs in each one too. The first worker thread of the process (the
// delivery worker's) throws an uncaught error once it has run for a moment; its restart does not.
'use strict';
const { isMainThread, threadId } = require('node:worker_threads');

if (!isMainThread && threadId === 1) {
  setTimeout(
    () => {
      throw new Error('injected crash of the delivery worker thread');
    },
    Number(process.env.CRASH_AFTER_MS ?? 1500),
  );
}
