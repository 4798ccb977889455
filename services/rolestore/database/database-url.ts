/** Where the role store keeps its data, as DATABASE_URL says. */
export type DatabaseLocation = { kind: 'postgres'; url: string } | { kind: 'sqlite'; file: string };

/**
 * Reads DATABASE_URL: `postgres://…` or `postgresql://…` for PostgreSQL, `sqlite:<file>` for
 * SQLite. Anything else is refused with the reason, so that a typo (`postgress://…`) stops
 * the role store instead of quietly keeping the plane's state in a new SQLite file.
 */
export function parseDatabaseUrl(url: string): { ok: true; location: DatabaseLocation } | { ok: false; problem: string } {
  const text = url.trim();
  if (/^postgres(ql)?:\/\//i.test(text)) {
    try {
      new URL(text);
    } catch {
      return { ok: false, problem: 'is not a URL that can be read (a postgres://user:password@host:port/database URL)' };
    }
    return { ok: true, location: { kind: 'postgres', url: text } };
  }
  if (/^sqlite:/i.test(text)) {
    const file = text.slice('sqlite:'.length);
    // sqlite:///x means a relative file to some tools and an absolute one to others: say which.
    if (file.startsWith('//')) return { ok: false, problem: `'${text}' is ambiguous (relative or absolute?): write sqlite:<file>, e.g. sqlite:/var/lib/hostplane/rolestore.db` };
    if (file === '') return { ok: false, problem: "'sqlite:' names no file: write sqlite:<file>" };
    return { ok: true, location: { kind: 'sqlite', file } };
  }
  // The URL itself is not repeated: it may hold a password.
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1];
  return { ok: false, problem: `${scheme === undefined ? 'has no scheme' : `has the unknown scheme '${scheme}:'`}: use postgres://…, postgresql://… or sqlite:<file>` };
}
