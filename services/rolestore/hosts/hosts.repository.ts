import { Injectable } from '@nestjs/common';
import type { HostHeartbeatEvent, HostState, NodeletStatusEvent, RoleState } from '#contracts';
import { Database, type Queryable } from '../database/database';

/** A host as the plane keeps it. */
export interface Host {
  id: string;
  hostname: string;
  state: HostState;
  generation: number;
  /** The last heartbeat's inventory, or null before the first. */
  info: HostHeartbeatEvent | null;
  lastHeartbeatMs: number | null;
  createdMs: number;
  updatedMs: number;
}

/** A role assigned to a host (or being removed from it: `assigned` false), and what the host last reported. */
export interface HostRole {
  hostId: string;
  role: string;
  version: string;
  config: Record<string, unknown>;
  assigned: boolean;
  desiredGeneration: number;
  appliedGeneration: number | null;
  appliedVersion: string | null;
  state: RoleState | null;
  message: string | null;
  log: string | null;
  desiredMs: number;
  updatedMs: number;
  /** Failed attempts in a row at the desired generation, as the host last reported. */
  failures: number;
  /** The operator's retry token (`hostplane role retry`). */
  retry: number;
}

/** The newest nodelet.status a host sent. */
export interface HostNodeletStatus {
  hostId: string;
  status: NodeletStatusEvent;
  sentMs: number;
  receivedMs: number;
}

export interface HeartbeatRecord {
  hostId: string;
  hostname: string;
  info: HostHeartbeatEvent;
  receivedMs: number;
}

interface HostRow {
  id: string;
  hostname: string;
  state: HostState;
  generation: number;
  info: string | null;
  last_heartbeat_ms: number | null;
  created_ms: number;
  updated_ms: number;
}

interface HostRoleRow {
  host_id: string;
  role: string;
  version: string;
  config: string;
  assigned: number;
  desired_generation: number;
  applied_generation: number | null;
  applied_version: string | null;
  state: RoleState | null;
  message: string | null;
  log: string | null;
  desired_ms: number;
  updated_ms: number;
  failures: number;
  retry: number;
}

interface HostNodeletRow {
  host_id: string;
  status: string;
  sent_ms: number;
  received_ms: number;
}

/** Hosts and their role assignments. Methods that take `tx` run inside the caller's transaction. */
@Injectable()
export class HostsRepository {
  constructor(private readonly db: Database) {}

  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  async list(): Promise<Host[]> {
    return (await this.db.query<HostRow>('SELECT * FROM hosts ORDER BY id')).map(hostOf);
  }

  async find(id: string, tx: Queryable = this.db): Promise<Host | null> {
    const rows = await tx.query<HostRow>('SELECT * FROM hosts WHERE id = $1', [id]);
    return rows[0] ? hostOf(rows[0]) : null;
  }

  async roles(hostId: string, tx: Queryable = this.db): Promise<HostRole[]> {
    return (await tx.query<HostRoleRow>('SELECT * FROM host_roles WHERE host_id = $1 ORDER BY role', [hostId])).map(hostRoleOf);
  }

  async findRole(hostId: string, role: string, tx: Queryable = this.db): Promise<HostRole | null> {
    const rows = await tx.query<HostRoleRow>('SELECT * FROM host_roles WHERE host_id = $1 AND role = $2', [hostId, role]);
    return rows[0] ? hostRoleOf(rows[0]) : null;
  }

  /** Raises the host's generation by one and answers the new value. */
  async nextGeneration(tx: Queryable, hostId: string, now: number): Promise<number> {
    const rows = await tx.query<{ generation: number }>(
      'UPDATE hosts SET generation = generation + 1, updated_ms = $2 WHERE id = $1 RETURNING generation',
      [hostId, now],
    );
    const row = rows[0];
    if (!row) throw new Error(`host ${hostId} vanished during a transaction`);
    return Number(row.generation);
  }

