/**
 * Migrations in order; a static list so bundlers and test runners need no file-system discovery.
 * A migration only adds (a table, a nullable column or one with a default, an index, a storage setting):
 * workers of the release before run on the migrated database during a rolling deploy and after a
 * rollback (db/migrate.ts), so nothing they read or write may be renamed, dropped or made stricter. A
 * backfill runs once: rows the release before writes after it get the column's default, so the code that
 * reads a backfilled column must also take its default. (20261204T1400-run-state moved rows out of
 * connector_state; it predates this rule, and every release that takes newer migrations as stand-ins
 * has it.)
 */
import type { Migration } from 'kysely';
import * as initial from './20261122T1300-initial';
import * as plans from './20261122T1500-plans';
import * as exactness from './20261204T1200-exactness';
import * as runState from './20261204T1400-run-state';
import * as history from './20261204T1600-history';
import * as unconfirmed from './20261204T2300-unconfirmed';
import * as incomplete from './20261205T0100-incomplete';
import * as dagRuns from './20261205T0130-dag-runs';
import * as destinationLimits from './20261205T0200-destination-limits';
import * as dagPools from './20261206T0120-dag-pools';
import * as snapshotFillfactor from './20261206T0200-snapshot-fillfactor';
import * as destinationFigures from './20261206T0300-destination-figures';
import * as attributeCreationsIndex from './20261207T0100-attribute-creations-index';
import * as chunkWriteBegan from './20261207T1200-chunk-write-began';
import * as stoppedPaused from './20261207T1300-stopped-paused';
import * as foldKey from './20261207T2000-fold-key';
import * as numberKey from './20261207T2200-number-key';

export const MIGRATIONS: Record<string, Migration> = {
  '20261122T1300-initial': initial,
  '20261122T1500-plans': plans,
  '20261204T1200-exactness': exactness,
  '20261204T1400-run-state': runState,
  '20261204T1600-history': history,
  '20261204T2300-unconfirmed': unconfirmed,
  '20261205T0100-incomplete': incomplete,
  '20261205T0130-dag-runs': dagRuns,
  '20261205T0200-destination-limits': destinationLimits,
  '20261206T0120-dag-pools': dagPools,
  '20261206T0200-snapshot-fillfactor': snapshotFillfactor,
  '20261206T0300-destination-figures': destinationFigures,
  '20261207T0100-attribute-creations-index': attributeCreationsIndex,
  '20261207T1200-chunk-write-began': chunkWriteBegan,
  '20261207T1300-stopped-paused': stoppedPaused,
  '20261207T2000-fold-key': foldKey,
  '20261207T2200-number-key': numberKey,
};
