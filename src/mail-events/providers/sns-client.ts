// The two things Tactful fetches on SNS's word: the signing certificate (SigningCertURL) and the
// subscription confirmation (SubscribeURL). Only URLs that passed snsUrlAllowed reach here; each
// fetch is bounded in time and size, follows no redirect, and certificates are cached by URL
// (SNS signs with few certificates; a rotation brings a new URL).
import { Injectable } from '@nestjs/common';
import { BoundedCache } from '../../common/bounded-cache';

const TIMEOUT_MS = 5_000;
const MAX_CERTIFICATE_BYTES = 16 * 1024;

async function fetchText(url: URL, maxBytes: number): Promise<string> {
  const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!response.ok) throw new Error(`${url.host} answered ${response.status}`);
  const body = Buffer.from(await response.arrayBuffer());
  if (body.length > maxBytes) throw new Error(`${url.host} sent more than ${maxBytes} bytes`);
  return body.toString('utf8');
}

@Injectable()
export class SnsClient {
  private readonly certificates = new BoundedCache<string, Promise<string>>(32);

  certificate(url: URL): Promise<string> {
    const key = url.href;
    return this.certificates.getOrCreate(key, () => {
      const loading = fetchText(url, MAX_CERTIFICATE_BYTES).then((pem) => {
        if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('not a PEM certificate');
        return pem;
      });
      // A failed fetch is not cached: the next message tries again.
      loading.catch(() => this.certificates.delete(key));
      return loading;
    });
  }

  /** Visiting SubscribeURL confirms the subscription (SNS answers with XML we do not need). */
  async confirm(url: URL): Promise<void> {
    await fetchText(url, 64 * 1024);
  }
}
