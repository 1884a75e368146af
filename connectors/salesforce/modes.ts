/** The sync modes Salesforce supports: the standard table, except Insert. */
import { STANDARD_MODES, type ModeTable } from '../../common/sync-modes';

/**
 * Insert follows DinMo's semantics: a changed row is sent as a new record (each content of a key is one
 * record; the token External ID makes each create idempotent), never as an update of the first one.
 */
export const SALESFORCE_MODES: ModeTable = {
  ...STANDARD_MODES,
  insert: { added: 'create', changed: 'create' },
};
