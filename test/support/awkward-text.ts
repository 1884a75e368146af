/**
 * Texts that trip CSV writers (delimiters, quotes, line breaks, edge whitespace, BOM, formula starters,
 * null look-alikes, non-ASCII, a lone surrogate): the connectors' hand-written CSV encoders are compared
 * with csv-stringify on every one of them.
 */
export const AWKWARD_PIECES = [
  '',
  'a',
  ' ',
  '\t',
  '\u00a0',
  '\u2028',
  '\ufeff',
  ',',
  ';',
  '"',
  '""',
  '\n',
  '\r',
  '\r\n',
  '\n\r',
  "'",
  '\\',
  '#N/A',
  '=1+2',
  '-3',
  'TRUE',
  'é',
  '日本',
  '😀',
  '\ud83d', // a lone surrogate
];

/** Every piece alone, at the edges and doubled, and a deterministic spread of pieces joined (`seed` picks it). */
export function awkwardTexts(seed = 13): string[] {
  const pieces = AWKWARD_PIECES;
  const out: string[] = [];
  for (const p of pieces) out.push(p, `x${p}`, `${p}x`, `x${p}x`, `${p}${p}`, ` ${p} `);
  let s = seed;
  const next = (): number => (s = (s * 1103515245 + 12345) % 2 ** 31) % pieces.length;
  for (let i = 0; i < 2000; i++) out.push(Array.from({ length: 1 + (i % 6) }, () => pieces[next()]).join(''));
  return out;
}
