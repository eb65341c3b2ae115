// Who may see and do what in the console. Every console route is @Public() for the API-key guard
// (the console never takes a key in a header) and passes ConsoleGuard instead: the session cookie
// must name a live session, a POST must carry the session's CSRF token, and the session's key must
// hold one of the scopes the route names, the same scopes the API route of the same action needs.
// Refusals are pages (ConsolePageFilter): the sign-in form (401), "not allowed" (403).
import { ArgumentsHost, CanActivate, Catch, ExceptionFilter, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Scope, scopesAllow } from '../auth/scopes';
import { invalid } from '../common/problem';
import { ConsoleRequest, ConsoleSession, ConsoleSessionsService, consoleToken } from './console-sessions.service';
import { ConsoleView } from './console-view';

const CONSOLE_SCOPES = 'tactful:console-scopes';
const CONSOLE_ANONYMOUS = 'tactful:console-anonymous';

/** Any one of these scopes (or admin) lets the session's key use the route; the API route of the same action names the same. */
export const ConsoleScopes = (...scopes: Scope[]) => SetMetadata(CONSOLE_SCOPES, scopes);
/** The sign-in form and its POST: no session yet. */
export const ConsoleAnonymous = () => SetMetadata(CONSOLE_ANONYMOUS, true);

/** No session (none, expired, idle too long, or its key revoked): the sign-in page, 401. */
export class ConsoleSignInRequired extends Error {}
/** The session may not do this: its key lacks the scope, or the form's CSRF token is not the session's. */
export class ConsoleForbidden extends Error {
  constructor(readonly why: 'scope' | 'csrf') {
    super(why);
  }
}

export function sessionOf(request: FastifyRequest): ConsoleSession {
  const session = (request as ConsoleRequest).consoleSession;
  if (!session) throw new ConsoleSignInRequired();
  return session;
}

export const may = (session: ConsoleSession, ...scopes: Scope[]): boolean => scopesAllow(session.scopes, scopes);

@Injectable()
export class ConsoleGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly sessions: ConsoleSessionsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    const request = context.switchToHttp().getRequest<ConsoleRequest>();
    // ?lang on every console page: a language the console speaks, or a 400 naming it.
    const lang = (request.query as Record<string, unknown> | undefined)?.lang;
    if (lang !== undefined && lang !== 'de' && lang !== 'en') throw invalid('lang', 'must be de or en');
    const writes = request.method !== 'GET' && request.method !== 'HEAD';
    // A form posted from another site (Fetch Metadata): refused before anything, the sign-in
    // included, so no other site can sign a browser in to a session of its choosing.
    if (writes && request.headers['sec-fetch-site'] === 'cross-site') throw new ConsoleForbidden('csrf');
    if (this.reflector.getAllAndOverride<boolean>(CONSOLE_ANONYMOUS, targets)) return true;
    const session = await this.sessions.resolve(consoleToken(request.headers.cookie));
    if (!session) throw new ConsoleSignInRequired();
    request.consoleSession = session;
    if (writes) {
      const csrf = request.body && typeof request.body === 'object' ? (request.body as Record<string, unknown>).csrf : undefined;
      if (!this.sessions.checkCsrf(session, csrf)) throw new ConsoleForbidden('csrf');
    }
    const required = this.reflector.getAllAndOverride<Scope[] | undefined>(CONSOLE_SCOPES, targets);
    if (required && !scopesAllow(session.scopes, required)) throw new ConsoleForbidden('scope');
    return true;
  }
}

@Catch(ConsoleSignInRequired, ConsoleForbidden)
export class ConsolePageFilter implements ExceptionFilter {
  constructor(private readonly view: ConsoleView) {}

  catch(error: ConsoleSignInRequired | ConsoleForbidden, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<ConsoleRequest>();
    const reply = http.getResponse<FastifyReply>();
    void reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store');
    if (error instanceof ConsoleSignInRequired) {
      void reply.status(401).send(this.view.signIn(request, { expired: consoleToken(request.headers.cookie) !== undefined }));
      return;
    }
    void reply.status(403).send(this.view.forbidden(request, error.why));
  }
}
