import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';

export interface ValidationDetail {
  path: string;
  problems: string[];
}

export type Validated<T> = { ok: true; value: T } | { ok: false; details: ValidationDetail[] };

export interface ValidateOptions {
  /** Refuse properties the class does not declare (commands); events only drop them. */
  forbidUnknown: boolean;
}

type Constructor<T> = new () => T;

/** Turns an unknown value into a validated instance of `cls`, or says what is wrong with it. */
export function validatePlain<T extends object>(cls: Constructor<T>, plain: unknown, options: ValidateOptions): Validated<T> {
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    return { ok: false, details: [{ path: '', problems: ['body must be a JSON object'] }] };
  }
  const instance = plainToInstance(cls, plain, { enableImplicitConversion: false });
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: options.forbidUnknown,
    forbidUnknownValues: true,
  });
  if (errors.length > 0) return { ok: false, details: flattenErrors(errors, '') };
  return { ok: true, value: instance };
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
