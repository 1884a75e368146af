/**
 * `npm run bench -- redact [kb]`: how `withoutSecrets` (common/redact.ts) scales with the length of a
 * message. Every failure message, row answer and warning passes through it, so a pattern that backtracks
 * over a long answer stalls the activity that records it. Each adversarial shape is timed at `kb` and at
 * four times `kb` (default 256 KB, then 1 MB): linear work gives a ratio near 4, quadratic near 16.
 * Also times a million short row answers, with and without a URL, as the result recording sees them.
 */
import { withoutSecrets } from '../common/redact';

const SHAPES: Record<string, (bytes: number) => string> = {
  dotted_words: (n) => 'token refused: ' + 'a.'.repeat(n / 2),
  urls_without_query: (n) => 'token refused: ' + 'http://a/,'.repeat(n / 10),
  urls_with_query: (n) => 'refused: ' + 'https://u:p@h/p?access_token=x '.repeat(n / 32),
  credential_fields: (n) => 'password=x&'.repeat(n / 11),
  long_scheme: (n) => 'x'.repeat(n) + '://',
  bearer_run: (n) => 'Bearer '.repeat(n / 7),
  // (h15) A query's parameters one by one, URL-encoded URLs and fields, header names, `name: value` fields.
  query_params: (n) => 'refused: https://h/p?' + 'page=2&'.repeat(n / 7),
  encoded_urls: (n) => 'token refused: ' + 'https%3A%2F%2Fa%3Ab%2F,'.repeat(n / 23),
  encoded_userinfo: (n) => 'refused: https%3A%2F%2F' + 'a'.repeat(n),
  encoded_fields: (n) => 'access_token%3Dx%26'.repeat(n / 19),
  header_names: (n) => 'token refused: ' + 'x-a-'.repeat(n / 4),
  colon_fields: (n) => 'token: expired, '.repeat(n / 16),
  cookies: (n) => 'cookie, '.repeat(n / 8),
};

function time(f: () => unknown): number {
  const started = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export async function main(args: string[]): Promise<Record<string, unknown>> {
  const kb = Number(args[0] ?? 256);
  const shapes: Record<string, { ms: number; ms_4x: number; ratio: number }> = {};
  for (const [name, make] of Object.entries(SHAPES)) {
    const small = make(kb * 1024);
    const large = make(kb * 4096);
    withoutSecrets(small); // warm up
    const ms = time(() => withoutSecrets(small));
    const ms4 = time(() => withoutSecrets(large));
    shapes[name] = {
      ms: Math.round(ms * 10) / 10,
      ms_4x: Math.round(ms4 * 10) / 10,
      ratio: Math.round((ms4 / Math.max(ms, 0.1)) * 100) / 100,
    };
    console.log(`${name}: ${kb} KB ${shapes[name].ms} ms, ${kb * 4} KB ${shapes[name].ms_4x} ms (ratio ${shapes[name].ratio})`);
  }
  const answers = (withUrl: boolean) =>
    time(() => {
      for (let i = 0; i < 1_000_000; i++)
        withoutSecrets(withUrl ? `row ${i} refused: see https://h/p?id=${i}` : `row ${i}: REQUIRED_FIELD_MISSING LastName`);
    });
  const plain = answers(false);
  const url = answers(true);
  console.log(`a million short answers: ${Math.round(plain)} ms plain, ${Math.round(url)} ms with a URL`);
  return {
    kb,
    shapes,
    worst_ratio: Math.max(...Object.values(shapes).map((s) => s.ratio)),
    million_answers_ms: { plain: Math.round(plain), with_url: Math.round(url) },
  };
}
