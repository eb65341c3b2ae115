// API key scopes. `admin` grants everything; `read` grants every GET under /v1 except key management.
import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { ApiProblems } from '../common/openapi';

export const SCOPES = ['admin', 'read', 'topics:write', 'subscribers:write', 'campaigns:write', 'digests:write', 'webinars:write', 'shipments:write'] as const;
export type Scope = (typeof SCOPES)[number];

export const SCOPES_KEY = 'tactful:scopes';
export const PUBLIC_KEY = 'tactful:public';

/** Any one of the listed scopes (or `admin`) lets the request through; the OpenAPI document says which. */
export const RequireScopes = (...scopes: Scope[]) =>
  applyDecorators(
    SetMetadata(SCOPES_KEY, scopes),
    ApiExtension('x-required-scopes', scopes),
    ApiProblems({ 401: 'No API key, or an unknown or revoked one.', 403: `The key lacks the scope; one of: ${scopes.join(', ')} (or admin).` }),
  );

/** Routes for customers and probes: no API key. */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export function scopesAllow(granted: readonly string[], required: readonly Scope[]): boolean {
  if (granted.includes('admin')) return true;
  return required.some((scope) => granted.includes(scope));
}
