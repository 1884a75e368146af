/** Result rows packed into Buffers: every row comes back once, whole, in the shuffled order, across segment ends. */
import { ResultLines } from './result-lines';

const rows = (n: number) => Array.from({ length: n }, (_, i) => `"id${i}","true","é ${'x'.repeat(i % 7)}${i}"`);

test('rows pushed come back in order across segments, multibyte text included', () => {
  const lines = new ResultLines();
  const all = rows(10_000); // two full segments of 4096 and a partial one
  all.forEach((l) => lines.push(l));
  lines.close();
  expect(lines.length).toBe(10_000);
  expect(lines.lines()).toEqual(all);
  // Rendered in slices, as the results route sends them: the same bytes.
  const sliced = [0, 4095, 4096, 8192, 9999].map((from, k, a) => lines.render(from, (a[k + 1] ?? 10_000) - from).toString('utf8')).join('');
  expect(sliced).toBe(all.join('\n') + '\n');
});

test('a shuffle is a permutation: every row once', () => {
  const lines = new ResultLines();
  const all = rows(9_000);
  all.forEach((l) => lines.push(l));
  lines.shuffle();
  const out = lines.lines();
  expect(out).not.toEqual(all);
  expect([...out].sort()).toEqual([...all].sort());
  expect(() => lines.push('late')).toThrow(/final/);
});

test('rows not yet packed are served too (unprocessed rows of a job still in progress)', () => {
  const lines = new ResultLines();
  const all = rows(5_000);
  all.slice(0, 4_500).forEach((l) => lines.push(l));
  expect(lines.lines()).toEqual(all.slice(0, 4_500));
  all.slice(4_500).forEach((l) => lines.push(l));
  lines.close();
  expect(lines.lines()).toEqual(all);
  expect(new ResultLines().render(0, 5000).length).toBe(0);
});
