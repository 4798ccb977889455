import { randomBytes } from 'node:crypto';

/**
 * The services the integration tests need, as resolved by test/run-tests (AMQP_URL,
 * DATABASE_URL). A test run without them fails here with the reason, never skips.
 */
export function brokerUrl(): string {
  const url = process.env.AMQP_URL;
  if (!url) throw new Error('AMQP_URL is not set: run the tests with `npm test`, which finds or starts a RabbitMQ broker, or set AMQP_URL');
  return url;
}

export function postgresUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url || !/^postgres(ql)?:\/\//.test(url)) {
    throw new Error('DATABASE_URL does not name a PostgreSQL database: run the tests with `npm test`, which finds or starts one, or set DATABASE_URL=postgres://…');
  }
  return url;
}

/** A PostgreSQL URL whose tables live in a schema of their own, so tests never share state. */
export function isolatedPostgresUrl(): string {
  const url = new URL(postgresUrl());
  url.searchParams.set('schema', `t_${randomBytes(6).toString('hex')}`);
  return url.toString();
}

export type DatabaseKind = 'sqlite' | 'postgres';
export const DATABASE_KINDS: DatabaseKind[] = ['sqlite', 'postgres'];

export function databaseUrlFor(kind: DatabaseKind, dataDir: string): string {
  return kind === 'sqlite' ? `sqlite:${dataDir}/rolestore.db` : isolatedPostgresUrl();
}
