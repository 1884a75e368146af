// Filled in by the runtime work: starts Temporal + Postgres for workflow and integration tests.
export async function startTestServices(): Promise<void> {}
export async function stopTestServices(): Promise<void> {}
