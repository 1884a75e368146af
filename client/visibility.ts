/**
 * Temporal lists workflows and schedules from its visibility store, which is written after the execution
 * or schedule itself and lags behind it (milliseconds usually, seconds on a loaded server). A command that
 * creates one waits here until the listing names it, so that a `list` right after the command shows it.
 */

/**
 * Polls `listed` until it says the listing shows what was just created. Gives up quietly after `limitMs`,
 * or when the listing cannot be read: the creation itself succeeded, only the listing is late (or
 * unavailable), and the command should not fail for that.
 */
export async function untilListed(listed: () => Promise<boolean>, limitMs = 30_000, everyMs = 200): Promise<void> {
  const until = Date.now() + limitMs;
  for (;;) {
    if (await listed().catch(() => true)) return;
    if (Date.now() >= until) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
