import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { verifyAuditChain } from '#audit-chain';
import type { AuditRecordView } from '#contracts';
import type { RoleStoreClient } from './api-client';
import { CliError, printJson, UsageError, type CliEnv, type Command } from './command';
import { formatTable, truncate } from './table';

const PAGE = 1000;

const auditList: Command = {
  path: ['audit'],
  args: [],
  options: {
    since: { type: 'string', value: 'TIME', description: 'records from this ISO time on (default: all)' },
    limit: { type: 'string', value: 'N', description: 'at most this many records (default: 100)' },
  },
  summary: 'print the audit log, oldest first (operator): who did what, to what, and how it ended',
  async run(ctx, _args, options) {
    const since = typeof options.since === 'string' ? parseSince(options.since) : undefined;
    const limit = typeof options.limit === 'string' ? parseLimit(options.limit) : 100;
    const records = await ctx.api.audit({ since, limit });
    if (ctx.json) return printJson(ctx.stdout, records);
    const rows = records.map((r) => [r.at, r.actor, r.action, truncate(r.target, 60), r.outcome]);
    ctx.stdout.write(formatTable(['AT', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME'], rows));
  },
};

const auditVerify: Command = {
  path: ['audit', 'verify'],
  args: [],
  options: {},
  summary: "check the audit log's hash chain: any record changed or removed behind the plane's back is found",
  async run(ctx) {
    const records = await allRecords(ctx.api);
    const chain = verifyAuditChain(records);
    if (!chain.ok) throw new CliError(`the audit log has been tampered with at record ${chain.seq}: ${chain.problem}`, [`${chain.checked} records before it verified`]);
    // The tail is checked against what this machine verified last time: records removed from the end leave no gap.
    const stateFile = verifiedHeadFile(ctx.env, ctx.api.baseUrl);
    const earlier = await readVerifiedHead(stateFile);
    if (earlier !== null) {
      const same = records.find((r) => r.seq === earlier.seq);
      if (same === undefined) throw new CliError(`the audit log has been cut short: record ${earlier.seq}, verified here on ${earlier.verifiedAt}, is gone`, []);
      if (same.hash !== earlier.hash) throw new CliError(`the audit log has been rewritten: record ${earlier.seq} is not the one verified here on ${earlier.verifiedAt}`, []);
    }
    if (chain.head !== null) await writeVerifiedHead(stateFile, { ...chain.head, verifiedAt: new Date().toISOString() });
    const result = { ok: true, records: chain.checked, head: chain.head };
    if (ctx.json) return printJson(ctx.stdout, result);
    ctx.stdout.write(chain.head === null ? 'the audit log is empty\n' : `the audit log verifies: ${chain.checked} records, the last #${chain.head.seq} (${chain.head.hash})\n`);
  },
};

export const auditCommands: readonly Command[] = [auditVerify, auditList];

async function allRecords(api: RoleStoreClient): Promise<AuditRecordView[]> {
  const records: AuditRecordView[] = [];
  for (let afterSeq = 0; ; ) {
    const page = await api.audit({ afterSeq, limit: PAGE });
    records.push(...page);
    if (page.length < PAGE) return records;
    afterSeq = page[page.length - 1]!.seq;
  }
}

interface VerifiedHead {
  seq: number;
  hash: string;
  verifiedAt: string;
}

/** One file per plane (by its URL), under $XDG_STATE_HOME/hostplane or ~/.local/state/hostplane. */
function verifiedHeadFile(env: CliEnv, apiUrl: string): string | null {
  const base = env.XDG_STATE_HOME ?? (env.HOME !== undefined ? join(env.HOME, '.local/state') : undefined);
  if (base === undefined) return null;
  const plane = createHash('sha256').update(apiUrl).digest('hex').slice(0, 16);
  return join(base, 'hostplane', `audit-verified-${plane}.json`);
}

async function readVerifiedHead(file: string | null): Promise<VerifiedHead | null> {
  if (file === null) return null;
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<VerifiedHead>;
    if (typeof parsed.seq === 'number' && typeof parsed.hash === 'string' && typeof parsed.verifiedAt === 'string') return { seq: parsed.seq, hash: parsed.hash, verifiedAt: parsed.verifiedAt };
    return null;
  } catch {
    return null;
  }
}

async function writeVerifiedHead(file: string | null, head: VerifiedHead): Promise<void> {
  if (file === null) return;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(head)}\n`, { mode: 0o600 });
  await rename(temp, file);
}

function parseSince(text: string): string {
  const time = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(time)) throw new UsageError(`--since must be an ISO time, e.g. 2026-12-07T10:00:00Z, got "${text}"`);
  return new Date(time).toISOString();
}

function parseLimit(text: string): number {
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > PAGE) throw new UsageError(`--limit must be a whole number from 1 to ${PAGE}, got "${text}"`);
  return limit;
}
