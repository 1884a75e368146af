/**
 * A number as plain decimal digits, never exponent form: the digits of `String(n)` (the shortest text
 * that reads back as `n`) with the point moved, so `1.5e-7` is `0.00000015` and `1e+21` is
 * `1000000000000000000000`. Values without an exponent keep `String(n)`'s text.
 */
export function plainNumber(n: number): string {
  const s = String(n);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const sign = s.charCodeAt(0) === 45 /* - */ ? '-' : '';
  const mantissa = s.slice(sign.length, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  // Where the point falls within `digits` once the exponent is applied.
  const point = (dot < 0 ? mantissa.length : dot) + exp;
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}
