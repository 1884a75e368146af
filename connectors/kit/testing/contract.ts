/**
 * The destination contract suite: one set of cases every destination connector must pass, run
 * against the real destination or its emulator (never a mock), asserting the state left there.
 * A connector runs it from one test file that supplies a `ContractFixture`:
 *
 *   describeDestinationContract(salesforceFixture);   // connectors/salesforce/contract.test.ts
 *
 * Records are described in the suite's own terms, a key and a version number, and the fixture
 * translates: which fields carry them, how to read them back, how to make the destination refuse a
 * row or fail for a moment. Cases (per write method where it matters, per mode the connector declares):
 * declarations, check ok / refused credentials / unknown destination / a field it cannot take,
 * write per mode (each change becomes the operation the mode table says: update never creates,
 * deletes only in mirror), retries after a transient failure, idempotent replays (a chunk sent again
 * from scratch, an answer lost), row errors as data.
 */
import { createHash } from 'node:crypto';
import { SyncError } from '../../../common/errors';
import type { Change, RowOp, SyncMode } from '../../../common/sync-modes';
import type { CheckResult, DestinationConnector, FieldSpec, OutRow, RowResult } from '../../types';
import { runWrite, testContext, type TestContext, type WriteRun } from './harness';

/** A record as the suite sees it: its key and the version of its content. */
export interface ContractRecord {
  key: string;
  version: number;
}

export interface ContractFixture<C, O> {
  connector: DestinationConnector<C, O>;
  /** Starts the destination (an emulator, a database) once for the file. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Before each case: an empty destination, no faults armed. */
  reset(): Promise<void>;
  connection(): C;
  /** Credentials the destination refuses. */
  refusedConnection(): C;
  /** The destination every case writes to. */
  address: string;
  /** A destination name that does not exist there, when the destination has such a notion. */
  missingAddress?: string;
  /** The key field and the mapped fields (key first) for `mode`. */
  mapping(mode: SyncMode): { key: string; fields: FieldSpec[] };
  /** Destination values of a row (keys of the mapping's `to`) holding `version`. */
  values(mode: SyncMode, key: string, version: number): Record<string, unknown>;
  /** Every record at the destination, several per key where the destination holds several. */
  records(): Promise<ContractRecord[]>;
  /** A mapped field the destination does not have or cannot take as typed; `check` must name it. */
  fieldItCannotTake: FieldSpec;
  /** Options that make planWrites choose `method` for a handful of rows. */
  optionsFor(method: string): Record<string, unknown>;
  /** Arranges that the destination refuses `key` for good; returns the values to send for it. */
  refuse(mode: SyncMode, key: string): Promise<Record<string, unknown>>;
  /** Arranges one transient failure of the next write through `method` (5xx, a lock, a retryable failure of row `key`). */
  failOnce(method: string, key: string): Promise<void>;
  /** Arranges that the next write through `method` is applied but its answer lost, when the destination can. */
  loseAnswer?(method: string): Promise<void>;
  /** Failures armed by failOnce / loseAnswer that have not happened yet (0 proves the case met one). */
  armed(): Promise<number>;
  /** A `destination.options` entry the options schema refuses. */
  invalidOption: { name: string; value: unknown };
}

const token = (key: string, version: number) => createHash('md5').update(`contract/${key}/${version}`).digest('hex');
const CHANGES: Change[] = ['added', 'changed', 'removed'];

