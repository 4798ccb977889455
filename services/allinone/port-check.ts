import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** A local port the all-in-one is about to listen on, and the variable that chose it. */
export interface PlannedPort {
  variable: string;
  port: number;
}

/**
 * One line per planned port that something already listens on, naming the process when
 * /proc tells (a pf9-comms left by an earlier run looks healthy at its ports: adopting it
 * would run this host with another's identity, so nothing is started instead).
 */
export async function portsInUse(planned: readonly PlannedPort[], host = '127.0.0.1'): Promise<string[]> {
  const problems: string[] = [];
  for (const { variable, port } of planned) {
    if (await canListen(host, port)) continue;
    const holder = listenerOf(port);
    problems.push(`${host}:${port} (${variable}) is in use by ${holder === null ? 'another process' : `pid ${holder.pid} (${holder.cmdline})`}`);
  }
  return problems;
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The process with a socket listening on `port` (any address), from /proc; null when it cannot be seen. */
function listenerOf(port: number): { pid: number; cmdline: string } | null {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is ADDRESS:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
      if (fields.length > 9 && fields[3] === '0A' && parseInt(fields[1]!.split(':')[1] ?? '', 16) === port) inodes.add(fields[9]!);
    }
  }
  if (inodes.size === 0) return null;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // another user's, or gone
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) {
        let cmdline = '';
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
        } catch {
          // gone meanwhile
        }
        return { pid: Number(pid), cmdline: cmdline.length > 200 ? `${cmdline.slice(0, 199)}…` : cmdline };
      }
    }
  }
  return null;
}