  async setState(tx: Queryable, hostId: string, state: HostState, now: number): Promise<void> {
    await tx.execute('UPDATE hosts SET state = $2, updated_ms = $3 WHERE id = $1', [hostId, state, now]);
  }

  async assignRole(tx: Queryable, hostId: string, role: string, version: string, config: Record<string, unknown>, generation: number, now: number): Promise<void> {
    await tx.execute(
      `INSERT INTO host_roles (host_id, role, version, config, assigned, desired_generation, state, message, log, desired_ms, updated_ms)
       VALUES ($1, $2, $3, $4, 1, $5, NULL, NULL, NULL, $6, $6)
       ON CONFLICT (host_id, role) DO UPDATE SET version = excluded.version, config = excluded.config, assigned = 1,
         desired_generation = excluded.desired_generation, state = NULL, message = NULL, log = NULL, failures = 0,
         desired_ms = excluded.desired_ms, updated_ms = excluded.updated_ms`,
      [hostId, role, version, JSON.stringify(config), generation, now],
    );
  }

  /** Marks roles for removal; they stay listed until the host reports them removed. */
  async unassignRoles(tx: Queryable, hostId: string, roles: string[] | 'all', generation: number, now: number): Promise<void> {
    if (roles === 'all') {
      await tx.execute(
        'UPDATE host_roles SET assigned = 0, desired_generation = $2, state = NULL, message = NULL, desired_ms = $3, updated_ms = $3 WHERE host_id = $1 AND assigned = 1',
        [hostId, generation, now],
      );
      return;
    }
    for (const role of roles) {
      await tx.execute(
        'UPDATE host_roles SET assigned = 0, desired_generation = $3, state = NULL, message = NULL, desired_ms = $4, updated_ms = $4 WHERE host_id = $1 AND role = $2',
        [hostId, role, generation, now],
      );
    }
  }

  /** `failures` null: unchanged (an agent that does not count them). */
  async recordRoleStatus(
    tx: Queryable,
    status: {
      hostId: string;
      role: string;
      state: RoleState;
      message: string | null;
      log: string | null;
      appliedGeneration: number | null;
      appliedVersion: string | null;
      failures: number | null;
    },
    now: number,
  ): Promise<void> {
    await tx.execute(
      `UPDATE host_roles SET state = $3, message = $4, log = $5,
         applied_generation = COALESCE($6, applied_generation), applied_version = COALESCE($7, applied_version), updated_ms = $8,
         failures = COALESCE($9, failures)
       WHERE host_id = $1 AND role = $2`,
      [status.hostId, status.role, status.state, status.message, status.log, status.appliedGeneration, status.appliedVersion, now, status.failures],
    );
  }

  /** Raises the role's retry token; answers the new value, or null when the role is not assigned. */
  async raiseRetry(tx: Queryable, hostId: string, role: string, now: number): Promise<number | null> {
    const rows = await tx.query<{ retry: number }>(
      'UPDATE host_roles SET retry = retry + 1, updated_ms = $3 WHERE host_id = $1 AND role = $2 AND assigned = 1 RETURNING retry',
      [hostId, role, now],
    );
    const row = rows[0];
    return row === undefined ? null : Number(row.retry);
  }

  /** The host's record and its roles, gone (decommissioned). */
  async deleteHost(tx: Queryable, hostId: string): Promise<void> {
    await tx.execute('DELETE FROM host_roles WHERE host_id = $1', [hostId]);
    await tx.execute('DELETE FROM host_nodelet WHERE host_id = $1', [hostId]);
    await tx.execute('DELETE FROM hosts WHERE id = $1', [hostId]);
  }

  async deleteRole(tx: Queryable, hostId: string, role: string): Promise<void> {
    await tx.execute('DELETE FROM host_roles WHERE host_id = $1 AND role = $2', [hostId, role]);
  }

