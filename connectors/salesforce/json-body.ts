/**
 * The text of a REST JSON request body. What `JSON.stringify` writes, except that an `ExactNumber` is
 * written as a number literal of its digits (`123456789012345678`): `JSON.stringify` can write a number
 * only from a double, and Node 20 has no `JSON.rawJSON`. Request bodies are plain data (objects, arrays,
 * strings, numbers, booleans, null); anything else is left to `JSON.stringify`.
 */
import { ExactNumber } from './decimal';

export function jsonBody(body: unknown): string {
  return write(body) ?? 'null';
}

/** A value's JSON text, or undefined where `JSON.stringify` leaves a property out. */
function write(v: unknown): string | undefined {
  if (v instanceof ExactNumber) return v.digits;
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) {
    let out = '';
    for (let i = 0; i < v.length; i++) out += (i === 0 ? '' : ',') + (write(v[i]) ?? 'null');
    return `[${out}]`;
  }
  // Dates and other objects that say how they are written.
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(v);
  let out = '';
  for (const key of Object.keys(v)) {
    const text = write((v as Record<string, unknown>)[key]);
    if (text === undefined) continue;
    out += `${out === '' ? '' : ','}${JSON.stringify(key)}:${text}`;
  }
  return `{${out}}`;
}
