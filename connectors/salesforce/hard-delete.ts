/**
 * Mirror's `hardDelete` option: deletes go through a Bulk API 2.0 `hardDelete` job, which skips the
 * recycle bin, and only when the integration user holds "Bulk API Hard Delete" (off by default in every
 * org). The permission is read from `UserPermissionAccess` (the current user's effective permissions,
 * profile and permission sets together) by check() and again before each hardDelete job, so a missing
 * permission stops the run before anything is deleted.
 */
import { SyncError } from '../../common/errors';
import type { SalesforceClient } from './client';

export async function ensureHardDeletePermission(client: SalesforceClient, where: string): Promise<void> {
  let granted: boolean;
  try {
    const rows = await client.query<{ PermissionsBulkApiHardDelete?: boolean }>(
      'SELECT PermissionsBulkApiHardDelete FROM UserPermissionAccess',
      where,
    );
    granted = rows[0]?.PermissionsBulkApiHardDelete === true;
  } catch (err) {
    if (err instanceof SyncError && err.retryable) throw err;
    throw new SyncError(
      'CONFIG_INVALID',
      `${where}: option "hardDelete": could not read the integration user's "Bulk API Hard Delete" permission (${(err as Error).message}); remove "hardDelete" to delete into the recycle bin, or check the user's API access`,
      { retryable: false, cause: err },
    );
  }
  if (!granted) {
    throw new SyncError(
      'CONFIG_INVALID',
      `${where}: option "hardDelete" needs the "Bulk API Hard Delete" system permission, which the integration user does not have; nothing was deleted. Grant it (a permission set with "Bulk API Hard Delete" assigned to the integration user), or remove "hardDelete" to delete into the recycle bin`,
      { retryable: false },
    );
  }
}
