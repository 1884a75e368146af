/**
 * Where a JSON text first goes wrong, as line and column (1-based), found by scanning it rather than by
 * reading JSON.parse's message: Node's messages quote the text around the error ("Unexpected token 's',
 * ..."apiKey": sk_live_..."), and the text of a connection holds credentials.
 */
export function jsonErrorPosition(text: string): { line: number; column: number } | null {
  const offset = firstErrorOffset(text);
  if (offset < 0) return null;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPE = /["\\/bfnrt]|u[0-9a-fA-F]{4}/y;

/** The offset of the first character that makes `text` invalid JSON (its length when it ends too soon), or -1. */
function firstErrorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw new Stop(i);
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const sticky = (re: RegExp): boolean => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (m) i += m[0].length;
    return !!m;
  };
  const string = (): void => {
    if (text[i] !== '"') fail();
    i++;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') return void i++;
      if (c < ' ') fail();
      i++;
      if (c === '\\' && !sticky(ESCAPE)) fail();
    }
    fail();
  };
  const list = (close: string, item: () => void): void => {
    i++;
    ws();
    if (text[i] === close) return void i++;
    for (;;) {
      item();
      ws();
      if (text[i] === close) return void i++;
      if (text[i] !== ',') fail();
      i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{')
      return list('}', () => {
        ws();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
      });
    if (c === '[') return list(']', value);
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) if (text.startsWith(word, i)) return void (i += word.length);
    if (!sticky(NUMBER)) fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return -1;
  } catch (err) {
    if (err instanceof Stop) return err.offset;
    throw err;
  }
}

class Stop {
  constructor(readonly offset: number) {}
}
