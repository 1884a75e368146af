/**
 * Salesforce record Ids carried by the model (Update by Id): checked before sending, so a malformed Id
 * or one of another object is a row error of its own rather than a refused request.
 *
 * An Id is 15 case-sensitive characters, the first 3 naming the object (its describe `keyPrefix`), or
 * 18: the same 15 plus a 3-character checksum. Each checksum character encodes, for 5 of the first 15
 * characters, which are upper case (bit i set for an upper-case i-th character), as an index into
 * A–Z then 0–5. Salesforce compares the checksum case-insensitively.
 */
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

export function idChecksum(id15: string): string {
  let out = '';
  for (let part = 0; part < 3; part++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charCodeAt(part * 5 + i);
      if (c >= 65 && c <= 90) bits |= 1 << i;
    }
    out += SUFFIX_ALPHABET[bits];
  }
  return out;
}

export type IdProblem = { code: 'MALFORMED_ID'; message: string };

/** Null when `raw` is a well-formed Id of the object with `keyPrefix` (not checked when unknown). */
export function idProblem(raw: string, object: string, keyPrefix: string | null): IdProblem | null {
  const bad = (why: string): IdProblem => ({
    code: 'MALFORMED_ID',
    message: `"${raw}" is not a ${object} Id: ${why}; nothing was sent for this row`,
  });
  if (!/^[a-zA-Z0-9]+$/.test(raw) || (raw.length !== 15 && raw.length !== 18)) return bad('an Id is 15 or 18 letters and digits');
  if (raw.length === 18 && idChecksum(raw.slice(0, 15)) !== raw.slice(15).toUpperCase()) {
    return bad(
      `its last 3 characters are not the checksum of the first 15 (expected ${idChecksum(raw.slice(0, 15))}); was its case changed?`,
    );
  }
  if (keyPrefix && raw.slice(0, 3) !== keyPrefix)
    return bad(`${object} Ids start with "${keyPrefix}", this one with "${raw.slice(0, 3)}" (an Id of another object)`);
  return null;
}
