// Time zones for process tests that run on the real clock.

/** Fixed-offset IANA zones in which `at` (and the minutes after it) is local daytime: no quiet-hours shift. */
export function daytimeZones(at: Date, localHours: number[]): string[] {
  return localHours.map((hour) => {
    let offset = hour - at.getUTCHours();
    if (offset > 14) offset -= 24;
    if (offset < -12) offset += 24;
    // IANA's Etc zones have the POSIX sign: Etc/GMT-3 is UTC+3.
    return offset === 0 ? 'Etc/UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
  });
}
