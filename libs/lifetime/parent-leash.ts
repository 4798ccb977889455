import { fstatSync } from 'node:fs';

/**
 * Set to 1 by whoever starts a service with a pipe on its standard input (the all-in-one for
 * its children, the host agent for pf9-comms): the service then stops when that pipe ends.
 */
export const STOP_WITH_PARENT_VARIABLE = 'PF9_STOP_WITH_PARENT';

/** How long a service whose parent is gone gets to stop by itself before it exits anyway. */
const STOP_DEADLINE_MS = 20_000;

/** PF9_STOP_WITH_PARENT as a config reads it: 1 on; unset, empty or 0 off; anything else a problem. */
export function readStopWithParent(text: string | undefined): { ok: true; value: boolean } | { ok: false; problem: string } {
  const value = text?.trim() ?? '';
  if (value === '' || value === '0') return { ok: true, value: false };
  if (value === '1') return { ok: true, value: true };
  return { ok: false, problem: `'${value}' is not 1 or 0` };
}

/**
 * What PR_SET_PDEATHSIG gives a C program, for a service in Node: standard input is a pipe
 * from the process that started this one, which never writes to it. When that process is
 * gone, however it went (SIGKILL included), the kernel closes its end; this process then
 * stops as on SIGTERM (its own handlers run), and exits after STOP_DEADLINE_MS if they do
 * not finish. So nothing outlives its parent, not even in a session of its own.
 */
export function stopWithParent(announce: (message: string) => void): void {
  const input = fstatSync(0);
  if (!input.isFIFO() && !input.isSocket()) {
    throw new Error(`${STOP_WITH_PARENT_VARIABLE}=1 needs standard input to be a pipe from the process that started this one`);
  }
  let gone = false;
  const stop = (): void => {
    if (gone) return;
    gone = true;
    announce('the process that started this one is gone (its pipe on standard input ended): stopping');
    setTimeout(() => process.exit(1), STOP_DEADLINE_MS).unref();
    process.kill(process.pid, 'SIGTERM');
  };
  process.stdin.on('data', () => undefined);
  process.stdin.once('end', stop);
  process.stdin.once('close', stop);
  process.stdin.once('error', stop);
  // The watch must not keep the process alive once everything else has stopped.
  process.stdin.unref();
}
