export interface LoggedRequest {
  at: string;
  method: string;
  path: string;
  /** Route pattern (e.g. `POST /v4/entity/:entity/customTable/:table/record`) or `unmatched`. */
  route: string;
  /** HTTP status sent; 0 when the response was dropped by a fault. */
  status: number;
  durationMs: number;
  /** Latency added for going over `callsPerMinute` (absent when the call was not throttled). */
  throttledMs?: number;
}

export interface OpenRequest {
  method: string;
  path: string;
  since: string;
}

/**
 * Request log for `GET /__admin/requests`; keeps the last `capacity` entries, all-time counts per
 * route, and the requests still in flight (a test can see that a call was being served at a moment).
 */
export class RequestLog {
  entries: LoggedRequest[] = [];
  counts: Record<string, number> = {};
  readonly inFlight = new Set<OpenRequest>();

  constructor(private readonly capacity = 10_000) {}

  add(entry: LoggedRequest): void {
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    this.counts[entry.route] = (this.counts[entry.route] ?? 0) + 1;
  }

  open(method: string, path: string): OpenRequest {
    const r = { method, path, since: new Date().toISOString() };
    this.inFlight.add(r);
    return r;
  }

  close(r: OpenRequest): void {
    this.inFlight.delete(r);
  }

  clear(): void {
    this.entries = [];
    this.counts = {};
  }
}