/** Defines the contract's cases in the calling test file. */
export function describeDestinationContract<C, O>(f: ContractFixture<C, O>): void {
  const c = f.connector;
  const methods = Object.keys(c.methods);
  const modes = Object.keys(c.modes) as SyncMode[];

  const ctx = (
    mode: SyncMode,
    o: { options?: Record<string, unknown>; connection?: C; address?: string; fields?: FieldSpec[] } = {},
  ): TestContext<C, O> => {
    const m = f.mapping(mode);
    return testContext(c, {
      connection: o.connection ?? f.connection(),
      address: o.address ?? f.address,
      key: m.key,
      mode,
      fields: o.fields ?? m.fields,
      options: o.options,
    });
  };
  const row = (
    mode: SyncMode,
    key: string,
    version: number,
    destinationId: string | null = null,
    values = f.values(mode, key, version),
  ): OutRow => ({ key, op: 'upsert', destinationId, token: token(key, version), values });
  /** The mode that writes the initial records: the mode itself when its added rows are created, else upsert. */
  const creates = (op: RowOp | undefined) => op === 'create' || op === 'upsert';
  const seedMode = (mode: SyncMode): SyncMode => (creates(c.modes[mode]?.added) ? mode : 'upsert');
  const byKey = async () => {
    const out = new Map<string, number[]>();
    for (const r of await f.records()) out.set(r.key, [...(out.get(r.key) ?? []), r.version].sort());
    return out;
  };
  const allOk = (run: WriteRun) => [...run.results.values()].filter((r) => !r.ok);

  describe(`${c.kind} destination contract`, () => {
    beforeAll(() => f.start());
    afterAll(() => f.stop());
    beforeEach(() => f.reset());

    describe('declarations', () => {
      it('options schema parses {} (every option has a default); address names object or table', () => {
        const schema = typeof c.optionsSchema === 'function' ? c.optionsSchema(f.connection()) : c.optionsSchema;
        expect(schema.safeParse({}).success).toBe(true);
        expect(['object', 'table']).toContain(c.address.field);
        expect(c.address.label).not.toBe('');
      });
      it('modes: update never creates, only mirror deletes, insert never updates or deletes', () => {
        expect(modes.length).toBeGreaterThan(0);
        for (const mode of modes) {
          const ops = Object.values(c.modes[mode]!);
          if (mode !== 'mirror') expect(ops).not.toContain('delete');
          if (mode === 'update') expect(ops.filter((op) => op !== 'update')).toEqual([]);
          if (mode === 'insert') expect(ops.filter((op) => op !== 'create')).toEqual([]);
        }
      });
      it('write methods: a connector with an asynchronous method polls (pollChunk)', () => {
        expect(methods.length).toBeGreaterThan(0);
        expect(typeof c.pollChunk === 'function').toBe(Object.values(c.methods).some((m) => m.async));
      });
    });

    describe('check', () => {
      it.each(modes)('accepts the destination and a valid mapping (mode %s)', async (mode) => {
        const result = await c.check(ctx(mode));
        expect(result.skippedFields).toEqual([]);
        expect(result.missingAttributes).toEqual([]);
      });
      it('refused credentials: a non-retryable AUTH_FAILED', async () => {
        await expect(c.check(ctx('upsert', { connection: f.refusedConnection() }))).rejects.toMatchObject({
          code: 'AUTH_FAILED',
          retryable: false,
        });
      });
      if (f.missingAddress) {
        const missing = f.missingAddress;
        it('a destination that does not exist: a non-retryable DESTINATION_NOT_FOUND naming it', async () => {
          await expect(c.check(ctx('upsert', { address: missing }))).rejects.toMatchObject({
            code: 'DESTINATION_NOT_FOUND',
            retryable: false,
            message: expect.stringContaining(missing),
          });
        });
      }
      it('discover: a mapped field the destination cannot take is named (refused, to create, or skipped), never silently sent', async () => {
        const name = f.fieldItCannotTake.to;
        const answer = await c.check(ctx('upsert', { fields: [...f.mapping('upsert').fields, f.fieldItCannotTake] })).then(
          (r: CheckResult) => r,
          (e: unknown) => e,
        );
        if (answer instanceof SyncError) {
          expect(answer.retryable).toBe(false);
          expect(answer.message).toContain(name);
        } else {
          const named = [
            ...(answer as CheckResult).missingAttributes.map((m) => m.field),
            ...(answer as CheckResult).skippedFields.map((s) => s.field),
          ];
          expect(named).toContain(name);
        }
      });
      it('invalid options: CONFIG_INVALID naming the option, before any call', () => {
        const { name, value } = f.invalidOption;
        let thrown: unknown;
        try {
          ctx('upsert', { options: { [name]: value } });
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toMatchObject({
          code: 'CONFIG_INVALID',
          retryable: false,
          message: expect.stringContaining(`destination.options.${name}`),
        });
      });
    });

    describe.each(methods)('write via %s', (method) => {
      const opts = () => f.optionsFor(method);

      it.each(modes)(
        'mode %s: each change becomes the operation the mode table says, and the destination holds exactly that',
        async (mode) => {
          const table = c.modes[mode]!;
          // Before: E (to change), R (to remove), U (unchanged) synced at version 0.
          const seed = await runWrite(
            c,
            ctx(seedMode(mode), { options: opts() }),
            c.modes[seedMode(mode)]!.added!,
            ['E', 'R', 'U'].map((k) => row(seedMode(mode), k, 0)),
          );
          expect(allOk(seed)).toEqual([]);
          const id = (k: string) => (seed.results.get(k) as { destinationId?: string | null } | undefined)?.destinationId ?? null;
          // The delta: N added, E changed to version 1, R removed; U is not sent.
          const delta: Record<Change, OutRow> = {
            added: row(mode, 'N', 1),
            changed: row(mode, 'E', 1, id('E')),
            removed: row(mode, 'R', 0, id('R')),
          };
          const byOp = new Map<RowOp, OutRow[]>();
          for (const change of CHANGES) {
            const op = table[change];
            if (op) byOp.set(op, [...(byOp.get(op) ?? []), { ...delta[change], op }]);
          }
          const results = new Map<string, RowResult>();
          const used: string[] = [];
          const w = ctx(mode, { options: opts() });
          for (const [op, rows] of byOp) {
            const run = await runWrite(c, w, op, rows);
            used.push(...run.methods);
            for (const [k, r] of run.results) results.set(k, r);
          }
          if ([...byOp.keys()].some((op) => op !== 'delete')) expect(used).toContain(method);

          const expected = new Map<string, number[]>([['U', [0]]]);
          const put = (k: string, v: number[]) => (v.length ? expected.set(k, v) : expected.delete(k));
          put('N', creates(table.added) ? [1] : []);
          put('E', table.changed === 'create' ? [0, 1] : table.changed ? [1] : [0]);
          put('R', table.removed === 'delete' ? [] : [0]);
          expect(Object.fromEntries(await byKey())).toEqual(Object.fromEntries(expected));
          // Every row sent is answered; only an added row under an op that cannot create fails, as data.
          for (const change of CHANGES) {
            const op = table[change];
            if (!op) continue;
            const r = results.get(delta[change].key);
            if (change === 'added' && !creates(op))
              expect(r).toMatchObject({ ok: false, retryable: false, code: expect.any(String), message: expect.any(String) });
            else expect(r).toMatchObject({ ok: true });
          }
        },
      );

      it('retries: a transient failure is retried and every row lands once', async () => {
        const w = ctx('upsert', { options: opts() });
        await f.failOnce(method, 'B');
        const run = await runWrite(
          c,
          w,
          'upsert',
          ['A', 'B', 'C'].map((k) => row('upsert', k, 1)),
        );
        // The failure happened (retried by the connector's client, the activity retry or a re-send round) and left no trace.
        expect(await f.armed()).toBe(0);
        expect(allOk(run)).toEqual([]);
        expect(Object.fromEntries(await byKey())).toEqual({ A: [1], B: [1], C: [1] });
      });

      const replayMode: SyncMode = c.modes.insert ? 'insert' : 'upsert';
      it(`idempotent replay: a chunk sent again from scratch (results and state lost) makes no second record (mode ${replayMode})`, async () => {
        const op = c.modes[replayMode]!.added!;
        const rows = () => ['A', 'B', 'C'].map((k) => row(replayMode, k, 1));
        expect(allOk(await runWrite(c, ctx(replayMode, { options: opts() }), op, rows()))).toEqual([]);
        const again = await runWrite(c, ctx(replayMode, { options: opts() }), op, rows());
        expect(allOk(again)).toEqual([]);
        expect(Object.fromEntries(await byKey())).toEqual({ A: [1], B: [1], C: [1] });
      });

      if (f.loseAnswer) {
        const lose = f.loseAnswer.bind(f);
        it(`idempotent replay: an answer lost after the write is applied makes no second record (mode ${replayMode})`, async () => {
          await lose(method);
          const run = await runWrite(
            c,
            ctx(replayMode, { options: opts() }),
            c.modes[replayMode]!.added!,
            ['A', 'B', 'C'].map((k) => row(replayMode, k, 1)),
          );
          expect(await f.armed()).toBe(0);
          expect(allOk(run)).toEqual([]);
          expect(Object.fromEntries(await byKey())).toEqual({ A: [1], B: [1], C: [1] });
        });
      }

      it('row errors are data: a refused row is answered by key with a code, the others are written', async () => {
        const bad = await f.refuse('upsert', 'X');
        const run = await runWrite(c, ctx('upsert', { options: opts() }), 'upsert', [
          row('upsert', 'A', 1),
          row('upsert', 'X', 1, null, bad),
          row('upsert', 'B', 1),
        ]);
        expect(run.results.get('X')).toMatchObject({
          key: 'X',
          ok: false,
          retryable: false,
          code: expect.stringMatching(/\S/),
          message: expect.stringMatching(/\S/),
        });
        expect(run.results.get('A')).toMatchObject({ ok: true });
        expect(run.results.get('B')).toMatchObject({ ok: true });
        expect(Object.fromEntries(await byKey())).toEqual({ A: [1], B: [1] });
      });
    });
  });
}
