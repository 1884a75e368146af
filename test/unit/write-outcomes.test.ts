/** What `ChunkWrite.recordStream` stores of each row result (activities/write.ts outcomes). */
import { outcomes } from '../../activities/write';
import type { RowResult } from '../../connectors/types';

async function collect(results: RowResult[]) {
  async function* one(): AsyncGenerator<RowResult[]> {
    yield results;
  }
  const out = [];
  for await (const batch of outcomes(one())) out.push(...batch);
  return out;
}

test('a row accepted incomplete keeps its code and message, as record() keeps them: the commit lists it and sends it again', async () => {
  const rows = await collect([
    { key: 'k1', ok: true, destinationId: '003A' },
    { key: 'k2', ok: true, destinationId: '003B', incomplete: { code: 'WRITTEN_WITHOUT_LINK', message: 'parent A9 not found' } },
    { key: 'k3', ok: false, code: 'INVALID_FIELD', message: 'bad', retryable: false },
  ]);
  expect(rows).toEqual([
    { key: 'k1', ok: true, code: null, message: null, retryable: null, id: '003A' },
    { key: 'k2', ok: true, code: 'WRITTEN_WITHOUT_LINK', message: 'parent A9 not found', retryable: null, id: '003B' },
    { key: 'k3', ok: false, code: 'INVALID_FIELD', message: 'bad', retryable: false, id: null },
  ]);
});
