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

const DECIMAL = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,9}))?\s*$/;

/**
 * One spelling per decimal value, to tell whether two texts (or a text and a number) are the same number:
 * `1.50`, `+1.5`, `15e-1` and `1.5` give the same key; `0x10`, blanks and `NaN` give null. Exact: the
 * digits are compared as text, never through a double.
 */
export function decimalKey(v: string | number): string | null {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? plainNumber(v) : '') : v;
  const m = DECIMAL.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  const int = m[2]!;
  let digits = int + (m[3] ?? '');
  // value = 0.<digits> × 10^exp
  let exp = int.length + Number(m[4] ?? 0);
  const first = digits.search(/[1-9]/);
  if (first < 0) return '0';
  digits = digits.slice(first).replace(/0+$/, '');
  exp -= first;
  return `${m[1] === '-' ? '-' : ''}0.${digits}e${exp}`;
}
