/**
 * Failure text without the secrets and row values a URL or a header it quotes can carry. A failure's
 * message goes into Temporal history (in clear, even with a payload codec), a pending activity's last
 * failure, a run's record in the state database and the worker's log; a library's error often names the
 * request it made: `request to https://user:pass@host/path?access_token=…&q=SELECT … WHERE key='…' failed`,
 * `{"Authorization":"Bearer …"}`. What stays says what failed and where (scheme, user, host, path).
 *
 * - a URL's password (`https://user:pass@host` → `https://user:…@host`), or its whole user part when it
 *   has no password (a token: `https://ghp_x@host` → `https://…@host`);
 * - a URL's query string and fragment (`?…`, `#…`): keys, tokens, signatures and queries;
 * - the value of an Authorization, Proxy-Authorization, Cookie or API key header or field, a bare
 *   `Bearer <token>`, and the value of a field named as a credential (`access_token=…`,
 *   `"client_secret":"…"`, `"accessToken":"…"`, `DB_PASSWORD=…`, `password="a quoted phrase"` whole).
 */

/*
 * Linear time on any text (a row answer can be a megabyte): a scheme is at most 32 characters, so a long
 * dotted run ("a.b.c…") tried at each letter costs 32 steps, not the rest of the run; QUERY takes a URL
 * whole, its query optional, so a URL without one is passed over, not scanned again from each later start.
 */
/** `scheme://user:password@` or `scheme://token@`. */
const USERINFO = /([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s/?#@:"'<>]*)(:[^\s/?#@"'<>]*)?@/gi;
/** A URL's query string or fragment, to the next blank, double quote, angle bracket or backtick. */
const QUERY = /([a-z][a-z0-9+.-]{0,31}:\/\/[^\s?#"'<>`]*)(?:([?#])[^\s"<>`]+)?/gi;
/** A header or field holding a credential, and its value up to a quote, line end, comma, semicolon or brace. */
const HEADER = /\b((?:proxy-)?authorization|cookie|set-cookie|x-api-key|api-key)(["']?\s*[:=]\s*["']?)[^"'\r\n,;}]+/gi;
/**
 * A field named as a credential, as a form (`password=…`), an environment (`DB_PASSWORD=…`) or JSON
 * (`"password":"…"`, `"accessToken":"…"`) writes it (not `password: Required`, a configuration problem's
 * words, nor `Password__c`, a field's name), and its value: a quoted one to its closing quote (escapes
 * included, blanks too), else up to a blank, quote, `&`, comma, semicolon or brace. The name may follow
 * a prefix of its word (`DB_`, `SF_CLIENT_`), taken lazily: a word is tried once, from its start.
 */
const FIELD =
  /\b([a-z0-9_]*?(?:access_?token|refresh_?token|id_?token|auth_?token|client_?secret|client_?assertion|private_?key|password|passwd|api_?key|secret_?key|session_?id|signature))(["']?\s*=\s*|["']\s*:\s*)(?:(["'])(?:[^"'\\\r\n]|\\.|(?!\3)["'])*|[^\s"'&,;}]+)/gi;
const BEARER = /\bBearer\s+[A-Za-z0-9\-._~+/]+=*/g;

/**
 * What each pattern above needs in the text: `://` (a URL), a header or field name, `Bearer`. A text
 * without any of them holds nothing to leave out, and is given back after this one test: row error
 * messages (a million of them from a bulk job's result files) are mostly such texts.
 */
const MAY_HOLD = /:\/\/|authorization|cookie|api[-_]?key|private_?key|bearer|token|secret|assertion|passw|session|signature/i;

/** `text` with every credential and query string a URL or header in it carries replaced by "…". */
export function withoutSecrets(text: string): string {
  if (!MAY_HOLD.test(text)) return text;
  // The URL patterns try each letter as a scheme's start: only where a URL can be.
  const urls = text.includes('://')
    ? text
        .replace(USERINFO, (_m, scheme: string, user: string, pass: string | undefined) =>
          pass === undefined ? `${scheme}…@` : `${scheme}${user}:…@`,
        )
        .replace(QUERY, (m, url: string, mark: string | undefined) => (mark === undefined ? m : `${url}${mark}…`))
    : text;
  return urls
    .replace(HEADER, '$1$2…')
    .replace(BEARER, 'Bearer …')
    .replace(FIELD, (_m, name: string, sep: string, quote: string | undefined) => `${name}${sep}${quote ?? ''}…`);
}

/**
 * Warnings (or any `{message}` entries, others as they are) with `withoutSecrets` applied to their
 * messages: a connector's warning can quote what its API answered.
 */
export function messagesWithoutSecrets<T>(items: readonly T[]): T[] {
  return items.map((w) => {
    const m = w && typeof w === 'object' ? (w as { message?: unknown }).message : undefined;
    return typeof m === 'string' && withoutSecrets(m) !== m ? { ...w, message: withoutSecrets(m) } : w;
  });
}
