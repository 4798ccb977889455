import { UnavailableError } from '#amqp';

/**
 * The database did not answer in time or could not be reached: the request or message is
 * fine and is tried again later (REST answers 503; a message waits in its queue).
 */
export class DatabaseUnavailableError extends UnavailableError {
  constructor(cause: unknown) {
    super('database', `the database is unavailable (${describe(cause)}); try again later`, { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

/** Rejects with a DatabaseUnavailableError once `ms` have passed, whatever the driver is waiting for. */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailableError(new Error(`${what} got no answer within ${ms} ms`))), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const code = 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
  return code === undefined || cause.message.includes(code) ? cause.message : `${code}: ${cause.message}`;
}
