import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { BulkResult, ConnectionsResult, Helper, PingPongResult, SinkStats } from './ipc';
import type { PathKey, RunningPath } from './paths';
import type { PathFigures } from './report';
import { say } from './progress';
import { median, percentile } from './statistics';

/**
 * The three measurements of one path for one round, and what the rounds add up to:
 * throughput and connection rate are the median of the rounds, round-trip percentiles
 * are over every round trip of every round, CPU is the total over the total work.
 */

export interface Workload {
  bulkSeconds: number;
  pings: number;
  warmup: number;
  connSeconds: number;
  concurrency: number;
}

export interface PathRuns {
  key: PathKey;
  label: string;
  path: RunningPath;
  connOnly: boolean;
  bulk: Array<{ bytes: number; seconds: number; cpu: number[] }>;
  pings: Array<{ samplesUs: number[]; roundTrips: number; cpu: number[] }>;
  conns: Array<ConnectionsResult & { cpu: number[] }>;
  error?: string;
}

/** User + system CPU seconds of a process so far, all its threads included. */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // The fields after the command name (which may hold spaces): state is [0], utime [11], stime [12].
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Runs `work` and answers its result with the CPU seconds each proxy of `path` spent meanwhile. */
async function withCpu<T>(path: RunningPath, work: () => Promise<T>): Promise<{ result: T; cpu: number[] }> {
  const before = path.proxies.map((p) => cpuSeconds(p.child.pid));
  const result = await work();
  return { result, cpu: path.proxies.map((p, i) => cpuSeconds(p.child.pid) - (before[i] ?? 0)) };
}

async function sinkSettled(server: Helper): Promise<SinkStats> {
  // The client has stopped writing; what the proxies still hold drains into the sink.
  // Settled: the sink's connection closed, or no byte came for a second.
  const deadline = Date.now() + 30_000;
  let last = await server.request<SinkStats>({ task: 'sinkStats' }, 5_000);
  let changedAt = Date.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = await server.request<SinkStats>({ task: 'sinkStats' }, 5_000);
    if (now.bytes !== last.bytes) changedAt = Date.now();
    if (now.closed || Date.now() - changedAt >= 1_000 || Date.now() > deadline) return now;
    last = now;
  }
}

const timeoutMs = (seconds: number): number => (seconds + 60) * 1000;

/** One round on one path; a failure is recorded in `runs.error` and ends that path's rounds. */
export async function measureRound(runs: PathRuns, client: Helper, server: Helper, work: Workload, round: string): Promise<void> {
  if (runs.error !== undefined) return;
  const { path } = runs;
  const name = `(${runs.key}) ${runs.label}${round}`;
  try {
    // A path that does not carry a few round trips is reported as broken, not measured.
    await client.request<PingPongResult>({ task: 'pingpong', port: path.entryPort, warmup: 0, count: 20, size: 64 }, 15_000);
    if (!runs.connOnly) {
      say(`${name}: one stream into the sink, ${work.bulkSeconds} s`);
      await server.request({ task: 'sinkReset' }, 5_000);
      const bulk = await withCpu(path, async () => {
        await client.request<BulkResult>({ task: 'bulk', port: path.entryPort, seconds: work.bulkSeconds, chunkBytes: 64 * 1024 }, timeoutMs(work.bulkSeconds));
        return sinkSettled(server);
      });
      runs.bulk.push({ bytes: bulk.result.bytes, seconds: (bulk.result.lastMs - bulk.result.firstMs) / 1000, cpu: bulk.cpu });

      say(`${name}: ping-pong, ${work.warmup} + ${work.pings} round trips`);
      const pings = await withCpu(path, () =>
        client.request<PingPongResult>({ task: 'pingpong', port: path.entryPort, warmup: work.warmup, count: work.pings, size: 64 }, timeoutMs(work.pings / 1000)),
      );
      runs.pings.push({ samplesUs: pings.result.samplesUs, roundTrips: work.warmup + work.pings, cpu: pings.cpu });
    }
    say(`${name}: new connections, ${work.connSeconds} s, ${work.concurrency} at a time`);
    const conns = await withCpu(path, () =>
      client.request<ConnectionsResult>({ task: 'connections', port: path.entryPort, seconds: work.connSeconds, concurrency: work.concurrency, size: 64 }, timeoutMs(work.connSeconds)),
    );
    runs.conns.push({ ...conns.result, cpu: conns.cpu });
  } catch (err) {
    runs.error = err instanceof Error ? err.message : String(err);
    say(`${name}: ${runs.error}`);
  }
}

/** Per-proxy totals of `cpu`, divided by `amount` and scaled. */
function cpuPer(runs: Array<{ cpu: number[] }>, amount: number, scale: number): number[] | undefined {
  if (runs.length === 0 || amount <= 0 || runs[0]!.cpu.length === 0) return undefined;
  return runs[0]!.cpu.map((_, i) => (runs.reduce((sum, r) => sum + (r.cpu[i] ?? 0), 0) * scale) / amount);
}

export function summarize(runs: PathRuns): PathFigures {
  const rates = runs.bulk.filter((b) => b.seconds > 0).map((b) => b.bytes / b.seconds / 2 ** 20);
  const samples = runs.pings.flatMap((p) => p.samplesUs).sort((a, b) => a - b);
  const connRates = runs.conns.map((c) => c.completed / c.seconds);
  const failed = runs.conns.reduce((sum, c) => sum + c.failed, 0);
  const roundP50 = runs.pings.map((p) => percentile([...p.samplesUs].sort((a, b) => a - b), 0.5) ?? Number.NaN);
  return {
    key: runs.key,
    label: runs.label,
    proxies: runs.path.proxies.length,
    perRound: { bulkMiBs: runs.bulk.map((b) => (b.seconds > 0 ? b.bytes / b.seconds / 2 ** 20 : Number.NaN)), p50Us: roundP50, connPerS: connRates },
    connOnly: runs.connOnly,
    bulkMiBs: median(rates),
    bulkRange: rates.length > 1 ? [Math.min(...rates), Math.max(...rates)] : undefined,
    p50Us: percentile(samples, 0.5),
    p99Us: percentile(samples, 0.99),
    p50Range: roundP50.length > 1 ? minMax(roundP50) : undefined,
    connPerS: median(connRates),
    connRange: connRates.length > 1 ? [Math.min(...connRates), Math.max(...connRates)] : undefined,
    connFailed: failed,
    connFirstError: runs.conns.find((c) => c.firstError !== undefined)?.firstError,
    bulkCpuPerGiB: cpuPer(runs.bulk, runs.bulk.reduce((sum, b) => sum + b.bytes, 0) / 2 ** 30, 1),
    pingCpuUs: cpuPer(runs.pings, runs.pings.reduce((sum, p) => sum + p.roundTrips, 0), 1e6),
    connCpuMs: cpuPer(runs.conns, runs.conns.reduce((sum, c) => sum + c.completed, 0), 1e3),
    error: runs.error,
  };
}

function minMax(values: number[]): [number, number] {
  return [Math.min(...values), Math.max(...values)];
}
