/** Run bookkeeping read by the activation workflow and the client. */
import type { SynclineDeps } from './deps';

export interface LastRunNumberInput { activationId: string }
export interface LastRunNumberResult { runNumber: number }

/** A re-created activation workflow continues the numbering instead of reusing run numbers. */
export async function lastRunNumber(deps: SynclineDeps, input: LastRunNumberInput): Promise<LastRunNumberResult> {
  const r = await deps.db.selectFrom('syncline.runs').select((eb) => eb.fn.max('run_number').as('n')).where('activation_id', '=', input.activationId).executeTakeFirst();
  return { runNumber: Number(r?.n ?? 0) };
}
