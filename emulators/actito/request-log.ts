export interface LoggedRequest {
  at: string;
  method: string;
  path: string;
  /** Route pattern (e.g. `POST /v4/entity/:entity/customTable/:table/record`) or `unmatched`. */
  route: string;
  /** HTTP status sent; 0 when the response was dropped by a fault. */
  status: number;
  durationMs: number;
}

/** Request log for `GET /__admin/requests`; keeps the last `capacity` entries and all-time counts per route. */
export class RequestLog {
  entries: LoggedRequest[] = [];
  counts: Record<string, number> = {};

  constructor(private readonly capacity = 10_000) {}

  add(entry: LoggedRequest): void {
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    this.counts[entry.route] = (this.counts[entry.route] ?? 0) + 1;
  }

  clear(): void {
    this.entries = [];
    this.counts = {};
  }
}
