import { readFileSync } from 'node:fs';

/** A host's own broker user (PkiFiles.host.broker, written at registration). */
export interface HostBrokerUser {
  username: string;
  password: string;
}

/** The host's own broker user from its file; null when there is none (the broker URL's credentials apply). */
export function readHostBrokerUser(file: string): HostBrokerUser | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let parsed: { username?: unknown; password?: unknown } | null = null;
  try {
    parsed = JSON.parse(text) as { username?: unknown; password?: unknown } | null;
  } catch {
    // reported below, without the file's contents (a password)
  }
  if (typeof parsed?.username !== 'string' || typeof parsed.password !== 'string') throw new Error(`${file} does not hold a broker username and password`);
  return { username: parsed.username, password: parsed.password };
}

/** `url` with the user's credentials in place of its own. */
export function withBrokerUser(url: string, user: HostBrokerUser | null): string {
  if (!user) return url;
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user.username);
  parsed.password = encodeURIComponent(user.password);
  return parsed.toString();
}
