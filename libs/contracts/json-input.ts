/**
 * JSON from outside (a message body, an HTTP body, a role.json) before anything else looks
 * at it. JSON.parse alone accepts what later breaks a service or silently changes data:
 * nesting deep enough to overflow every recursive reader (validators, JSON.stringify),
 * `__proto__` keys that become a prototype the moment code copies the object by assignment,
 * and numbers that cannot be kept exactly (9007199254740993 reads as ...992).
 */

/** Deeper than any message or role config needs, and far below what overflows a stack. */
export const MAX_JSON_DEPTH = 64;

/** Keys refused anywhere in a JSON input: the one key that assignment turns into a prototype. */
export const FORBIDDEN_JSON_KEY = '__proto__';

export type JsonInput = { ok: true; value: unknown } | { ok: false; problem: string };

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses an untrusted UTF-8 JSON body: invalid UTF-8 is refused, never replaced by U+FFFD. */
export function parseJsonBytes(bytes: Uint8Array): JsonInput {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { ok: false, problem: 'body is not valid UTF-8' };
  }
  return parseJsonInput(text);
}

/** Parses untrusted JSON text, refusing what could not be handled or kept exactly. */
export function parseJsonInput(text: string): JsonInput {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    return { ok: false, problem: `body is not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  const problem = checkJsonValue(value);
  if (problem !== null) return { ok: false, problem };
  // Only a literal with 16 or more digits, or an exponent, can lose anything in a double.
  if (MAYBE_INEXACT_NUMBER.test(text)) {
    const inexact = firstInexactNumber(text);
    if (inexact !== null) return { ok: false, problem: `the number ${inexact.length > 40 ? `${inexact.slice(0, 40)}…` : inexact} cannot be represented exactly (JSON numbers are kept as IEEE 754 doubles: integers up to 2^53, about 17 significant digits); send it as a string` };
  }
  return { ok: true, value };
}

/**
 * Walks a value (without recursion, so any depth is safe) and answers the first thing wrong
 * with it as JSON input: too deep, a `__proto__` key, or something JSON cannot carry.
 */
export function checkJsonValue(value: unknown, maxDepth = MAX_JSON_DEPTH): string | null {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 0, path: '' }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `${where(item.path)}is not a finite number`;
      continue;
    }
    if (typeof v !== 'object') return `${where(item.path)}is not a JSON value`;
    if (item.depth >= maxDepth) return `${where(item.path)}nests deeper than ${maxDepth} levels`;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i] as unknown, depth: item.depth + 1, path: `${item.path}[${i}]` });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      const path = item.path === '' ? key : `${item.path}.${key}`;
      if (key === FORBIDDEN_JSON_KEY) return `${where(path)}is not allowed: "${FORBIDDEN_JSON_KEY}" is never a key of ours, and copying it would replace an object's prototype`;
      stack.push({ value: (v as Record<string, unknown>)[key], depth: item.depth + 1, path });
    }
  }
  return null;
}

function where(path: string): string {
  return path === '' ? 'the body ' : `${path.length > 120 ? `${path.slice(0, 120)}…` : path} `;
}

const MAYBE_INEXACT_NUMBER = /[0-9][0-9.]{15}|[0-9][eE]/;

/** The source text of the first number literal whose double is not the same decimal, or null. */
function firstInexactNumber(text: string): string | null {
  let found: string | null = null;
  // The value was checked for depth already, so the reviver's recursion is bounded.
  JSON.parse(text, function (this: unknown, _key: string, value: unknown, context?: { source?: string }) {
    if (found === null && typeof value === 'number' && context?.source !== undefined && !sameDecimal(context.source, String(value))) found = context.source;
    return value;
  } as (this: unknown, key: string, value: unknown) => unknown);
  return found;
}

/** Whether two decimal literals (JSON number syntax, or Number's String form) name the same number. */
export function sameDecimal(a: string, b: string): boolean {
  const x = canonicalDecimal(a);
  const y = canonicalDecimal(b);
  return x !== null && y !== null && x === y;
}

/** sign, significant digits and exponent of a decimal literal, e.g. "-1.50e3" -> "-15e2"; null if not one. */
function canonicalDecimal(literal: string): string | null {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!m) return null;
  const digits = `${m[2]}${m[3] ?? ''}`;
  let exponent = Number(m[4] ?? '0') - (m[3]?.length ?? 0);
  const leading = /^0*/.exec(digits)![0].length;
  let significant = digits.slice(leading);
  if (significant === '') return '0';
  const trailing = /0*$/.exec(significant)![0].length;
  significant = significant.slice(0, significant.length - trailing);
  exponent += trailing;
  return `${m[1]}${significant}e${exponent}`;
}
