/**
 * Text someone else chose (a model's keys, a destination's messages, a signal's name or reason), made safe to
 * print on an operator's terminal or in a log read in one: it cannot recolour, clear or retitle the terminal,
 * move its cursor, reorder what follows or break a line of a table.
 */

/**
 * What a terminal acts on: the C0 controls (ESC, BEL, CR, LF, TAB...), DEL, the C1 controls (U+009B starts an
 * escape sequence as ESC [ does), the Arabic letter mark, the left-to-right and right-to-left marks, the line
 * and paragraph separators and the bidirectional embeddings, overrides and isolates.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const SHORT: Record<string, string> = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };

/**
 * `text` with each character a terminal acts on written as JSON writes it (`\n`, `\t`, `\u001b`, and `\u009b`,
 * `\u202e`... for those JSON leaves as they are); the rest, a backslash too, unchanged. What is printed is only
 * printable characters, one of them per character of the result: a table cell's width is its length.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * `text` in double quotes, as JSON writes it (`\"`, `\\`, `\n`, `\u001b`...), with the characters JSON leaves as
 * they are but a terminal acts on escaped too (terminalSafe). For a name (a signal's) whose quotes show where it
 * begins and ends.
 */
export function quotedForTerminal(text: string): string {
  return terminalSafe(JSON.stringify(text));
}
