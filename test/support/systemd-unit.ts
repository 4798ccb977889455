import { readFileSync } from 'node:fs';

/** What a test needs of a systemd service unit to run it as systemd would. */
export interface ServiceUnit {
  user?: string;
  group?: string;
  environment: Record<string, string>;
  execStart: string[];
  runtimeDirectory?: string;
  runtimeDirectoryMode?: number;
}

/** Reads the [Service] section of a unit file: User=, Group=, Environment= (quoted or not), ExecStart=, RuntimeDirectory*=. */
export function readServiceUnit(file: string): ServiceUnit {
  const unit: ServiceUnit = { environment: {}, execStart: [] };
  let section = '';
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'User') unit.user = value;
    else if (key === 'Group') unit.group = value;
    else if (key === 'ExecStart') unit.execStart = words(value);
    else if (key === 'RuntimeDirectory') unit.runtimeDirectory = value;
    else if (key === 'RuntimeDirectoryMode') unit.runtimeDirectoryMode = parseInt(value, 8);
    else if (key === 'Environment') {
      for (const assignment of words(value)) {
        const at = assignment.indexOf('=');
        unit.environment[assignment.slice(0, at)] = assignment.slice(at + 1);
      }
    }
  }
  return unit;
}

/** Space-separated words, a double-quoted one kept whole (systemd's quoting, without escapes). */
function words(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}
