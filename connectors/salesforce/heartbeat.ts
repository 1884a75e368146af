/**
 * Timer heartbeats around one long step (building a CSV, uploading it, reading results back). A single
 * request can outlast the write activity's one-minute heartbeat timeout; without a beat Temporal would
 * start a second attempt while the first is still uploading, and that attempt aborts the first one's job.
 */
export async function withHeartbeat<T>(beat: () => void, everyMs: number, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(beat, everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
