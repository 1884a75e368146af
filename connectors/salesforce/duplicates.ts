/**
 * Duplicate rules. An org's duplicate rule refuses a record that matches another with
 * `DUPLICATES_DETECTED`; a rule whose action is "Allow" with an alert lets the API save it anyway when the
 * request carries `Sforce-Duplicate-Rule-Header: allowSave=true` (REST API, API v52+), a "Block" rule never
 * does. The header exists for REST and Collections only: Bulk API 2.0 jobs take no such header, so with
 * `allowSave` a row a Bulk job refused as a duplicate is sent again through Collections with the header.
 */
import type { RowResult } from '../types';
import type { SalesforceOptions } from './config';

export const DUPLICATES_DETECTED = 'DUPLICATES_DETECTED';

/** The `duplicateResult` of a DUPLICATES_DETECTED error (REST and Collections; absent from Bulk results). */
export interface DuplicateResult {
  allowSave?: boolean;
  duplicateRule?: string;
  duplicateRuleEntityType?: string;
  errorMessage?: string;
  matchResults?: Array<{ matchRecords?: Array<{ record?: { Id?: string } }> }>;
}

/** The header value, e.g. `allowSave=true; includeRecordDetails=false; runAsCurrentUser=false`, or null. */
export function duplicateRuleHeader(options: SalesforceOptions): string | null {
  const h = options.duplicateRuleHeader;
  if (!h) return null;
  return `allowSave=${h.allowSave}; includeRecordDetails=${h.includeRecordDetails}; runAsCurrentUser=${h.runAsCurrentUser}`;
}

/**
 * A DUPLICATES_DETECTED row error that says which rule refused the row, the records it matched, and what
 * a person can do (Salesforce's own message is the rule's alert text, e.g. "Use one of these records?").
 */
export function withDuplicateHint(r: RowResult, activationId: string, allowSaveSent: boolean, dup?: DuplicateResult): RowResult {
  if (r.ok || r.code !== DUPLICATES_DETECTED) return r;
  const rule = dup?.duplicateRule
    ? `duplicate rule "${dup.duplicateRule}"${dup.duplicateRuleEntityType ? ` (${dup.duplicateRuleEntityType})` : ''}`
    : 'a duplicate rule';
  const ids = (dup?.matchResults ?? []).flatMap((m) => (m.matchRecords ?? []).map((x) => x.record?.Id)).filter((x): x is string => !!x);
  const matched = ids.length ? ` matching ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ` and ${ids.length - 5} more` : ''}` : '';
  const blocks = dup?.allowSave === false || allowSaveSent;
  const todo = blocks
    ? `The rule blocks duplicates, which the allowSave header cannot override: change the rule's action in Salesforce (Setup → Duplicate Rules) or merge the duplicates, then run "syncline retry-failed ${activationId}"`
    : `To save such rows anyway, set "duplicateRuleHeader": {"allowSave": true} in the destination options (it only overrides rules whose action is "Allow" with an alert); or merge the duplicates in Salesforce (or correct the model), then run "syncline retry-failed ${activationId}"`;
  return { ...r, message: `${rule} refused this row as a duplicate${matched} ("${r.message}"); nothing was written for this row. ${todo}` };
}
