/**
 * Characters that make a terminal do something rather than show something: C0 controls
 * (ESC starts the sequences that move the cursor, clear the screen, set the window title or
 * the clipboard), DEL, C1 controls (U+009B is a one-character CSI), and the bidirectional
 * overrides and isolates that show text in another order than it is. What a host reports
 * (hostname, inventory, role messages and logs) is the host's to choose, so none of it
 * reaches the operator's terminal as it is.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped here
const TERMINAL_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/** The same, in JSON text: JSON.stringify escapes C0 already, not DEL, C1 or the bidirectional ones. */
const JSON_UNESCAPED_CONTROLS = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** The text with every terminal control but newline and tab written out visibly (`\x1b`, `\u202e`). */
export function printable(text: string): string {
  return text.replace(TERMINAL_CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** JSON of `value` (indented) with the controls JSON leaves as they are escaped too: the same JSON value, safe on a terminal. */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(JSON_UNESCAPED_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Where text goes (command.ts's TextSink, which is this shape). */
interface Sink {
  write(chunk: string): unknown;
}

/** A sink that writes everything through printable(). */
export function printableSink(sink: Sink): Sink {
  return { write: (chunk: string) => sink.write(printable(chunk)) };
}
