/**
 * Reconciles an import's report with the file that was sent, failing closed: a row counts as
 * imported only when the report accounts for every line (lines sent = imported + rejected, every
 * rejected line named by key or line). Otherwise the rows the report names keep their errors and
 * every other row's outcome is unknown: never marked ok, never advancing the snapshot.
 */
import type { ImportLineError, ImportStatus } from './routes';

export interface Accounting {
  byKey: Map<string, ImportLineError[]>;
  byLine: Map<number, ImportLineError[]>;
  /** Errors placed in byKey/byLine: each must be matched to a row sent, or the report is not accounted for. */
  placed: number;
  /** Why the report does not account for every line sent; null when it does. */
  unaccounted: string | null;
}

/**
 * @param linesSent data lines of the file (null for a state saved before it was recorded: counts then go unchecked)
 * @param ignore errors that are no failure of the row (e.g. an existing profile when profiles are insert-only)
 * @param byLineUsable false when line numbers do not map to rows (the profile file: one line per profile)
 */
export function account(
  status: ImportStatus,
  linesSent: number | null,
  ignore: (e: ImportLineError) => boolean,
  byLineUsable: boolean,
): Accounting {
  const byKey = new Map<string, ImportLineError[]>();
  const byLine = new Map<number, ImportLineError[]>();
  // Rejected lines the report names (one line may have an error per attribute); an ignored error
  // without a position still stands for one rejected line.
  const named = new Set<string>();
  let ignoredUnnamed = 0;
  let placed = 0;
  let unplaced = 0;
  for (const e of status.errors) {
    if (e.key !== null) named.add(`k:${e.key}`);
    else if (e.line !== null) named.add(`l:${e.line}`);
    if (ignore(e)) {
      if (e.key === null && e.line === null) ignoredUnnamed++;
      continue;
    }
    if (e.key !== null) push(byKey, e.key, e);
    else if (e.line !== null && byLineUsable) push(byLine, e.line, e);
    else {
      unplaced++;
      continue;
    }
    placed++;
  }
  const reasons: string[] = [];
  if (unplaced)
    reasons.push(
      `${unplaced} error${unplaced === 1 ? '' : 's'} name neither a line nor a key${byLineUsable ? '' : ' (a profile line number names no row)'}`,
    );
  if (!status.errorsComplete) reasons.push(`its error report could not be read to the end (${status.errors.length} errors read)`);
  else if (status.errorTotal !== null && status.errors.length < status.errorTotal)
    reasons.push(`it lists ${status.errors.length} of its ${status.errorTotal} errors`);
  const c = status.counts;
  if (c && linesSent !== null && c.imported + c.rejected !== linesSent)
    reasons.push(`it counts ${c.imported} lines imported and ${c.rejected} rejected, but ${linesSent} were sent`);
  if (c && named.size + ignoredUnnamed < c.rejected)
    reasons.push(`it counts ${c.rejected} rejected lines but names ${named.size + ignoredUnnamed}`);
  if (status.withErrors && status.errors.length === 0 && reasons.length === 0) reasons.push(`it ended ${status.status} but lists no error`);
  return { byKey, byLine, placed, unaccounted: reasons.length ? reasons.join('; ') : null };
}

function push<K>(m: Map<K, ImportLineError[]>, k: K, e: ImportLineError): void {
  const list = m.get(k);
  if (list) list.push(e);
  else m.set(k, [e]);
}
