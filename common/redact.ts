/**
 * Failure text without the secrets and row values a URL or a header it quotes can carry. A failure's
 * message goes into Temporal history (in clear, even with a payload codec), a pending activity's last
 * failure, a run's record in the state database and the worker's log; a library's error often names the
 * request it made: `request to https://user:pass@host/path?access_token=…&q=SELECT … WHERE key='…' failed`,
 * `{"Authorization":"Bearer …"}`. What stays says what failed and where (scheme, user, host, path, the
 * names of a query's parameters).
 *
 * - a URL's password (`https://user:pass@host` → `https://user:…@host`), or its whole user part when it
 *   has no password (a token: `https://ghp_x@host` → `https://…@host`); the same in a URL-encoded URL
 *   (`https%3A%2F%2Fuser%3A…%40host`), whose query string goes whole (`…%2Fcb%3F…`);
 * - the value of every query or fragment parameter (`?page=…&access_token=…&q=…#…`), a part without a
 *   name (`?…`), except a paging or format parameter's plain value: a number for `page`, `limit`,
 *   `offset`, … (NUMBER_PARAMS), a word or list of words for `sort`, `fields`, `format`, `api-version`,
 *   `sslmode`, … (WORD_PARAMS): `?page=2&limit=100` stays. Values are left out by default, not by name: a query carries keys,
 *   signatures, OAuth codes and states under names no list can hold (`sig`, `X-Amz-Credential`, `code`,
 *   `hapikey`, `k`), and row values (`q=SELECT … WHERE Email='…'`, `email=…`, `id=…`);
 * - the value of an Authorization, Proxy-Authorization or API key header or field, of a header named as a
 *   token, key, secret, signature or session (`X-Auth-Token`, `X-Amz-Security-Token`, `Private-Token`,
 *   `Ocp-Apim-Subscription-Key`, `X-Hub-Signature-256`, `X-…`; an Authorization written `name=value`: its
 *   scheme, any, and credential), a Cookie or Set-Cookie value whole (to its
 *   line's end, closing quote or brace, or an array's `]`: all its pairs), and a bare `Bearer <token>`;
 * - the value of a field named as a credential (`token=…`, `access_token=…`, `"client_secret":"…"`,
 *   `"accessToken":"…"`, `GITHUB_TOKEN=…`, `AccountKey=…`, `DB_PASSWORD=…`, `password="a quoted phrase"`
 *   whole, `access_token%3D…` URL-encoded); written `name: value` (a log line, YAML), unless the value is a
 *   plain word or a number of up to three digits: `password: Required` (a configuration problem's words),
 *   `refresh token: 400 Bad Request`, `INVALID_SESSION_ID: Session expired` stay, `token: eyJ…` goes.
 *
 * Not recognised: a credential under a name none of these patterns knows outside a URL's query
 * (`"k": "…"`), a doubly URL-encoded one (`%253D`), an Authorization value past a comma (`Digest …,
 * response="…"`), a plain-word password written `password: hunter`.
 */

/*
 * Linear time on any text (a row answer can be a megabyte): a scheme is at most 32 characters, so a long
 * dotted run ("a.b.c…") tried at each letter costs 32 steps, not the rest of the run; QUERY takes a URL
 * whole, its query optional, so a URL without one is passed over, not scanned again from each later start
 * (ENC_QUERY the same); an `X-` header's name is read at most 42 characters in; a field's name is tried once from
 * each word's start; the plain-word look-ahead reads at most 16 characters; AUTH_EQ's scheme at most 32.
 */
