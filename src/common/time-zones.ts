// Which time zones Tactful accepts: those both Node (Intl) and PostgreSQL know. The zone is used on
// both sides (Intl formats dates in mails and pages, PostgreSQL computes slots and windows with
// AT TIME ZONE), and their zone databases differ: Node still knows `US/Pacific-New` and
// `Canada/East-Saskatchewan`, which PostgreSQL's tzdata dropped, so a zone valid for one side only
// reached a trigger as a 500. PostgreSQL's list is read once at start-up (TimeZoneCatalog).
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { registerDecorator, ValidationOptions } from 'class-validator';
import { APP_CONFIG, AppConfig, ConfigError, isIanaTimeZone } from '../config/config';
import { DatabaseQueries } from '../database/database.queries';
import { Db } from '../database/sql';

export const TIME_ZONE_MESSAGE = 'must be an IANA time zone such as Europe/Berlin';

/** Lower-cased: both sides read zone names case-insensitively. Null until the catalogue is loaded. */
let databaseZones: ReadonlySet<string> | null = null;
let listed: string[] | null = null;

export function useDatabaseTimeZones(names: Iterable<string>): void {
  databaseZones = new Set([...names].map((name) => name.toLowerCase()));
  listed = null;
}

/**
 * A time zone both Node and PostgreSQL know. Before the catalogue is loaded (unit tests without a
 * database) only Node is asked.
 */
export function isTimeZone(value: unknown): value is string {
  return typeof value === 'string' && isIanaTimeZone(value) && (databaseZones === null || databaseZones.has(value.toLowerCase()));
}

/** The canonical zone names to offer in a form (≈ 420), each valid for both sides. */
export function timeZoneNames(): string[] {
  listed ??= Intl.supportedValuesOf('timeZone').filter(isTimeZone);
  return listed;
}

/** A DTO field that takes a time zone (see isTimeZone). */
export function IsTimeZone(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isTimeZone',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: TIME_ZONE_MESSAGE, ...options },
      validator: { validate: isTimeZone },
    });
}

/** Loads PostgreSQL's zone names at start-up; DEFAULT_TIME_ZONE must be one of them too. */
@Injectable()
export class TimeZoneCatalog implements OnModuleInit {
  constructor(
    private readonly db: Db,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const rows = await this.db.rows(DatabaseQueries.timeZoneNames, []);
    useDatabaseTimeZones(rows.map((row) => row.name));
    if (!isTimeZone(this.config.defaultTimeZone)) {
      throw new ConfigError([
        { variable: 'DEFAULT_TIME_ZONE', message: `"${this.config.defaultTimeZone}" is not a time zone PostgreSQL knows (pg_timezone_names)` },
      ]);
    }
  }
}