  /** One statement for a whole batch: the latest heartbeat of each host. */
  async upsertHeartbeats(batch: HeartbeatRecord[]): Promise<void> {
    if (batch.length === 0) return;
    const values: string[] = [];
    const params: unknown[] = [];
    for (const record of batch) {
      const n = params.length;
      values.push(`($${n + 1}, $${n + 2}, 'unauthorized', 0, $${n + 3}, $${n + 4}, $${n + 4}, $${n + 4})`);
      params.push(record.hostId, record.hostname, JSON.stringify(record.info), record.receivedMs);
    }
    await this.db.execute(
      `INSERT INTO hosts (id, hostname, state, generation, info, last_heartbeat_ms, created_ms, updated_ms)
       VALUES ${values.join(', ')}
       ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, info = excluded.info,
         last_heartbeat_ms = excluded.last_heartbeat_ms, updated_ms = excluded.updated_ms`,
      params,
    );
  }

  /** Keeps a host's nodelet status unless a newer one is held; a host the plane does not know is ignored. */
  async upsertNodelet(hostId: string, status: NodeletStatusEvent, sentMs: number, receivedMs: number): Promise<void> {
    await this.db.execute(
      `INSERT INTO host_nodelet (host_id, status, sent_ms, received_ms)
       SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM hosts WHERE id = $1)
       ON CONFLICT (host_id) DO UPDATE SET status = excluded.status, sent_ms = excluded.sent_ms, received_ms = excluded.received_ms
       WHERE host_nodelet.sent_ms <= excluded.sent_ms`,
      [hostId, JSON.stringify(status), sentMs, receivedMs],
    );
  }

  /** nodelet reports no state any more: forgets it, unless a newer status is held. */
  async deleteNodelet(hostId: string, sentMs: number): Promise<void> {
    await this.db.execute('DELETE FROM host_nodelet WHERE host_id = $1 AND sent_ms <= $2', [hostId, sentMs]);
  }

  async findNodelet(hostId: string): Promise<HostNodeletStatus | null> {
    const rows = await this.db.query<HostNodeletRow>('SELECT * FROM host_nodelet WHERE host_id = $1', [hostId]);
    const row = rows[0];
    return row ? { hostId: row.host_id, status: JSON.parse(row.status) as NodeletStatusEvent, sentMs: Number(row.sent_ms), receivedMs: Number(row.received_ms) } : null;
  }

  async countOnline(sinceMs: number): Promise<number> {
    const rows = await this.db.query<{ n: number }>('SELECT COUNT(*) AS n FROM hosts WHERE last_heartbeat_ms >= $1', [sinceMs]);
    return Number(rows[0]?.n ?? 0);
  }
}

/** A row as a domain value: JSON parsed, 0/1 a boolean, every BIGINT a number whichever driver read it. */
function hostOf(row: HostRow): Host {
  return {
    id: row.id,
    hostname: row.hostname,
    state: row.state,
    generation: Number(row.generation),
    info: row.info === null ? null : (JSON.parse(row.info) as HostHeartbeatEvent),
    lastHeartbeatMs: row.last_heartbeat_ms === null ? null : Number(row.last_heartbeat_ms),
    createdMs: Number(row.created_ms),
    updatedMs: Number(row.updated_ms),
  };
}

function hostRoleOf(row: HostRoleRow): HostRole {
  return {
    hostId: row.host_id,
    role: row.role,
    version: row.version,
    config: JSON.parse(row.config) as Record<string, unknown>,
    assigned: Number(row.assigned) === 1,
    desiredGeneration: Number(row.desired_generation),
    appliedGeneration: row.applied_generation === null ? null : Number(row.applied_generation),
    appliedVersion: row.applied_version,
    state: row.state,
    message: row.message,
    log: row.log,
    desiredMs: Number(row.desired_ms),
    updatedMs: Number(row.updated_ms),
    failures: Number(row.failures),
    retry: Number(row.retry),
  };
}
