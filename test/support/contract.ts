// The contract test: every response an e2e test receives from the app — through `api()`, a raw
// `fetch`, or a page in Chromium — is checked against the app's own OpenAPI document
// (/docs/openapi.json): the operation must declare the status, the media type must be one the
// status declares, and the body must match its schema. Objects are closed: a field the document
// does not name is a mismatch too, so the server cannot grow fields the document lacks. A
// mismatch fails the test that received the response, naming the operation, status and error.
//
// Schemas are compiled with ajv (JSON Schema 2020-12: the document is OpenAPI 3.1) once per
// document and test file (jest gives each file its own modules), lazily per operation, status and
// media type, and then cached.
import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/** The Swagger UI and the document itself are not described by the document. */
const UNDESCRIBED = /^\/docs(\/|$)/;
const BASE = 'https://tactful.test/openapi';

export interface Received {
  method: string;
  /** The request URL (absolute, or a path with its query). */
  url: string;
  status: number;
  contentType: string | null;
  body: string;
}

interface Route {
  template: string;
  segments: (string | null)[];
  item: Record<string, any>;
}

/** The document's schemas as one JSON Schema: refs point into `$defs`, and objects are closed. */
function toValidatable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toValidatable);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'example' || key === 'examples') continue;
    if (key === '$ref' && typeof value === 'string') out.$ref = value.replace('#/components/schemas/', `${BASE}#/$defs/`);
    else if (key === 'properties' && value && typeof value === 'object') {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, toValidatable(schema)]));
    } else out[key] = toValidatable(value);
  }
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

