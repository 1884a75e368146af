/**
 * What changed between two activation documents (workflow-safe, pure): every leaf path whose value
 * differs, with the value before and after. Arrays of mappings are compared by their `to` field (a
 * mapping moved in the list is no change); other arrays by position.
 */
export interface ConfigChange {
  path: string;
  before?: unknown;
  after?: unknown;
}

export function diffDocuments(before: unknown, after: unknown, path = ''): ConfigChange[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffDocuments(before[k], after[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    if (path === 'mappings' || path.endsWith('.mappings')) return diffMappings(before, after, path);
    const n = Math.max(before.length, after.length);
    return Array.from({ length: n }, (_, i) => diffDocuments(before[i], after[i], `${path}[${i}]`)).flat();
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path: path || '(document)', ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) }];
}

function diffMappings(before: unknown[], after: unknown[], path: string): ConfigChange[] {
  const byTo = (xs: unknown[]) => new Map(xs.map((m) => [String((m as { to?: unknown }).to), m]));
  const a = byTo(before);
  const b = byTo(after);
  const fields = [...new Set([...a.keys(), ...b.keys()])].sort();
  return fields.flatMap((f) => diffDocuments(a.get(f), b.get(f), `${path}[to=${f}]`));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