/** `scheme://user:password@` or `scheme://token@`. */
const USERINFO = /([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s/?#@:"'<>]*)(:[^\s/?#@"'<>]*)?@/gi;
/** A URL's query string or fragment, to the next blank, double quote, angle bracket or backtick. */
const QUERY = /([a-z][a-z0-9+.-]{0,31}:\/\/[^\s?#"'<>`]*)(?:([?#])([^\s"<>`]+))?/gi;
/** The same two in a URL-encoded URL (`https%3A%2F%2Fuser%3Apass%40host%2Fp%3Fq%3D1`), to a blank, a quote or `&`. */
const ENC_USERINFO =
  /([a-z][a-z0-9+.-]{0,31}%3A%2F%2F)((?:[^\s/?#@:%"'<>&]|%(?!3A|40|2F|3F|23)[0-9a-f]{2})*)(?:(%3A)(?:[^\s/?#@%"'<>&]|%(?!40|2F|3F|23)[0-9a-f]{2})*)?%40/gi;
const ENC_QUERY = /([a-z][a-z0-9+.-]{0,31}%3A%2F%2F(?:[^\s%"'<>&]|%(?!3F|23)[0-9a-f]{2})*)(?:(%3F|%23)[^\s"'<>&]*)?/gi;
/**
 * Query and fragment parameters whose value says how a request pages or formats, never what it carries:
 * kept when a number of up to 9 digits (NUMBER_PARAMS; not a paging cursor, which can encode a key) or a
 * plain word or list of words (WORD_PARAMS). Any other parameter's value is left out.
 */
const NUMBER_PARAMS = new Set(
  'page pagesize page_size per_page perpage limit offset skip top $top $skip count size timeout connect_timeout'.split(' '),
);
const WORD_PARAMS = new Set(
  'sort sortby sort_by order orderby order_by $orderby direction fields $select include expand $expand format $format api-version api_version apiversion version lang locale sslmode'.split(
    ' ',
  ),
);
const PARAM_NAME = /^[a-z0-9_$.[\]-]{1,40}$/i;
const NUMBER_VALUE = /^\d{0,9}$/;
const WORD_VALUE = /^[a-z0-9_.,:+-]{0,64}$/i;
/** `?a=1&b=2#c=3` with each value left out but a plain one of those above, each part without a name whole. */
function queryWithoutValues(q: string): string {
  const hash = q.indexOf('#', 1);
  const sections = q[0] === '#' || hash < 0 ? [q] : [q.slice(0, hash), q.slice(hash)];
  return sections
    .map(
      (s) =>
        s[0] +
        s
          .slice(1)
          .split('&')
          .map((p) => {
            if (p === '') return p;
            const eq = p.indexOf('=');
            const name = eq < 0 ? '' : p.slice(0, eq);
            if (!PARAM_NAME.test(name)) return '…';
            const n = name.toLowerCase();
            const value = p.slice(eq + 1);
            return (NUMBER_PARAMS.has(n) && NUMBER_VALUE.test(value)) || (WORD_PARAMS.has(n) && WORD_VALUE.test(value)) ? p : `${name}=…`;
          })
          .join('&'),
    )
    .join('');
}
/**
 * A header or field holding a credential: Authorization, an `X-` header whose last part (after a `-`) is
 * a token, key, secret, signature, session or password (`X-Api-Key`, `X-Auth-Token`), a `…-Token` or `…-Key` header of the kinds APIs use. Its value written
 * `name: value` (a header) up to a quote, line end, comma, semicolon, `&` or brace; written `name=value`
 * (a query parameter, a form) a quoted one to its quote, else a scheme (`Basic `) and one word.
 */
const HEADER =
  /\b((?:proxy-)?authorization|x-(?:[a-z0-9-]{0,40}?-)?(?:token|key|secret|signature(?:-256)?|session(?:-?id)?|password)|(?:private|access|auth|api|session|refresh|id|csrf|xsrf)-token|(?:api|subscription|access|secret|private|account|functions|master)-key)(?:(["']?\s*:\s*["']?)[^"'\r\n,;}&]+|(["']?\s*=\s*)(?:(["'])[^"'\r\n]*|(?:(?:basic|bearer|digest|token|negotiate|ntlm)\s+)?[^\s"'&,;}]+))/gi;
/**
 * An Authorization written `name=value` unquoted: its scheme, whichever it is (`OAuth`, a CRM's; `SSWS`,
 * `SharedKey`, `AWS4-HMAC-SHA256`), and the credential after it, to a blank, quote, `&`, comma, semicolon or
 * brace. A credential without a scheme cannot be told from one: the word after it goes too. (HEADER takes one
 * word after the schemes it knows, which left the credential after any other.)
 */
const AUTH_EQ = /\b((?:proxy-)?authorization)(["']?\s*=\s*)(?!["'\s])[a-z][a-z0-9._-]{0,31}[ \t]+[^\s"'&,;}]+/gi;
/** A Cookie or Set-Cookie value whole: to the line's end, a quote or a brace, or an array to its `]`. */
const COOKIE = /\b((?:set-)?cookie)(["']?\s*[:=]\s*["']?)(?:\[[^\]\r\n]*\]?|[^"'\r\n}]+)/gi;
/**
 * The names of credential fields: a word ending so (`token`, `access_token`, `GITHUB_TOKEN`, `apiToken`,
 * `client_secret`, `DB_PASSWORD`, `AccountKey`); the prefix is taken lazily, a word tried once, from its start.
 */
const NAME = String.raw`\b([a-z0-9_]*?(?:token|secret|client_?assertion|private_?key|password|passwd|api_?key|secret_?key|access_?key|account_?key|session_?id|sig(?:nature)?))`;
/**
 * A field named as a credential, as a form (`password=…`), an environment (`DB_PASSWORD=…`), JSON
 * (`"password":"…"`, `"accessToken":"…"`) or a log line (`access_token: …`) writes it (not `Password__c`,
 * a field's name; nor, written `name: value`, a plain word or a status, quoted or not: `password: Required`,
 * `unexpected token: 'FROM'`), and its
 * value: a quoted one to its closing quote (escapes included, blanks too), else up to a blank, quote, `&`,
 * comma, semicolon or brace.
 */
const FIELD = new RegExp(
  NAME +
    String.raw`(?:(["']?\s*=\s*|["']\s*:\s*)|(\s*:[ \t]*)(?!["']?(?:[a-z]{1,15}|\d{1,3})(?=[.)\]]?(?:[\s"'&,;}]|$))))(?:(["'])(?:[^"'\\\r\n]|\\.|(?!\4)["'])*|[^\s"'&,;}]+)`,
  'gi',
);
/** The same URL-encoded (`access_token%3D…`), its value to the next `%26` (an encoded `&`). */
const ENC_FIELD = new RegExp(NAME + String.raw`(%3D)(?:[^\s"'&,;}%]|%(?!26))+`, 'gi');
const BEARER = /\bBearer\s+[A-Za-z0-9\-._~+/]+=*/g;

/**
 * What each pattern above needs in the text: `://` or its encoding (a URL), a header or field name,
 * `Bearer`. A text without any of them holds nothing to leave out, and is given back after this one test:
 * row error messages (a million of them from a bulk job's result files) are mostly such texts.
 */
const MAY_HOLD =
  /:\/\/|%3a%2f%2f|authorization|cookie|api[-_]?key|private_?key|access_?key|account_?key|-key|bearer|token|secret|assertion|passw|session|sig(?:nature|(?![a-z]))/i;

/** `text` with every credential and query value a URL or header in it carries replaced by "…". */
export function withoutSecrets(text: string): string {
  if (!MAY_HOLD.test(text)) return text;
  // The URL patterns try each letter as a scheme's start: only where a URL can be.
  let out = text.includes('://')
    ? text
        .replace(USERINFO, (_m, scheme: string, user: string, pass: string | undefined) =>
          pass === undefined ? `${scheme}…@` : `${scheme}${user}:…@`,
        )
        .replace(QUERY, (m, url: string, mark: string | undefined, rest: string | undefined) =>
          mark === undefined ? m : url + queryWithoutValues(mark + rest),
        )
    : text;
  const encoded = /%3a%2f%2f|%3d/i.test(out);
  if (encoded && /%3a%2f%2f/i.test(out))
    out = out
      .replace(ENC_USERINFO, (_m, scheme: string, user: string, colon: string | undefined) =>
        colon === undefined ? `${scheme}…%40` : `${scheme}${user}${colon}…%40`,
      )
      .replace(ENC_QUERY, (m, url: string, mark: string | undefined) => (mark === undefined ? m : `${url}${mark}…`));
  if (encoded) out = out.replace(ENC_FIELD, '$1$2…');
  return out
    .replace(COOKIE, '$1$2…')
    .replace(AUTH_EQ, '$1$2…')
    .replace(HEADER, (_m, name: string, colon: string | undefined, eq: string | undefined, quote: string | undefined) =>
      colon === undefined ? `${name}${eq}${quote ?? ''}…` : `${name}${colon}…`,
    )
    .replace(BEARER, 'Bearer …')
    .replace(
      FIELD,
      (_m, name: string, sep: string | undefined, colon: string | undefined, quote: string | undefined) =>
        `${name}${sep ?? colon}${quote ?? ''}…`,
    );
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
