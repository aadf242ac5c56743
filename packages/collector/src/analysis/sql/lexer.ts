/**
 * A small SQL lexer: words, quoted identifiers, strings, numbers, placeholders and punctuation,
 * with comments and white space skipped. It never decides the structure of a statement (the
 * parser does, `statement-accesses.ts`); it serves the three things node-sql-parser 5 does not
 * handle in every dialect: transaction control (`BEGIN IMMEDIATE`, `SET TRANSACTION ...`,
 * `END`), a trailing row-locking clause (`FOR UPDATE`, `FOR SHARE`, `LOCK IN SHARE MODE`), and
 * numbering `?` placeholders in text order (the parser's AST does not say where each `?` was).
 *
 * Placeholders, as each driver writes them: `?` and `?N` (SQLite, MySQL), `$N` (PostgreSQL),
 * `:name`, `@name` and `$name` (SQLite), and Python's `%s` and `%(name)s` (psycopg, PyMySQL;
 * `%%` is their escaped `%`).
 */
export interface Token {
  type: 'word' | 'ident' | 'string' | 'number' | 'param' | 'punct';
  /** The text as written (for `word`, upper-cased). */
  text: string;
  start: number;
  end: number;
}

const isWordStart = (c: string) => /[A-Za-z_\u0080-\uffff]/.test(c);
const isWordChar = (c: string) => /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
const isDigit = (c: string) => c >= '0' && c <= '9';

/** The tokens of `sql`, or null when a string, identifier or comment is left open. */
export function lex(sql: string): Token[] | null {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '#' && out.length >= 0 && sql[i + 1] === ' ') {
      // MySQL comment (`# ...`); `#` alone is an operator elsewhere.
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) return null;
      i = close + 2;
    } else if (c === "'" || c === '"' || c === '`' || c === '[') {
      const quote = c === '[' ? ']' : c;
      let j = i + 1;
      for (;;) {
        if (j >= n) return null;
        if (sql[j] === quote) {
          if (quote !== ']' && sql[j + 1] === quote) j += 2;
          else break;
        } else {
          j++;
        }
      }
      out.push({
        type: c === "'" ? 'string' : 'ident',
        text: sql.slice(i, j + 1),
        start: i,
        end: j + 1,
      });
      i = j + 1;
    } else if (c === '$' && isDigit(sql[i + 1] ?? '')) {
      let j = i + 1;
      while (j < n && isDigit(sql[j]!)) j++;
      out.push({ type: 'param', text: sql.slice(i, j), start: i, end: j });
      i = j;
    } else if (c === '$') {
      // PostgreSQL dollar quoting: $$...$$ or $tag$...$tag$; else SQLite's `$name` parameter.
      let j = i + 1;
      while (j < n && isWordChar(sql[j]!) && sql[j] !== '$') j++;
      if (sql[j] !== '$') {
        if (j === i + 1) return null;
        out.push({ type: 'param', text: sql.slice(i, j), start: i, end: j });
        i = j;
        continue;
      }
      const tag = sql.slice(i, j + 1);
      const close = sql.indexOf(tag, j + 1);
      if (close < 0) return null;
      out.push({
        type: 'string',
        text: sql.slice(i, close + tag.length),
        start: i,
        end: close + tag.length,
      });
      i = close + tag.length;
    } else if (c === '?') {
      let j = i + 1;
      while (j < n && isDigit(sql[j]!)) j++;
      out.push({ type: 'param', text: sql.slice(i, j), start: i, end: j });
      i = j;
    } else if ((c === ':' || c === '@') && isWordStart(sql[i + 1] ?? '') && sql[i - 1] !== ':') {
      let j = i + 1;
      while (j < n && isWordChar(sql[j]!)) j++;
      out.push({ type: 'param', text: sql.slice(i, j), start: i, end: j });
      i = j;
    } else if (c === '%' && sql[i + 1] === 's' && !isWordChar(sql[i + 2] ?? ' ')) {
      out.push({ type: 'param', text: '%s', start: i, end: i + 2 });
      i += 2;
    } else if (c === '%' && sql[i + 1] === '(') {
      const close = sql.indexOf(')s', i + 2);
      if (close < 0) return null;
      out.push({ type: 'param', text: sql.slice(i, close + 2), start: i, end: close + 2 });
      i = close + 2;
    } else if (c === '%' && sql[i + 1] === '%') {
      out.push({ type: 'punct', text: '%%', start: i, end: i + 2 });
      i += 2;
    } else if (isDigit(c) || (c === '.' && isDigit(sql[i + 1] ?? ''))) {
      let j = i;
      while (j < n && (isDigit(sql[j]!) || sql[j] === '.')) j++;
      if ((sql[j] === 'e' || sql[j] === 'E') && /[-+0-9]/.test(sql[j + 1] ?? '')) {
        j += 2;
        while (j < n && isDigit(sql[j]!)) j++;
      }
      out.push({ type: 'number', text: sql.slice(i, j), start: i, end: j });
      i = j;
    } else if (isWordStart(c)) {
      let j = i + 1;
      while (j < n && isWordChar(sql[j]!)) j++;
      out.push({ type: 'word', text: sql.slice(i, j).toUpperCase(), start: i, end: j });
      i = j;
    } else {
      out.push({ type: 'punct', text: c, start: i, end: i + 1 });
      i++;
    }
  }
  return out;
}

/** The name of a named placeholder (`:id`, `@id`, `$id`, `%(id)s` -> `id`); undefined for `?`, `$1`, `%s`. */
export function placeholderName(param: Token): string | undefined {
  const text = param.text;
  if (text.startsWith('%(')) return text.slice(2, -2);
  if (text === '%s' || text.startsWith('?')) return undefined;
  if (text.startsWith('$') && isDigit(text[1] ?? '')) return undefined;
  return text.slice(1);
}

/** Whether `tokens` from `at` are the words `words` (upper case). */
export function wordsAt(tokens: readonly Token[], at: number, ...words: string[]): boolean {
  return words.every((w, k) => {
    const t = tokens[at + k];
    return t !== undefined && t.type === 'word' && t.text === w;
  });
}
