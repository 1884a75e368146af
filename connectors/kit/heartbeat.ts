/**
 * Timer heartbeats around one long step: building or uploading a file, a request the destination holds,
 * reading results back. The write activity's heartbeat timeout is one minute; a step that sends no beat
 * for longer is taken for a dead worker, and Temporal starts a second attempt beside the first (which
 * re-uploads a file, spends a daily import, or lets a held request land after newer values).
 */
export async function withHeartbeat<T>(beat: () => void, everyMs: number, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(beat, everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
