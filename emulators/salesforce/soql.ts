/**
 * A deliberately small SOQL parser: SELECT f1, f2 | COUNT() FROM Obj [WHERE cond [AND cond]...]
 * [ORDER BY f [ASC|DESC]] [LIMIT n] [OFFSET n]; cond = field (= | != | < | <= | > | >=) literal | field [NOT] IN (lit, ...)
 * | field LIKE 'pat%'. Literals: 'quoted' (with \' escapes), numbers, true/false/null, date/datetime literals.
 */
export type Literal = string | number | boolean | null;

export interface Cond {
  field: string;
  op: '=' | '!=' | '<' | '<=' | '>' | '>=' | 'IN' | 'NOT IN' | 'LIKE';
  values: Literal[];
}

export interface Soql {
  count: boolean;
  fields: string[];
  object: string;
  where: Cond[];
  orderBy?: { field: string; desc: boolean };
  limit?: number;
  offset?: number;
}

export class SoqlError extends Error {}

const TOKEN =
  /\s*('(?:\\.|[^'\\])*'|\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?|-?\d+(?:\.\d+)?|!=|<=|>=|[(),=<>]|[A-Za-z_][\w.]*(?:\(\))?)/y;

function tokenize(q: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < q.length) {
    if (/^\s*$/.test(q.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(q);
    if (!m || m[1] === undefined) throw new SoqlError(`unexpected token at: ${q.slice(pos, pos + 20)}`);
    out.push(m[1]);
    pos = TOKEN.lastIndex;
  }
  return out;
}

function literal(tok: string | undefined): Literal {
  if (tok === undefined) throw new SoqlError('unexpected end of query');
  if (tok.startsWith("'")) return tok.slice(1, -1).replace(/\\(.)/g, '$1');
  if (/^\d{4}-\d{2}-\d{2}/.test(tok)) return tok; // date / datetime literal
  if (/^-?\d/.test(tok)) return Number(tok);
  const low = tok.toLowerCase();
  if (low === 'true' || low === 'false') return low === 'true';
  if (low === 'null') return null;
  throw new SoqlError(`unexpected token: ${tok}`);
}

export function parseSoql(q: string): Soql {
  const t = tokenize(q);
  let i = 0;
  const peek = () => t[i]?.toUpperCase();
  const next = () => t[i++];
  const expect = (kw: string) => {
    if (peek() !== kw) throw new SoqlError(`expecting '${kw}', found '${t[i] ?? 'EOF'}'`);
    i++;
  };
  expect('SELECT');
  const fields: string[] = [];
  let count = false;
  do {
    const f = next();
    if (!f) throw new SoqlError('unexpected end of query');
    if (f.toUpperCase() === 'COUNT()') count = true;
    else fields.push(f);
  } while (peek() === ',' && next());
  expect('FROM');
  const object = next() ?? '';
  const s: Soql = { count, fields, object, where: [] };
  if (peek() === 'WHERE') {
    next();
    do s.where.push(cond());
    while (peek() === 'AND' && next());
  }
  if (peek() === 'ORDER') {
    next();
    expect('BY');
    const field = next() ?? '';
    const dir = peek();
    if (dir === 'ASC' || dir === 'DESC') next();
    s.orderBy = { field, desc: dir === 'DESC' };
  }
  if (peek() === 'LIMIT') {
    next();
    s.limit = Number(next());
  }
  if (peek() === 'OFFSET') {
    next();
    s.offset = Number(next());
  }
  if (i < t.length) throw new SoqlError(`unexpected token: ${t[i] ?? ''}`);
  return s;

  function cond(): Cond {
    const field = next() ?? '';
    let op = peek();
    if (op === 'NOT') {
      next();
      expect('IN');
      op = 'NOT IN';
    } else next();
    if (op === '=' || op === '!=' || op === 'LIKE' || op === '<' || op === '<=' || op === '>' || op === '>=') {
      return { field, op, values: [literal(next())] };
    }
    if (op !== 'IN' && op !== 'NOT IN') throw new SoqlError(`unsupported operator: ${op ?? 'EOF'}`);
    expect('(');
    const values: Literal[] = [];
    do values.push(literal(next()));
    while (peek() === ',' && next());
    expect(')');
    return { field, op, values };
  }
}
