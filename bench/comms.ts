import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeOpensslPki, opensslAvailable } from '../test/support/openssl-pki';
import { installed, killNow } from '../test/support/service-process';
import { DEBIAN_PACKAGES } from '../test/support/stock-ingress';
import { Helper } from './comms/ipc';
import { measureRound, summarize, type PathRuns, type Workload } from './comms/measurements';
import { COMMS_MAIN, HAPROXY_TLS13_CIPHERS, INGRESS_MAIN, commsAvailable, commsIngressPath, directPath, haproxyPath, stunnelPath, type PathContext, type PathKey, type RunningPath } from './comms/paths';
import { formatReport, type PathFigures } from './comms/report';
import { say } from './comms/progress';

/**
 * `npm run bench:comms`: one stream's throughput, 64-byte ping-pong round trips and new
 * connections per second, from a client to an echo/sink server on 127.0.0.1, through
 * (a) nothing, (b) pf9-comms + the ingress, (c) a HAProxy pair, (d) an stunnel pair, in
 * one run; then (b) against (c) with PERFORMANCE.md's goals. See bench/README.md.
 */

interface Options extends Workload {
  rounds: number;
  commsMain: string;
  ingressMain: string;
  haproxyThreads: number;
  paths: PathKey[];
  fullHandshakes: boolean;
  cpuProf: boolean;
  nodeFlags: string[];
  keep: boolean;
}

