import { MigrationInterface, QueryRunner } from 'typeorm';

// Double opt-in for the public webinar form. A submission no longer registers anyone: it becomes
// a registration request, and the address's owner gets at most one "confirm your registration"
// mail for it per day; only the click on that mail's link registers them. The request holds what
// the form said (language, time zone, first name, series) until then, and where it came from (the
// client address and its rate-limit bucket: the per-address limit on confirmation mails is counted
// here, across every instance). Nothing is stored for an address that must be left alone
// (erased, bounced, complained). Pending requests go after 7 days, every request once its webinar
// has ended (WebinarRegistrationsService.pruneRequests), and with the person on erasure.
export class WebinarRegistrationRequests1766000600000 implements MigrationInterface {
  name = 'WebinarRegistrationRequests1766000600000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE webinar_registration_requests (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        webinar_id    uuid NOT NULL REFERENCES webinars (id) ON DELETE CASCADE,
        email         text NOT NULL CHECK (email = lower(email) AND position('@' in email) > 1),
        locale        text NOT NULL CHECK (locale IN ('de', 'en')),
        time_zone     text NOT NULL,
        first_name    text,
        series        boolean NOT NULL DEFAULT false,
        status        text NOT NULL CHECK (status IN ('pending', 'confirmed')),
        ip            inet,
        ip_bucket     text,
        user_agent    text,
        mails         int NOT NULL DEFAULT 0,
        last_mail_at  timestamptz,
        confirmed_at  timestamptz,
        created_at    timestamptz NOT NULL,
        updated_at    timestamptz NOT NULL,
        UNIQUE (webinar_id, email)
      )`);
    // The limits: confirmation mails per address (across webinars) and per client address.
    await db.query(`CREATE INDEX webinar_registration_requests_email_idx ON webinar_registration_requests (email, last_mail_at)`);
    await db.query(`CREATE INDEX webinar_registration_requests_ip_idx ON webinar_registration_requests (ip_bucket, last_mail_at) WHERE ip_bucket IS NOT NULL`);
    await db.query(`CREATE INDEX webinar_registration_requests_created_idx ON webinar_registration_requests (created_at) WHERE status = 'pending'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE webinar_registration_requests`);
  }
}
