import { getMetadataStorage, IsDefined, IsInt, IsObject, Max, Min, ValidateBy, ValidateNested, validateSync, type ValidationError, type ValidationOptions } from 'class-validator';
import { checkJsonValue, MAX_JSON_DEPTH } from './json-input';

export interface ValidationDetail {
  path: string;
  problems: string[];
}

export type Validated<T> = { ok: true; value: T } | { ok: false; details: ValidationDetail[] };

export interface ValidateOptions {
  /** Refuse properties the class does not declare (commands); events only drop them. */
  forbidUnknown: boolean;
}

type Constructor<T = object> = new () => T;
/** Any class, as a key of the metadata below. */
type ClassRef = abstract new (...args: never[]) => unknown;

/**
 * Keys that are never properties of ours and that name what every object inherits: where a
 * body has structure, they are refused rather than copied onto an instance (where
 * `constructor` would hide the class from the validator). Inside a JSON object field (a
 * role's config) they are data, kept as given.
 */
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'prototype', ...Object.getOwnPropertyNames(Object.prototype)]);

interface NestedType {
  type: () => Constructor;
  each: boolean;
}

/** Nested classes by declaring class and property: ours, so that nothing walks opaque data. */
const nestedTypes = new WeakMap<ClassRef, Map<string, NestedType>>();

/** The class that `Nested` names for a property of `cls` (for tools that read the contract's classes). */
export function nestedTypeOf(cls: ClassRef, property: string): { type: ClassRef; each: boolean } | undefined {
  const nested = lookup(nestedTypes, cls)?.get(property);
  return nested ? { type: nested.type(), each: nested.each } : undefined;
}

/**
 * A required property holding an instance of `type` (or, with `each`, an array of them),
 * validated in depth. (Instead of class-transformer's @Type: see validatePlain.)
 */
export function Nested(type: () => Constructor, options: { each?: boolean } = {}): PropertyDecorator {
  const each = options.each ?? false;
  const decorators = [IsDefined({ message: '$property is required' }), ValidateNested({ each })];
  return (target: object, property: string | symbol) => {
    const cls = target.constructor as ClassRef;
    const map = nestedTypes.get(cls) ?? new Map<string, NestedType>();
    map.set(String(property), { type, each });
    nestedTypes.set(cls, map);
    for (const decorate of decorators) decorate(target, property);
  };
}

/**
 * How deep a JSON object field (a role's config) may nest: below the body limit by enough
 * for every message that carries it (a desired state holds it three levels down), so that a
 * config accepted once is accepted wherever it travels.
 */
export const MAX_JSON_OBJECT_FIELD_DEPTH = MAX_JSON_DEPTH - 8;

/** A property that is any JSON object, kept exactly as it was sent (every key, in order). */
export function IsJsonObject(options?: ValidationOptions): PropertyDecorator {
  const isObject = IsObject(options);
  const isJson = ValidateBy(
    {
      name: 'isJsonObject',
      validator: {
        validate: (value: unknown) => checkJsonValue(value, MAX_JSON_OBJECT_FIELD_DEPTH) === null,
        defaultMessage: (args) => `${args?.property ?? 'value'}: ${checkJsonValue(args?.value, MAX_JSON_OBJECT_FIELD_DEPTH) ?? 'is not JSON'}`,
      },
    },
    // Its own message: the caller's one is about being an object.
  );
  return (target: object, property: string | symbol) => {
    isObject(target, property);
    isJson(target, property);
  };
}

/** A whole number from 0 to 2^53 - 1: a generation, a count (what a database BIGINT and a double both hold). */
export function IsCount(options?: ValidationOptions): PropertyDecorator {
  const decorators = [IsInt(options), Min(0, options), Max(Number.MAX_SAFE_INTEGER, options)];
  return (target: object, property: string | symbol) => {
    for (const decorate of decorators) decorate(target, property);
  };
}

/**
 * Turns an unknown value into a validated instance of `cls`, or says what is wrong with it.
 * Never throws for any input: the instance is built by our own walk of the class's declared
 * properties (only those are copied, with defineProperty), so no key of the input can reach
 * a prototype or a transformer, and opaque JSON fields are copied by reference, unchanged.
 */
