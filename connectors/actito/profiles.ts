/**
 * Profiles the records refer to, written before the records so a linked record never fails on a
 * missing profile (research §5, trap 13). Matched on a unique profile attribute; `insert` mode only
 * creates missing profiles and leaves existing ones untouched.
 */
import type { ActitoOptions } from './config';
import type { Ctx } from './context';
import type { Encoded } from './encode';
import { ActitoHttpError, bodyMessage, rowFailure } from './errors';
import { mapLimited } from './limiter';
import { type Api, type Properties, upsertProfile } from './routes';

/** One profile per match value; with several rows for one profile, the last row's values win. */
export function distinctProfiles(rows: Iterable<Encoded>): Map<string, Properties> {
  const out = new Map<string, Properties>();
  for (const r of rows) if (r.match !== null && r.profile.length) out.set(r.match, r.profile);
  return out;
}

/** Writes the profiles of these rows; returns match value -> why its profile failed. */
export async function upsertProfilesOneByOne(ctx: Ctx, api: Api, opts: ActitoOptions, rows: Encoded[]): Promise<Map<string, string>> {
  const p = opts.profiles;
  const failed = new Map<string, string>();
  if (!p) return failed;
  const profiles = [...distinctProfiles(rows)];
  let fatal: unknown = null;
  await mapLimited(profiles, ctx.connection.maxInFlight, async ([match, attributes]) => {
    if (fatal) return;
    try {
      await upsertProfile(api, p.table, attributes, p.mode === 'upsert');
    } catch (err) {
      // Insert mode: the profile exists already, which is all the record needs.
      if (p.mode === 'insert' && err instanceof ActitoHttpError && err.status === 409) return;
      try {
        const f = rowFailure(err);
        failed.set(match, `profile ${p.matchAttribute}="${match}" could not be written: ${f.message || bodyMessage((err as ActitoHttpError).body)}`);
      } catch (batchWide) {
        fatal ??= batchWide;
      }
    }
  });
  if (fatal) throw fatal;
  return failed;
}