const USAGE = `usage: npm run bench:comms -- [options]
  --quick               one round, shorter windows (about 30 s instead of about 2 min)
  --rounds N            rounds over all paths, interleaved (default 3)
  --paths a,b,c,d       which paths (a direct, b comms + ingress, c HAProxy pair, d stunnel pair)
  --bulk-seconds N      one stream into the sink for N seconds, per round (default 3)
  --pings N             64-byte round trips measured per round, after a warm-up (default 7000)
  --conn-seconds N      new connections for N seconds, per round (default 3)
  --concurrency N       connections at once (default 8)
  --haproxy-threads N   nbthread of each HAProxy (default 1: comms and ingress are one thread each)
  --no-full-handshakes  skip the extra rows with TLS session reuse turned off
  --cpu-prof            run comms and ingress with --cpu-prof (implies --keep; profiles in <dir>/profiles)
  --node-flag FLAG      an extra node or V8 flag for comms and the ingress (repeatable; to try one)
  --keep                keep the work directory (certificates, configurations, logs)
  --comms-main FILE     path (b)'s comms entry point (default dist/services/comms/main.js)
  --ingress-main FILE   path (b)'s ingress entry point (default dist/services/ingress/main.js)
`;

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const options: Options = {
    rounds: quick ? 1 : 3,
    commsMain: COMMS_MAIN,
    ingressMain: INGRESS_MAIN,
    bulkSeconds: quick ? 2 : 3,
    pings: quick ? 5_000 : 7_000,
    warmup: 1_000,
    connSeconds: quick ? 2 : 3,
    concurrency: 8,
    haproxyThreads: 1,
    paths: ['a', 'b', 'c', 'd'],
    fullHandshakes: true,
    cpuProf: false,
    nodeFlags: [],
    keep: false,
  };
  const number = (flag: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n) || n < min) throw new Error(`${flag} needs a number >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    switch (flag) {
      case '--quick':
        break;
      case '--rounds':
        options.rounds = Math.floor(number(flag, argv[++i], 1));
        break;
      case '--bulk-seconds':
        options.bulkSeconds = number(flag, argv[++i], 0.5);
        break;
      case '--pings':
        options.pings = Math.floor(number(flag, argv[++i], 100));
        options.warmup = Math.min(options.warmup, Math.ceil(options.pings / 5));
        break;
      case '--conn-seconds':
        options.connSeconds = number(flag, argv[++i], 0.5);
        break;
      case '--concurrency':
        options.concurrency = Math.floor(number(flag, argv[++i], 1));
        break;
      case '--haproxy-threads':
        options.haproxyThreads = Math.floor(number(flag, argv[++i], 1));
        break;
      case '--paths': {
        const keys = (argv[++i] ?? '').split(',').map((k) => k.trim());
        if (keys.some((k) => !['a', 'b', 'c', 'd'].includes(k))) throw new Error('--paths takes a comma-separated list of a, b, c, d');
        options.paths = keys as PathKey[];
        break;
      }
      case '--comms-main':
        options.commsMain = resolve(argv[++i] ?? '');
        break;
      case '--ingress-main':
        options.ingressMain = resolve(argv[++i] ?? '');
        break;
      case '--no-full-handshakes':
        options.fullHandshakes = false;
        break;
      case '--cpu-prof':
        options.cpuProf = true;
        options.keep = true;
        break;
      case '--node-flag':
        options.nodeFlags.push(argv[++i] ?? '');
        break;
      case '--keep':
        options.keep = true;
        break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  return options;
}

interface PlannedPath {
  key: PathKey;
  label: string;
  connOnly: boolean;
  start: () => Promise<RunningPath> | RunningPath;
  /** Why it cannot run at all (comms not built yet). */
  absent?: string;
}

function plan(options: Options, ctx: PathContext): PlannedPath[] {
  const planned: PlannedPath[] = [];
  for (const key of options.paths) {
    if (key === 'a') planned.push({ key, label: 'direct TCP', connOnly: false, start: () => directPath(ctx) });
    if (key === 'b') planned.push({ key, label: 'comms + ingress', connOnly: false, start: () => commsIngressPath(ctx), absent: commsAvailable(ctx) });
    if (key === 'c') planned.push({ key, label: 'HAProxy pair', connOnly: false, start: () => haproxyPath(ctx, { resume: true }) });
    if (key === 'd') planned.push({ key, label: 'stunnel pair', connOnly: false, start: () => stunnelPath(ctx, { resume: true }) });
  }
  // comms and the ingress with the TLS the HAProxy pair negotiates: X25519 (its OpenSSL 3.0
  // has no post-quantum hybrid) and TLS_AES_256_GCM_SHA384 (OpenSSL's first choice), where
  // comms and the ingress default to the hybrid and TLS_AES_128_GCM_SHA256.
  if (options.paths.includes('b') && options.paths.includes('c')) {
    planned.push({ key: 'b', label: 'comms + ingress, TLS as (c)', connOnly: true, start: () => commsIngressPath(ctx, { tlsGroups: 'X25519', tlsCiphers: HAPROXY_TLS13_CIPHERS }), absent: commsAvailable(ctx) });
  }
  // The same pairs with TLS session reuse off: what a full handshake per connection costs.
  if (options.fullHandshakes && options.paths.includes('c')) planned.push({ key: 'c', label: 'HAProxy pair, no session reuse', connOnly: true, start: () => haproxyPath(ctx, { resume: false }) });
  if (options.fullHandshakes && options.paths.includes('d')) planned.push({ key: 'd', label: 'stunnel pair, no session reuse', connOnly: true, start: () => stunnelPath(ctx, { resume: false }) });
  return planned;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const started = Date.now();
  const missing = [
    ['openssl', opensslAvailable()],
    ['haproxy', installed('haproxy')],
    ['stunnel', installed('stunnel', ['-version'])],
  ].filter(([, version]) => version === undefined);
  if (missing.length > 0) {
    say(`missing: ${missing.map(([name]) => name).join(', ')} (Debian: apt-get install -y ${DEBIAN_PACKAGES})`);
    return 1;
  }

  const dir = await mkdtemp(join(tmpdir(), 'hostplane-bench-comms-'));
  const stops: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  // Every caller (the end of the run, a signal, the overall deadline) waits for the same stop.
  const stopEverything = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      if (options.keep) say(`work directory kept: ${dir}`);
      else await rm(dir, { recursive: true, force: true });
    })());
  let abortedBy: string | undefined;
  // Ctrl-C, a kill, or the run overstaying its welcome: everything started is stopped.
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => {
      abortedBy = signal;
      say(`${signal}: stopping everything`);
      void stopEverything().then(() => process.exit(code));
    });
  }
  // Whatever else happens (an exception nobody caught), no proxy outlives this process.
  const live: PathRuns[] = [];
  process.once('exit', () => live.forEach((runs) => runs.path.proxies.forEach(killNow)));
  // A safety net, not a schedule: three times what the measurements should take (six
  // paths, each step's window plus its set-up and drain), and at least five minutes.
  const expectedS = options.rounds * 6 * (options.bulkSeconds + options.connSeconds + (options.pings + options.warmup) / 2_000 + 5);
  const limitS = Math.max(300, 3 * expectedS);
  const overall = setTimeout(() => {
    say(`the run took more than ${limitS.toFixed(0)} s: stopping`);
    void stopEverything().then(() => process.exit(1));
  }, limitS * 1000);

  try {
    say(`work directory ${dir}`);
    const pki = makeOpensslPki(dir);
    const here = __dirname;
    const server = Helper.fork('echo/sink server', join(here, 'comms/echo-sink.js'));
    stops.push(() => server.stop());
    const client = Helper.fork('load client', join(here, 'comms/load-client.js'));
    stops.push(() => client.stop());
    const serverPort = (await server.ready) as number;
    await client.ready;

    const ctx: PathContext = {
      dir,
      pki,
      serverPort,
      haproxyThreads: options.haproxyThreads,
      nodeOptions: [...(options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'profiles')}`] : []), ...options.nodeFlags],
      commsMain: options.commsMain,
      ingressMain: options.ingressMain,
    };
    // Every path is started before the first measurement and idles while another is
    // measured (none of them does anything when idle); rounds rotate the order, so that a
    // disturbance from outside (another process on these 2 cores) does not fall on one path.
    const results: PathFigures[] = [];
    for (const planned of plan(options, ctx)) {
      if (planned.absent !== undefined) {
        say(`(${planned.key}) ${planned.label}: ${planned.absent}`);
        results.push({ key: planned.key, label: planned.label, proxies: 2, error: `missing: ${planned.absent}` });
        continue;
      }
      try {
        const path = await planned.start();
        stops.push(() => path.stop());
        live.push({ key: planned.key, label: planned.label, path, connOnly: planned.connOnly, bulk: [], pings: [], conns: [] });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        say(`(${planned.key}) ${planned.label}: cannot start: ${message.split('\n').slice(0, 8).join('\n')}`);
        results.push({ key: planned.key, label: planned.label, proxies: 2, connOnly: planned.connOnly, error: `cannot start: ${message.split('\n')[0]}` });
      }
    }
    for (let round = 0; round < options.rounds && abortedBy === undefined; round += 1) {
      const order = [...live.slice(round % live.length), ...live.slice(0, round % live.length)];
      for (const runs of order) await measureRound(runs, client, server, options, options.rounds > 1 ? ` [round ${round + 1}/${options.rounds}]` : '');
    }
    for (const runs of live) await runs.path.stop();
    results.push(...live.map(summarize));
    const position = (r: PathFigures): number => (r.connOnly ? 10 : 0) + 'abcd'.indexOf(r.key);
    results.sort((x, y) => position(x) - position(y));

    if (abortedBy !== undefined) return 1;
    process.stdout.write(
      formatReport(results, {
        cores: cpus().length,
        node: process.version,
        openssl: process.versions.openssl,
        haproxy: installed('haproxy') ?? '?',
        stunnel: installed('stunnel', ['-version']) ?? '?',
        rounds: options.rounds,
        bulkSeconds: options.bulkSeconds,
        pings: options.pings,
        warmup: options.warmup,
        connSeconds: options.connSeconds,
        concurrency: options.concurrency,
        haproxyThreads: options.haproxyThreads,
        elapsedS: (Date.now() - started) / 1000,
      }),
    );
    return results.some((r) => r.error !== undefined && r.key !== 'b') ? 1 : 0;
  } finally {
    clearTimeout(overall);
    await stopEverything();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
