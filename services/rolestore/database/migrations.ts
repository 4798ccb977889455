import type { Database } from './database';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

// Append only: a migration that has shipped is never edited; a change is a new version.
// The SQL is the common subset of SQLite and PostgreSQL (times are epoch milliseconds).
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'hosts, role versions, host roles, processed messages',
    statements: [
      `CREATE TABLE hosts (
        id TEXT PRIMARY KEY,
        hostname TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'unauthorized',
        generation BIGINT NOT NULL DEFAULT 0,
        info TEXT,
        last_heartbeat_ms BIGINT,
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL
      )`,
      `CREATE TABLE role_versions (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size_bytes BIGINT NOT NULL,
        manifest TEXT NOT NULL,
        uploaded_ms BIGINT NOT NULL,
        PRIMARY KEY (name, version)
      )`,
      `CREATE TABLE host_roles (
        host_id TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        version TEXT NOT NULL,
        config TEXT NOT NULL,
        assigned INTEGER NOT NULL DEFAULT 1,
        desired_generation BIGINT NOT NULL,
        applied_generation BIGINT,
        applied_version TEXT,
        state TEXT,
        message TEXT,
        log TEXT,
        desired_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        PRIMARY KEY (host_id, role)
      )`,
      `CREATE TABLE processed_messages (
        message_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        reply TEXT NOT NULL,
        processed_ms BIGINT NOT NULL
      )`,
      `CREATE INDEX processed_messages_by_time ON processed_messages (processed_ms)`,
    ],
  },
  {
    version: 2,
    name: 'join tokens, host certificates',
    statements: [
      // Only the sha256 of a token is kept: a copy of the database does not let anyone join.
      `CREATE TABLE join_tokens (
        token_hash TEXT PRIMARY KEY,
        created_ms BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL,
        used_ms BIGINT,
        used_by TEXT
      )`,
      `CREATE TABLE host_certificates (
        host_id TEXT PRIMARY KEY,
        serial TEXT NOT NULL,
        not_after_ms BIGINT NOT NULL,
        issued_ms BIGINT NOT NULL
      )`,
    ],
  },
  {
    version: 3,
    name: 'join tokens bound to a host',
    statements: [
      // NULL: any host id that has no certificate yet may join with the token.
      `ALTER TABLE join_tokens ADD COLUMN host_id TEXT`,
    ],
  },
  {
    version: 4,
    name: 'host broker access',
    statements: [
      // What each host's own broker user should be allowed, so that a restart can bring the
      // broker in line. No foreign key: registration grants before the host row exists.
      // revoke_after_ms: set while 'revoking', the time after which the host is cut off regardless.
      `CREATE TABLE host_broker_access (
        host_id TEXT PRIMARY KEY,
        access TEXT NOT NULL CHECK (access IN ('granted', 'revoking', 'revoked')),
        revoke_after_ms BIGINT,
        updated_ms BIGINT NOT NULL
      )`,
      // Authorized hosts of an existing plane have their access. An unauthorized one may be
      // new (access) or deauthorized (none): it stays unrecorded until its next change.
      `INSERT INTO host_broker_access (host_id, access, revoke_after_ms, updated_ms)
        SELECT id, 'granted', NULL, updated_ms FROM hosts WHERE state = 'authorized'`,
    ],
  },
  {
    version: 5,
    name: 'host certificate renewal and revocation',
    statements: [
      // After a renewal: the serial it replaced and the certificate it issued, so that a host
      // whose answer was lost can ask again with the same request and get the same certificate.
      `ALTER TABLE host_certificates ADD COLUMN previous_serial TEXT`,
      `ALTER TABLE host_certificates ADD COLUMN renewed_certificate TEXT`,
      // Certificates replaced by a renewal or a new registration, until they expire: the CRL.
      `CREATE TABLE revoked_host_certificates (
        serial TEXT PRIMARY KEY,
        host_id TEXT NOT NULL,
        not_after_ms BIGINT NOT NULL,
        revoked_ms BIGINT NOT NULL
      )`,
    ],
  },
  {
    version: 6,
    name: 'decommissioned hosts',
    statements: [
      // A host removed for good (DELETE /v1/hosts/:id): its record and roles are gone, this
      // stays. broker_user_deleted: 0 until the broker took the deletion of its user (tried
      // again at every start until then). A join with a token made for the host id clears it.
      `CREATE TABLE decommissioned_hosts (
        host_id TEXT PRIMARY KEY,
        decommissioned_ms BIGINT NOT NULL,
        broker_user_deleted INTEGER NOT NULL DEFAULT 0
      )`,
      // Why a certificate was revoked, the CRL entry's reasonCode: 'superseded' (a renewal, a
      // new registration: open connections keep going) or 'cessationOfOperation' (a
      // decommissioned host: the ingress closes them). NULL, from before: superseded.
      `ALTER TABLE revoked_host_certificates ADD COLUMN reason TEXT`,
    ],
  },
  {
    version: 7,
    name: 'role apply failures in a row, and operator retries',
    statements: [
      // What the host last reported: failed attempts in a row at the desired generation.
      `ALTER TABLE host_roles ADD COLUMN failures INTEGER NOT NULL DEFAULT 0`,
      // Raised by `hostplane role retry`; sent in the desired state, a new value asks the host for an attempt now.
      `ALTER TABLE host_roles ADD COLUMN retry BIGINT NOT NULL DEFAULT 0`,
    ],
  },
  {
    version: 8,
    name: 'nodelet status per host',
    statements: [
      // The newest nodelet.status a host sent (the validated event as JSON), kept by sent_ms.
      `CREATE TABLE host_nodelet (
        host_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        sent_ms BIGINT NOT NULL,
        received_ms BIGINT NOT NULL
      )`,
    ],
  },
  {
    version: 9,
    name: 'operator tokens and the audit log',
    statements: [
      // Contract 1.1: a token is kept only as its sha256; revoked_ms set revokes it at once.
      `CREATE TABLE operator_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_ms BIGINT NOT NULL,
        expires_ms BIGINT,
        revoked_ms BIGINT,
        created_by TEXT NOT NULL
      )`,
      // Append only (no statement of the project updates or deletes a row): each record carries
      // the hash of the one before and its own (libs/audit-chain), so a change behind the plane's back shows.
      `CREATE TABLE audit_log (
        seq BIGINT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        at_ms BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        source TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      )`,
      `CREATE INDEX audit_log_at ON audit_log (at_ms)`,
    ],
  },
];

/** Applies the migrations not applied yet, each in its own transaction; answers the versions applied. */
export async function migrate(db: Database, migrations: Migration[] = MIGRATIONS): Promise<number[]> {
  await db.execute(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)`);
  const applied: number[] = [];
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    const done = await db.transaction(async (tx) => {
      // Two role stores starting together on one PostgreSQL: the second waits here.
      if (db.dialect === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(7091001)');
      const rows = await tx.query<{ version: number }>('SELECT version FROM schema_migrations WHERE version = $1', [migration.version]);
      if (rows.length > 0) return false;
      for (const statement of migration.statements) await tx.execute(statement);
      await tx.execute('INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)', [migration.version, migration.name, Date.now()]);
      return true;
    });
    if (done) applied.push(migration.version);
  }
  return applied;
}
