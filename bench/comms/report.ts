import { median } from './statistics';
import type { PathKey } from './paths';

/** What one path measured; a figure is absent when it was not measured or the path failed. */
export interface PathFigures {
  key: PathKey;
  label: string;
  proxies: number;
  /** Only the connection rate was measured (the rows without TLS session reuse). */
  connOnly?: boolean;
  /** Median of the rounds, and the lowest and highest round. */
  bulkMiBs?: number;
  bulkRange?: [number, number];
  /** Over every round trip of every round; the range is that of the rounds' own p50. */
  p50Us?: number;
  p50Range?: [number, number];
  p99Us?: number;
  connPerS?: number;
  connRange?: [number, number];
  connFailed?: number;
  connFirstError?: string;
  /** CPU of each proxy, host side first: seconds per GiB carried, µs per round trip, ms per connection. */
  bulkCpuPerGiB?: number[];
  pingCpuUs?: number[];
  connCpuMs?: number[];
  /** The same figures round by round (index = round), for ratios between paths measured side by side. */
  perRound?: { bulkMiBs: number[]; p50Us: number[]; connPerS: number[] };
  error?: string;
}

export interface RunFacts {
  rounds: number;
  cores: number;
  node: string;
  openssl: string;
  haproxy: string;
  stunnel: string;
  bulkSeconds: number;
  pings: number;
  warmup: number;
  connSeconds: number;
  concurrency: number;
  haproxyThreads: number;
  elapsedS: number;
}

/** PERFORMANCE.md: comms + ingress against the HAProxy pair, in the same run. */
const GOALS = [
  { what: 'bulk throughput, one stream', figure: 'bulkMiBs', goal: 1.0, higherIsBetter: true },
  { what: '64 B ping-pong round trip p50', figure: 'p50Us', goal: 1.1, higherIsBetter: false },
  { what: 'new TLS connections per second', figure: 'connPerS', goal: 1.0, higherIsBetter: true },
] as const satisfies ReadonlyArray<{ what: string; figure: keyof NonNullable<PathFigures['perRound']>; goal: number; higherIsBetter: boolean }>;

const pad = (text: string, width: number): string => text.padEnd(width);
const right = (text: string, width: number): string => text.padStart(width);
const fixed = (value: number | undefined, digits: number): string => (value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits));
const withRange = (value: number | undefined, range: [number, number] | undefined, digits: number): string =>
  `${fixed(value, digits)}${range === undefined ? '' : ` (${range[0].toFixed(digits)}–${range[1].toFixed(digits)})`}`;
const split = (values: number[] | undefined, digits: number): string => (values === undefined || values.length === 0 ? '–' : values.map((v) => v.toFixed(digits)).join(' + '));

