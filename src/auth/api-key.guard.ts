// Every route needs an API key unless it is marked @Public(); a route without @RequireScopes is admin-only.
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AuthenticatedRequest } from '../common/authenticated-request';
import { DomainException, ErrorCode } from '../common/problem';
import { ApiKeysService } from './api-keys.service';
import { PUBLIC_KEY, Scope, SCOPES_KEY, scopesAllow } from './scopes';

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const required = this.reflector.getAllAndOverride<Scope[]>(SCOPES_KEY, targets) ?? ['admin'];

    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      throw new DomainException(ErrorCode.Unauthorized, 'Send an API key as "Authorization: Bearer <key>".');
    }
    const key = await this.keys.verify(match[1]);
    if (!key) throw new DomainException(ErrorCode.Unauthorized, 'The API key is unknown or revoked.');
    if (!scopesAllow(key.scopes, required)) {
      throw new DomainException(ErrorCode.Forbidden, `This API key lacks the scope for this route; it needs one of: ${required.join(', ')}.`, undefined, {
        requiredScopes: required,
      });
    }
    request.apiKey = key;
    return true;
  }
}
