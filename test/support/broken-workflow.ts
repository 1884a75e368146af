/**
 * A stand-in for the activation workflow whose every workflow task throws (what a bug, or a deploy that
 * changed workflow code without patched(), does): Temporal retries the task and refuses queries meanwhile.
 * For test/integration/status-query.test.ts.
 */
export async function activationWorkflow(): Promise<void> {
  throw new TypeError('a bug in workflow code');
}
