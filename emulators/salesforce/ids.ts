/**
 * Salesforce record ids: 3-char key prefix + 12 chars (15 total, case-sensitive), optionally followed by a
 * 3-char checksum that encodes which of the 15 chars are upper case (18-char case-safe form).
 * Both forms are accepted on input; the emulator always emits the 18-char form, as the REST API does.
 */
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_CHARS = /^[a-zA-Z0-9]+$/;

/** The 3-char case-safe checksum for a 15-char id. */
export function checksum(id15: string): string {
  let out = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charCodeAt(chunk * 5 + i);
      if (c >= 65 && c <= 90) bits |= 1 << i;
    }
    out += SUFFIX_ALPHABET[bits];
  }
  return out;
}

export function to18(id15: string): string {
  return id15 + checksum(id15);
}

/**
 * Normalises a 15- or 18-char id to 18 chars; null when malformed (wrong length, bad chars, bad checksum).
 * The checksum of an 18-char id is compared case-insensitively, as Salesforce does.
 */
export function normalizeId(raw: string): string | null {
  if (!ID_CHARS.test(raw)) return null;
  if (raw.length === 15) return to18(raw);
  if (raw.length !== 18) return null;
  const id15 = raw.slice(0, 15);
  if (checksum(id15) !== raw.slice(15).toUpperCase()) return null;
  return to18(id15);
}

/** Builds a fresh 18-char id for an object key prefix from a monotonically increasing counter. */
export function makeId(prefix: string, counter: number): string {
  let n = counter;
  let body = '';
  while (n > 0) {
    body = BASE62[n % 62] + body;
    n = Math.floor(n / 62);
  }
  // "Hp0" stands in for the pod/reserved characters of a real id; the rest is the counter in base 62.
  return to18(prefix + 'Hp0' + body.padStart(9, '0'));
}