export function validatePlain<T extends object>(cls: Constructor<T>, plain: unknown, options: ValidateOptions): Validated<T> {
  if (!isPlainObject(plain)) return { ok: false, details: [{ path: '', problems: ['body must be a JSON object'] }] };
  const problems: ValidationDetail[] = [];
  const instance = build(cls, plain, '', options, problems) as T;
  if (problems.length > 0) return { ok: false, details: problems.slice(0, MAX_DETAILS) };
  const errors = validateSync(instance, { forbidUnknownValues: true });
  if (errors.length > 0) return { ok: false, details: flattenErrors(errors, '').slice(0, MAX_DETAILS) };
  return { ok: true, value: instance };
}

/** An error reply or a dead-letter header lists this many problems at most. */
const MAX_DETAILS = 20;

function build(cls: Constructor, plain: Record<string, unknown>, prefix: string, options: ValidateOptions, problems: ValidationDetail[]): object {
  const instance = new cls();
  const declared = declaredProperties(cls);
  for (const key of Object.keys(plain)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (RESERVED_KEYS.has(key)) {
      problems.push({ path: shorten(path), problems: [`property ${shorten(key)} is not allowed`] });
      continue;
    }
    if (!declared.has(key)) {
      if (options.forbidUnknown) problems.push({ path: shorten(path), problems: [`property ${shorten(key)} should not exist`] });
      continue;
    }
    const value = plain[key];
    if (typeof value === 'string' && value.includes('\u0000')) {
      // Text columns cannot hold NUL, and no field of ours needs it.
      problems.push({ path, problems: [`${key} must not contain NUL characters`] });
      continue;
    }
    const nested = lookup(nestedTypes, cls)?.get(key);
    let copy: unknown = value;
    if (nested && nested.each) {
      if (!Array.isArray(value) && value !== undefined && value !== null) {
        // class-validator would walk an object's values as if it were the array (and throw on some).
        problems.push({ path, problems: [`${key} must be an array`] });
        continue;
      }
      if (Array.isArray(value)) {
        const limit = arrayLimit(cls, key);
        if (limit !== null && value.length > limit) {
          problems.push({ path, problems: [`${key} must contain no more than ${limit} elements`] });
          continue;
        }
        copy = value.map((item, i) => (isPlainObject(item) ? build(nested.type(), item, `${path}.${i}`, options, problems) : item));
      }
    } else if (nested && isPlainObject(value)) {
      copy = build(nested.type(), value, path, options, problems);
    } else if (nested && value !== undefined && value !== null) {
      problems.push({ path, problems: [`${key} must be a JSON object`] });
      continue;
    }
    Object.defineProperty(instance, key, { value: copy, enumerable: true, writable: true, configurable: true });
  }
  return instance;
}

const declaredCache = new WeakMap<ClassRef, ReadonlySet<string>>();

/** The properties class-validator knows for `cls` (its own and inherited ones). */
function declaredProperties(cls: ClassRef): ReadonlySet<string> {
  let names = declaredCache.get(cls);
  if (!names) {
    names = new Set(getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false).map((m) => m.propertyName));
    declaredCache.set(cls, names);
  }
  return names;
}

/** The ArrayMaxSize of a nested array, so that an oversized one is refused before it is walked. */
function arrayLimit(cls: ClassRef, property: string): number | null {
  const metadata = getMetadataStorage()
    .getTargetValidationMetadatas(cls, '', true, false)
    .find((m) => m.propertyName === property && m.name === 'arrayMaxSize');
  const limit: unknown = metadata?.constraints[0];
  return typeof limit === 'number' ? limit : null;
}

function lookup<V>(map: WeakMap<ClassRef, V>, cls: ClassRef): V | undefined {
  for (let c: unknown = cls; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    const found = map.get(c as ClassRef);
    if (found !== undefined) return found;
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shorten(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

export function flattenErrors(errors: ValidationError[], prefix: string): ValidationDetail[] {
  const out: ValidationDetail[] = [];
  for (const error of errors) {
    const path = prefix === '' ? error.property : `${prefix}.${error.property}`;
    if (error.constraints) out.push({ path, problems: Object.values(error.constraints) });
    if (error.children && error.children.length > 0) out.push(...flattenErrors(error.children, path));
  }
  return out;
}

export function describeDetails(details: ValidationDetail[]): string {
  return details.map((d) => (d.path === '' ? d.problems.join('; ') : `${d.path}: ${d.problems.join('; ')}`)).join(', ');
}