export class Contract {
  private readonly ajv: Ajv2020;
  private readonly routes: Route[];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly document: any) {
    this.ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
    addFormats(this.ajv);
    this.ajv.addFormat('time-zone', { type: 'string', validate: isTimeZone });
    for (const keyword of ['discriminator', 'xml', 'externalDocs', 'enumName']) this.ajv.addKeyword(keyword);
    this.ajv.addSchema({ $id: BASE, $defs: toValidatable(document.components?.schemas ?? {}) });
    // The most specific template first: a literal segment wins over a parameter, as in Fastify's router.
    this.routes = Object.entries<Record<string, any>>(document.paths)
      .map(([template, item]) => ({ template, item, segments: template.split('/').map((s) => (/^\{.+\}$/.test(s) ? null : s)) }))
      .sort((a, b) => {
        for (let i = 0; i < Math.max(a.segments.length, b.segments.length); i++) {
          const x = a.segments[i];
          const y = b.segments[i];
          if ((x === null) !== (y === null)) return x === null ? 1 : -1;
        }
        return 0;
      });
  }

  private route(path: string): Route | undefined {
    const parts = path.split('/');
    return this.routes.find((r) => r.segments.length === parts.length && r.segments.every((s, i) => (s === null ? parts[i] !== '' : s === parts[i])));
  }

  private validator(key: string, schema: unknown): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(toValidatable(schema) as object);
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** What is wrong with this response, measured against the document; null when it matches. */
  check(received: Received): string | null {
    const url = new URL(received.url, 'http://app.invalid');
    const path = url.pathname;
    if (UNDESCRIBED.test(path)) return null;
    const method = received.method.toLowerCase();
    const route = this.route(path);
    const operation = route?.item[method === 'head' ? 'get' : method];
    const label = operation ? `${received.method.toUpperCase()} ${route!.template} (${operation.operationId})` : `${received.method.toUpperCase()} ${path}`;
    if (!operation) {
      // Not a route of the document: the only answer is the router's 404, as a Problem.
      if (received.status !== 404) return `${label} is not in the OpenAPI document, and the answer was ${received.status}, not 404`;
      return this.checkContent(label, 404, { content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } }, received);
    }
    const responses = operation.responses ?? {};
    const declared = responses[String(received.status)] ?? responses[`${String(received.status)[0]}XX`] ?? responses.default;
    if (!declared) return `${label} answered ${received.status}, which the document does not declare (it declares ${Object.keys(responses).join(', ')})`;
    if (method === 'head') return null;
    return this.checkContent(label, received.status, declared, received);
  }

  private checkContent(label: string, status: number, declared: any, received: Received): string | null {
    const content: Record<string, any> | undefined = declared.content;
    if (!content || Object.keys(content).length === 0) {
      return received.body === '' ? null : `${label} ${status}: the document declares no body, the answer has one (${received.body.slice(0, 120)})`;
    }
    const media = (received.contentType ?? '').split(';')[0].trim().toLowerCase();
    if (!(media in content))
      return `${label} ${status}: answered ${media || 'without a Content-Type'}; the document declares ${Object.keys(content).join(', ')}`;
    const schema = content[media].schema;
    if (!schema) return null;
    let value: unknown = received.body;
    if (/[/+]json$/.test(media)) {
      try {
        value = JSON.parse(received.body);
      } catch {
        return `${label} ${status}: the ${media} body is not JSON: ${received.body.slice(0, 120)}`;
      }
    }
    const validate = this.validator(`${label} ${status} ${media}`, schema);
    if (validate(value)) return null;
    const errors = (validate.errors ?? [])
      .map(
        (e) =>
          `body${e.instancePath.replace(/\//g, '.')} ${e.message}${e.params?.additionalProperty ? `: ${e.params.additionalProperty}` : ''}${e.params?.allowedValues ? ` ${JSON.stringify(e.params.allowedValues)}` : ''}`,
      )
      .join('; ');
    return `${label} ${status} ${media} does not match the document: ${errors}\n  body: ${received.body.slice(0, 600)}`;
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export class ContractViolation extends Error {
  constructor(message: string) {
    super(`Contract test (response vs /docs/openapi.json): ${message}`);
    this.name = 'ContractViolation';
  }
}

// ---- one Contract per document, and the apps it watches -----------------------------------

const contracts = new Map<string, Contract>();
/** Base URLs (origin and path prefix) of running apps, with the contract of their document. */
const watched = new Map<string, Contract>();

export function contractFor(documentText: string): Contract {
  let contract = contracts.get(documentText);
  if (!contract) {
    contract = new Contract(JSON.parse(documentText));
    contracts.set(documentText, contract);
  }
  return contract;
}

function contractOf(url: string): Contract | undefined {
  for (const [base, contract] of watched) if (url === base || url.startsWith(`${base}/`) || url.startsWith(`${base}?`)) return contract;
  return undefined;
}

/** Throws a ContractViolation when the response does not match the document. */
export function assertContract(contract: Contract, received: Received): void {
  const problem = contract.check(received);
  if (problem) throw new ContractViolation(problem);
}

// ---- raw fetch -------------------------------------------------------------------------------

const unchecked: typeof fetch = globalThis.fetch;

/** fetch without the contract check, for the helpers that check themselves (api()). */
export const rawFetch: typeof fetch = (input, init) => unchecked(input, init);

const checkedFetch: typeof fetch = async (input, init) => {
  const response = await unchecked(input, init);
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const contract = contractOf(url);
  if (contract) {
    const method = init?.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET');
    const body = await response.clone().text();
    assertContract(contract, { method, url, status: response.status, contentType: response.headers.get('content-type'), body });
  }
  return response;
};

/** From now on, every fetch of this test file to `baseUrl` is checked against `contract`. */
export function watchApp(baseUrl: string, contract: Contract): () => void {
  watched.set(baseUrl, contract);
  if (globalThis.fetch !== checkedFetch) globalThis.fetch = checkedFetch;
  return () => {
    watched.delete(baseUrl);
  };
}

/**
 * A Tactful process of its own (`node dist/main.js`, `npm start`): its answers are checked against
 * the document it serves itself, from now on. Call it once the process listens.
 */
export async function watchProcess(baseUrl: string): Promise<() => void> {
  const response = await rawFetch(`${baseUrl}/docs/openapi.json`);
  if (response.status !== 200) throw new Error(`${baseUrl}/docs/openapi.json answered ${response.status}`);
  return watchApp(baseUrl, contractFor(await response.text()));
}

// ---- pages in Chromium -----------------------------------------------------------------------

interface BrowserResponse {
  url(): string;
  status(): number;
  headers(): Record<string, string>;
  request(): { method(): string };
  text(): Promise<string>;
}

const pending = new Set<Promise<void>>();
const violations: string[] = [];

/** Checks a response a page in the browser received (recorded; the test fails in afterEach). */
export function checkBrowserResponse(response: BrowserResponse): void {
  const contract = contractOf(response.url());
  if (!contract) return;
  const check = (async () => {
    let body = '';
    try {
      body = await response.text();
    } catch {
      return; // the page navigated on before the body arrived: nothing to check
    }
    const problem = contract.check({
      method: response.request().method(),
      url: response.url(),
      status: response.status(),
      contentType: response.headers()['content-type'] ?? null,
      body,
    });
    if (problem) violations.push(problem);
  })();
  pending.add(check);
  void check.finally(() => pending.delete(check));
}

// Registered once per test file that uses the support code: a browser response that did not match
// fails the test during which it arrived.
if (typeof afterEach === 'function') {
  afterEach(async () => {
    await Promise.all([...pending]);
    if (violations.length > 0) {
      const found = violations.splice(0);
      throw new ContractViolation(found.join('\n'));
    }
  });
}
