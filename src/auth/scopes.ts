// API key scopes. `admin` grants everything; `read` grants every GET under /v1 except key management.
import { SetMetadata } from '@nestjs/common';

export const SCOPES = [
  'admin',
  'read',
  'topics:write',
  'subscribers:write',
  'campaigns:write',
  'digests:write',
  'webinars:write',
  'shipments:write',
] as const;
export type Scope = (typeof SCOPES)[number];

export const SCOPES_KEY = 'tactful:scopes';
export const PUBLIC_KEY = 'tactful:public';

/** Any one of the listed scopes (or `admin`) lets the request through. */
export const RequireScopes = (...scopes: Scope[]) => SetMetadata(SCOPES_KEY, scopes);

/** Routes for customers and probes: no API key. */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export function scopesAllow(granted: readonly string[], required: readonly Scope[]): boolean {
  if (granted.includes('admin')) return true;
  return required.some((scope) => granted.includes(scope));
}
