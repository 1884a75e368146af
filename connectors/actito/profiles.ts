/**
 * Profiles the records refer to, written before the records so a linked record never fails on a
 * missing profile (API notes §5, trap 13). Matched on a unique profile attribute; `insert` mode only
 * creates missing profiles and leaves existing ones untouched; `update` mode never creates one and
 * only updates existing ones. The sync mode Update never creates: its profiles are only updated
 * (`upsert`, `update`), or left alone (`insert`).
 */
import type { ActitoOptions } from './config';
import type { RowOp } from '../types';
import type { Ctx } from './context';
import type { Encoded } from './encode';
import { SyncError } from '../../common/errors';
import { ActitoHttpError, bodyMessage, routeCheck, rowFailure } from './errors';
import { mapLimited } from './limiter';
import { type Api, type ImportMode, profileRoutesRefused, type Properties, updateProfile, upsertProfile } from './routes';

/** How a chunk's profiles are written: `none` when nothing may be written (Update + insert-only profiles). */
export type ProfileWrite = 'upsert' | 'insert' | 'update' | 'none';

export function profileWrite(opts: ActitoOptions, op: RowOp): ProfileWrite {
  if (!opts.profiles || op === 'delete') return 'none';
  // Update mode promises never to create anything, profiles included.
  if (op === 'update') return opts.profiles.mode === 'insert' ? 'none' : 'update';
  return opts.profiles.mode;
}

export const PROFILE_IMPORT_MODES: Record<Exclude<ProfileWrite, 'none'>, ImportMode> = {
  upsert: 'CREATE_UPDATE',
  insert: 'CREATE_ONLY',
  update: 'UPDATE_ONLY',
};

/** One profile per match value; with several rows for one profile, the last row's values win. */
export function distinctProfiles(rows: Iterable<Encoded>): Map<string, Properties> {
  const out = new Map<string, Properties>();
  for (const r of rows) if (r.match !== null && r.profile.length) out.set(r.match, r.profile);
  return out;
}

/** Writes the profiles of these rows; returns match value -> why its profile failed. */
export async function upsertProfilesOneByOne(
  ctx: Ctx,
  api: Api,
  opts: ActitoOptions,
  op: RowOp,
  rows: Encoded[],
): Promise<Map<string, string>> {
  const p = opts.profiles;
  const failed = new Map<string, string>();
  const how = profileWrite(opts, op);
  if (!p || how === 'none') return failed;
  const profiles = [...distinctProfiles(rows)];
  let fatal: unknown = null;
  const route = routeCheck(
    () => profileRoutesRefused(api, p.table),
    `Reading the profile list of Actito profile table "${p.table}"`,
    (err) => routeNotServed(p.table, err),
  );
  await mapLimited(profiles, ctx.connection.maxInFlight, async ([match, attributes]) => {
    if (fatal) return;
    try {
      if (how === 'update') {
        // A missing profile stays missing (not an error of its own): the record's update decides the row,
        // once the profile route is known to be served.
        const rest = attributes.filter((a) => a.name !== p.matchAttribute);
        if (rest.length && !(await updateProfile(api, p.table, p.matchAttribute, match, rest))) await route();
        return;
      }
      try {
        await upsertProfile(api, p.table, attributes, how === 'upsert');
      } catch (err) {
        // Create (or update) needs no existing profile: a 404 says the route or the table is unknown here.
        if (err instanceof ActitoHttpError && err.status === 404) throw routeNotServed(p.table, err);
        throw err;
      }
    } catch (err) {
      // Insert mode: the profile exists already, which is all the record needs.
      if (p.mode === 'insert' && err instanceof ActitoHttpError && err.status === 409) return;
      try {
        const f = rowFailure(err);
        failed.set(
          match,
          `profile ${p.matchAttribute}="${match}" could not be written: ${f.message || bodyMessage((err as ActitoHttpError).body)}`,
        );
      } catch (batchWide) {
        fatal ??= batchWide;
      }
    }
  });
  if (fatal) throw fatal;
  return failed;
}

/** A 404 where no missing profile can explain it: the profile route itself is not served. */
function routeNotServed(table: string, err: ActitoHttpError): SyncError {
  return new SyncError(
    'DESTINATION_NOT_FOUND',
    `Writing profiles to Actito profile table "${table}": ${err.message}, where no missing profile explains a 404, so this licence does not serve the profile routes here: check the connection's routePrefixes.profiles (default "/profiles"; "" for the legacy unprefixed URLs), its entity, and destination.options.profiles.table.`,
    { details: { status: err.status, route: err.route } },
  );
}
