// The audience filter language: a small JSON tree over subscriber attributes, validated here and
// then compiled to parameterised SQL (compileAudience, in campaigns.queries.ts beside the
// statements it goes into). Values only ever travel as bind parameters; attribute names are
// checked against a strict pattern and bound too.
//
//   { "and": [F, …] } | { "or": [F, …] } | { "not": F }
//   { "attr": "segment", "eq": "retail" }   eq / ne: string, number, boolean or null
//   { "attr": "segment", "in": ["a", "b"] }
//   { "attr": "employees", "gte": 10 }      gte / lte: number, or string (ISO dates compare as text)
//   { "attr": "vip", "exists": true }
//   { "locale": "de" }                       the subscriber's language
//   { "webinar": "<id>", "attended": true }  registered for that webinar; with "attended", only those
//                                            who came (true) or did not (false), once attendance is in
import { FieldError } from '../common/problem';

export type Scalar = string | number | boolean | null;
export type AudienceFilter =
  | { and: AudienceFilter[] }
  | { or: AudienceFilter[] }
  | { not: AudienceFilter }
  | { locale: 'de' | 'en' }
  | { webinar: string; attended?: boolean }
  | { attr: string; eq?: Scalar; ne?: Scalar; in?: Scalar[]; gte?: number | string; lte?: number | string; exists?: boolean };

const ATTR = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What one filter may cost. A dry run or a dispatch evaluates the filter for every subscriber of
 * the topic, so its cost grows with each condition and each listed value; these caps keep the
 * heaviest filter a request can send to a few hundred comparisons per subscriber.
 */
export const AUDIENCE_LIMITS = {
  /** Nesting of and / or / not. */
  depth: 6,
  /** Every node counts: and, or, not and each condition. */
  conditions: 50,
  /** Values in one `in` list. */
  valuesPerList: 100,
  /** Values in all `in` lists together. */
  values: 500,
  /** Characters of one string value. */
  valueLength: 200,
  /** The whole filter as JSON. */
  bytes: 16 * 1024,
} as const;
const MAX_DEPTH = AUDIENCE_LIMITS.depth;
const MAX_NODES = AUDIENCE_LIMITS.conditions;
const WHY = 'each one adds to the cost of deciding every subscriber of the topic';
const OPERATORS = ['eq', 'ne', 'in', 'gte', 'lte', 'exists'] as const;

const isScalar = (v: unknown): v is Scalar => v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/** Every problem with the filter, each naming its path (`audience.and[1].in`). Empty when valid. */
export function validateAudience(filter: unknown, path = 'audience'): FieldError[] {
  const errors: FieldError[] = [];
  const bytes = Buffer.byteLength(JSON.stringify(filter) ?? '', 'utf8');
  if (bytes > AUDIENCE_LIMITS.bytes) {
    // Not walked at all: the size alone says no, and walking a huge tree is the cost being refused.
    return [
      { field: path, message: `is ${bytes} bytes as JSON; at most ${AUDIENCE_LIMITS.bytes} bytes (a filter is evaluated for every subscriber of the topic)` },
    ];
  }
  let nodes = 0;
  let values = 0;
  const visit = (node: unknown, at: string, depth: number) => {
    if (++nodes > MAX_NODES) {
      if (nodes === MAX_NODES + 1)
        errors.push({ field: path, message: `has more than ${MAX_NODES} conditions (and, or, not and each condition count; ${WHY})` });
      return;
    }
    if (depth > MAX_DEPTH) {
      errors.push({ field: at, message: `nests deeper than ${MAX_DEPTH} levels` });
      return;
    }
    if (typeof node !== 'object' || node === null || Array.isArray(node)) {
      errors.push({ field: at, message: 'must be an object' });
      return;
    }
    const keys = Object.keys(node);
    const value = node as Record<string, unknown>;
    if (keys.length === 1 && (keys[0] === 'and' || keys[0] === 'or')) {
      const list = value[keys[0]];
      if (!Array.isArray(list) || list.length === 0) errors.push({ field: `${at}.${keys[0]}`, message: 'must be a non-empty array' });
      else list.forEach((child, i) => visit(child, `${at}.${keys[0]}[${i}]`, depth + 1));
      return;
    }
    if (keys.length === 1 && keys[0] === 'not') return visit(value.not, `${at}.not`, depth + 1);
    if (keys.length === 1 && keys[0] === 'locale') {
      if (value.locale !== 'de' && value.locale !== 'en') errors.push({ field: `${at}.locale`, message: 'must be de or en' });
      return;
    }
    if ('webinar' in value) {
      for (const k of keys.filter((k) => k !== 'webinar' && k !== 'attended'))
        errors.push({ field: `${at}.${k}`, message: 'is not allowed beside "webinar" (only "attended")' });
      if (typeof value.webinar !== 'string' || !UUID.test(value.webinar)) errors.push({ field: `${at}.webinar`, message: 'must be a webinar id (UUID)' });
      if ('attended' in value && typeof value.attended !== 'boolean') errors.push({ field: `${at}.attended`, message: 'must be true or false' });
      return;
    }
    if (!('attr' in value)) {
      errors.push({ field: at, message: 'must be {and}, {or}, {not}, {locale}, {webinar} or a condition with "attr"' });
      return;
    }
    if (typeof value.attr !== 'string' || !ATTR.test(value.attr))
      errors.push({ field: `${at}.attr`, message: 'must be an attribute name (letters, digits, _)' });
    const ops = keys.filter((k) => k !== 'attr');
    const unknown = ops.filter((k) => !(OPERATORS as readonly string[]).includes(k));
    for (const k of unknown) errors.push({ field: `${at}.${k}`, message: `is not an operator (${OPERATORS.join(', ')})` });
    if (ops.length !== 1 || unknown.length > 0) {
      if (unknown.length === 0) errors.push({ field: at, message: 'needs exactly one operator' });
      return;
    }
    const op = ops[0];
    const operand = value[op];
    const bad = (message: string) => errors.push({ field: `${at}.${op}`, message });
    if ((op === 'eq' || op === 'ne') && !isScalar(operand)) bad('must be a string, number, boolean or null');
    if (op === 'in') {
      const list = operand;
      if (!Array.isArray(list) || list.length === 0 || !list.every(isScalar)) bad('must be a non-empty array of scalars');
      else if (list.length > AUDIENCE_LIMITS.valuesPerList) bad(`has ${list.length} values; at most ${AUDIENCE_LIMITS.valuesPerList} per list (${WHY})`);
      else {
        values += list.length;
        if (values > AUDIENCE_LIMITS.values && values - list.length <= AUDIENCE_LIMITS.values) {
          bad(`brings the values of all "in" lists to more than ${AUDIENCE_LIMITS.values} (${WHY})`);
        }
        const long = list.findIndex((v) => typeof v === 'string' && v.length > AUDIENCE_LIMITS.valueLength);
        if (long >= 0) errors.push({ field: `${at}.in[${long}]`, message: `is longer than ${AUDIENCE_LIMITS.valueLength} characters` });
      }
    }
    if ((op === 'gte' || op === 'lte') && !(typeof operand === 'string' || (typeof operand === 'number' && Number.isFinite(operand)))) {
      bad('must be a number or a string');
    }
    if (op === 'exists' && typeof operand !== 'boolean') bad('must be true or false');
    if (typeof operand === 'string' && operand.length > AUDIENCE_LIMITS.valueLength) bad(`is longer than ${AUDIENCE_LIMITS.valueLength} characters`);
  };
  visit(filter, path, 0);
  return errors;
}
