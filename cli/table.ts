/** Formats rows as left-aligned columns under a header, two spaces apart (kubectl style). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [headers, ...rows].map((row) => headers.map((_, i) => oneLine(row[i] ?? '')));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

/** Formats "key: value" lines with the values aligned. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...fields.map(([key]) => key.length + 1));
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width)}  ${oneLine(value)}`.trimEnd()).join('\n') + '\n';
}

/** Shortens a cell to `max` characters on one line, marking the cut. */
export function truncate(text: string, max: number): string {
  const line = oneLine(text);
  return line.length <= max ? line : `${line.slice(0, Math.max(0, max - 1))}…`;
}

/**
 * Hook messages can span lines; a table cell cannot. (Other control characters are written
 * out visibly on their way to the terminal: terminal-text.ts.)
 */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n\t]+\s*/g, ' ');
}
