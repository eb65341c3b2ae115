// Fault injection for process tests (`node -r test/support/skewed-clock.js dist/main.js`): shifts
// this process's wall clock by TACTFUL_TEST_CLOCK_SKEW_MS, like a host whose NTP is off.
// Date.now() and `new Date()` move; explicit dates and the monotonic clock do not.
'use strict';
const skew = Number(process.env.TACTFUL_TEST_CLOCK_SKEW_MS || 0);
if (skew !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now;
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(realNow() + skew);
      else super(...args);
    }
    static now() {
      return realNow() + skew;
    }
  }
  globalThis.Date = SkewedDate;
}
