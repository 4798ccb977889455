import { performance } from 'node:perf_hooks';

/** A progress line on stderr (stdout is the report), with the seconds since the start. */
export function say(line: string): void {
  process.stderr.write(`bench ${(performance.now() / 1000).toFixed(1).padStart(6)} s: ${line}\n`);
}