export function formatReport(results: PathFigures[], facts: RunFacts): string {
  const lines: string[] = [];
  const name = (r: PathFigures): string => `(${r.key}) ${r.label}`;
  lines.push('');
  lines.push(`comms bench: ${facts.cores} cores, Node ${facts.node} (OpenSSL ${facts.openssl}), ${facts.haproxy.replace(/ - https.*$/, '')} (nbthread ${facts.haproxyThreads}), ${facts.stunnel.replace(/ on .*$/, '')}; everything on 127.0.0.1`);
  lines.push(
    `${facts.rounds} round(s), paths interleaved. Per round: one stream for ${facts.bulkSeconds} s into a sink (MiB/s counted at the sink); ` +
      `${facts.pings} round trips of 64 B after ${facts.warmup}; new connections for ${facts.connSeconds} s, ${facts.concurrency} at a time, ` +
      'each connect + one 64 B round trip + close.',
  );
  lines.push(facts.rounds > 1 ? 'MiB/s and conn/s: median of the rounds (lowest–highest); p50/p99: over all round trips (lowest–highest round p50).' : '');
  const w = 36;
  lines.push(`${pad('path', w)}${right('bulk MiB/s', 24)}${right('p50 µs', 22)}${right('p99 µs', 10)}${right('conn/s', 22)}`);
  for (const r of results) {
    if (r.error !== undefined && r.bulkMiBs === undefined && r.connPerS === undefined) {
      lines.push(`${pad(name(r), w)}  ${r.error}`);
      continue;
    }
    const failed = r.connFailed ? `  (${r.connFailed} connections failed: ${r.connFirstError ?? '?'})` : '';
    const error = r.error !== undefined ? `  error: ${r.error}` : '';
    lines.push(
      `${pad(name(r), w)}${right(withRange(r.bulkMiBs, r.bulkRange, 1), 24)}${right(withRange(r.p50Us, r.p50Range, 1), 22)}${right(fixed(r.p99Us, 1), 10)}${right(withRange(r.connPerS, r.connRange, 0), 22)}${failed}${error}`,
    );
  }

  const withCpu = results.filter((r) => r.proxies > 0 && (r.bulkCpuPerGiB ?? r.connCpuMs) !== undefined);
  if (withCpu.length > 0) {
    lines.push('');
    lines.push('CPU of the two proxies, host side + plane side (user + system)');
    lines.push(`${pad('path', w)}${right('s per GiB', 16)}${right('µs per round trip', 20)}${right('ms per connection', 20)}`);
    for (const r of withCpu) {
      lines.push(`${pad(name(r), w)}${right(split(r.bulkCpuPerGiB, 2), 16)}${right(split(r.pingCpuUs, 1), 20)}${right(split(r.connCpuMs, 2), 20)}`);
    }
  }

  lines.push('');
  const comms = results.find((r) => r.key === 'b' && !r.connOnly);
  const haproxy = results.find((r) => r.key === 'c' && !r.connOnly);
  lines.push(
    facts.rounds > 1
      ? "(b) comms + ingress against (c) the HAProxy pair, with PERFORMANCE.md's goals: the median of each round's ratio\n(each round measures every path once, so (b) and (c) are at most a minute apart; each round's ratio in brackets):"
      : "(b) comms + ingress against (c) the HAProxy pair, with PERFORMANCE.md's goals:",
  );
  for (const goal of GOALS) {
    const b = comms?.perRound?.[goal.figure] ?? [];
    const c = haproxy?.perRound?.[goal.figure] ?? [];
    const ratios = b.map((value, i) => value / (c[i] ?? Number.NaN)).filter((r) => Number.isFinite(r));
    const ratio = median(ratios);
    if (ratio === undefined) {
      lines.push(`  ${pad(goal.what, 34)}  not measured${comms?.error ? ` ((b): ${comms.error})` : haproxy?.error ? ` ((c): ${haproxy.error})` : ''}`);
      continue;
    }
    const met = goal.higherIsBetter ? ratio >= goal.goal : ratio <= goal.goal;
    const gap = goal.higherIsBetter ? `${((1 - ratio / goal.goal) * 100).toFixed(1)}% short` : `${((ratio / goal.goal - 1) * 100).toFixed(1)}% over`;
    const each = ratios.length > 1 ? `  [${ratios.map((r) => r.toFixed(2)).join(', ')}]` : '';
    lines.push(`  ${pad(goal.what, 34)}${right(ratio.toFixed(2), 6)}×   goal ${goal.higherIsBetter ? '≥' : '≤'} ${goal.goal.toFixed(1)}×   ${pad(met ? 'met' : `NOT MET (${gap})`, 22)}${each}`);
  }
  // The same TLS on both sides: comms and the ingress default to the post-quantum hybrid and AES-128.
  const likeForLike = results.find((r) => r.key === 'b' && r.connOnly);
  const likeForLikeRatios = (likeForLike?.perRound?.connPerS ?? []).map((value, i) => value / (haproxy?.perRound?.connPerS[i] ?? Number.NaN)).filter((r) => Number.isFinite(r));
  const likeForLikeRatio = median(likeForLikeRatios);
  if (likeForLikeRatio !== undefined) {
    lines.push(`  ${pad('  the same, with (c)\'s TLS', 34)}${right(likeForLikeRatio.toFixed(2), 6)}×${likeForLikeRatios.length > 1 ? `${' '.repeat(47)}[${likeForLikeRatios.map((r) => r.toFixed(2)).join(', ')}]` : ''}`);
  }
  // CPU per unit of work is less disturbed by other load on the machine than the rates are.
  const cpuRatio = (pick: (r: PathFigures) => number[] | undefined): string => {
    const b = pick(comms ?? ({} as PathFigures));
    const c = pick(haproxy ?? ({} as PathFigures));
    if (b === undefined || c === undefined) return '–';
    const sum = (values: number[]): number => values.reduce((x, y) => x + y, 0);
    return `${(sum(b) / sum(c)).toFixed(2)}×`;
  };
  lines.push(
    `  for reference, CPU of both proxies per unit of work, (b) ÷ (c): per GiB ${cpuRatio((r) => r.bulkCpuPerGiB)}, ` +
      `per round trip ${cpuRatio((r) => r.pingCpuUs)}, per connection ${cpuRatio((r) => r.connCpuMs)}`,
  );
  lines.push('');
  lines.push(`whole run: ${facts.elapsedS.toFixed(0)} s`);
  lines.push('');
  return lines.join('\n');
}
