/** Versions list, version root resources and `/limits` (API notes §6). */
import { sendJson, type Ctx } from './http';

const MIN_VERSION = 31;
const MAX_VERSION = 66;

export function supportedVersion(v: string): boolean {
  const n = Number(v);
  return /^\d+\.0$/.test(v) && n >= MIN_VERSION && n <= MAX_VERSION;
}

export function handleVersions(ctx: Ctx): void {
  const out = [];
  for (let n = MIN_VERSION; n <= MAX_VERSION; n++) out.push({ label: `v${n}.0`, url: `/services/data/v${n}.0`, version: `${n}.0` });
  sendJson(ctx, 200, out);
}

export function handleResources(ctx: Ctx, version: string): void {
  const b = `/services/data/v${version}`;
  const { state } = ctx;
  sendJson(ctx, 200, {
    sobjects: `${b}/sobjects`,
    query: `${b}/query`,
    limits: `${b}/limits`,
    composite: `${b}/composite`,
    jobs: `${b}/jobs`,
    identity: `${ctx.baseUrl}/id/${state.orgId}/${state.userId}`,
  });
}

export function handleLimits(ctx: Ctx): void {
  const { state } = ctx;
  const max = state.options.dailyApiLimit;
  const lim = (Max: number, used = 0) => ({ Max, Remaining: Math.max(0, Max - used) });
  sendJson(ctx, 200, {
    DailyApiRequests: lim(max, state.faults.dailyQuotaExhausted ? max : state.apiUsed),
    DailyBulkApiBatches: lim(15000, state.bulkBatches),
    DailyBulkV2QueryJobs: lim(10000),
    DailyBulkV2QueryFileStorageMB: lim(1048576),
    DailyAsyncApexExecutions: lim(250000),
    DataStorageMB: lim(5),
    FileStorageMB: lim(20),
    HourlyODataCallout: lim(10000),
    SingleEmail: lim(15),
  });
}
