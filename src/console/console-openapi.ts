// What every console page may answer besides its own page, for the OpenAPI document.
import type { PageAnswers } from '../common/openapi';

export const CONSOLE_SIGN_IN = 'The sign-in form: no session, or it ended (signed out, idle, past its end, or its API key revoked).';
export const CONSOLE_FORBIDDEN =
  'Not allowed: the session’s API key lacks the scope for this, the form’s CSRF token is not the session’s, or the form came from another site.';

export const CSRF_FIELD = { type: 'string', description: 'The hidden field of the console page the form came from (tied to the session).' } as const;

/** A console page's answers: its own (200, 400, 404, …), the sign-in form (401) and "not allowed" (403). */
export function CONSOLE_PAGE_ANSWERS(html: PageAnswers['html']): PageAnswers {
  return { html: { 401: CONSOLE_SIGN_IN, 403: CONSOLE_FORBIDDEN, ...html } };
}
