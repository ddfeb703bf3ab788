// The text side of `aerostore sql` (cli/sql.ts): where one statement ends
// and the next begins, and results and errors printed as psql prints them.
// Pure functions, no database.

export interface Statement {
  /** From its first non-blank character to before its `;`. */
  text: string;
  /** The line of the input its text starts on (1-based). */
  line: number;
}

/** What an unfinished statement is in the middle of, for the continuation prompt. */
export type OpenState = '' | "'" | '"' | '$' | '/*' | '(';

export interface Split {
  /** The complete statements, each ended by a `;`; those of comments alone are left out. */
  statements: Statement[];
  /** What follows the last `;`: the start of a statement not yet complete (or blanks). */
  rest: string;
  /** Whether `rest` holds anything but blanks and comments. */
  restHasContent: boolean;
  open: OpenState;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;

/**
 * Splits SQL text at the semicolons that end statements, as psql does: not
 * inside quotes ('…', E'…' with backslash escapes, "…", $tag$…$tag$),
 * comments (-- and nested /* *\/), parentheses, or a BEGIN … END block
 * (a CREATE FUNCTION … BEGIN ATOMIC body, CASE … END).
 */
export function splitStatements(input: string, firstLine = 1): Split {
  const statements: Statement[] = [];
  let start = 0; // of the current statement
  let hasContent = false;
  let parens = 0;
  let blocks = 0; // BEGIN/CASE … END depth
  let words = 0; // identifiers seen in the current statement
  let i = 0;
  let open: OpenState = '';
  const n = input.length;
  // The line of input[counted]: statements' lines are counted as they come.
  let line = firstLine;
  let counted = 0;

  const startStatementAt = (at: number) => {
    start = at;
    hasContent = false;
    parens = 0;
    blocks = 0;
    words = 0;
  };

  while (i < n) {
    const c = input[i];
    const next = input[i + 1];
    if (c === '-' && next === '-') {
      const eol = input.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (input[i] === '/' && input[i + 1] === '*') (depth++, (i += 2));
        else if (input[i] === '*' && input[i + 1] === '/') (depth--, (i += 2));
        else i++;
      }
      if (depth > 0) {
        open = '/*';
        break;
      }
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === ';' && parens === 0 && blocks === 0) {
      if (hasContent) {
        const raw = input.slice(start, i);
        const at = start + raw.length - raw.trimStart().length;
        line += countLines(input.slice(counted, at));
        counted = at;
        statements.push({ text: raw.trim(), line });
      }
      startStatementAt(i + 1);
      i++;
      continue;
    }
    hasContent = true;
    if (c === "'" || c === '"') {
      // E'…' (just before, not the end of a longer word): backslash escapes.
      const escapes = c === "'" && i > 0 && /[eE]/.test(input[i - 1]) && (i < 2 || !WORD.test(input[i - 2]));
      const end = closingQuote(input, i + 1, c, escapes);
      if (end === -1) {
        open = c;
        break;
      }
      i = end + 1;
      continue;
    }
    if (c === '$') {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(input.slice(i, i + 64));
      if (tag && !(i > 0 && WORD.test(input[i - 1]))) {
        const end = input.indexOf(tag[0], i + tag[0].length);
        if (end === -1) {
          open = '$';
          break;
        }
        i = end + tag[0].length;
        continue;
      }
      i++;
      continue;
    }
    if (WORD_START.test(c)) {
      let j = i + 1;
      while (j < n && WORD.test(input[j])) j++;
      const word = input.slice(i, j).toLowerCase();
      words++;
      // As psql counts them: a first BEGIN starts a transaction, not a block.
      if ((word === 'begin' || word === 'case') && words > 1) blocks++;
      else if (word === 'end' && blocks > 0) blocks--;
      i = j;
      continue;
    }
    if (c === '(') parens++;
    else if (c === ')' && parens > 0) parens--;
    i++;
  }
  if (open === '' && parens > 0) open = '(';
  return { statements, rest: input.slice(start), restHasContent: hasContent, open };
}

/** Where the quote `q` opened before `from` closes (a doubled quote is one inside it), or -1. */
function closingQuote(input: string, from: number, q: string, backslashEscapes: boolean): number {
  for (let i = from; i < input.length; i++) {
    if (backslashEscapes && input[i] === '\\') i++;
    else if (input[i] === q) {
      if (input[i + 1] !== q) return i;
      i++;
    }
  }
  return -1;
}

function countLines(text: string): number {
  let lines = 0;
  for (let k = text.indexOf('\n'); k !== -1; k = text.indexOf('\n', k + 1)) lines++;
  return lines;
}

/** A column of a result: its name and its type's oid. */
export interface Column {
  name: string;
  type: number;
}

/** int2, int4, int8, oid, float4, float8, numeric, money: right-aligned as psql does. */
const NUMERIC_TYPES = new Set([20, 21, 23, 26, 700, 701, 1700, 790]);

const width = (s: string) => [...s].length;
const padEnd = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - width(s)));
const padStart = (s: string, w: number) => ' '.repeat(Math.max(0, w - width(s))) + s;

function center(s: string, w: number): string {
  const space = Math.max(0, w - width(s));
  const left = Math.floor(space / 2);
  return ' '.repeat(left) + s + ' '.repeat(space - left);
}

const rowCount = (n: number) => `(${n} ${n === 1 ? 'row' : 'rows'})`;

/**
 * Rows as psql's aligned format prints them: headers centred, numbers to
 * the right, NULL as nothing, a value's further lines marked with `+`,
 * then the row count. Lines carry no trailing blanks.
 */
export function formatTable(columns: readonly Column[], rows: ReadonlyArray<ReadonlyArray<string | null>>): string {
  const cells = rows.map((row) => columns.map((_, c) => (row[c] ?? '').split('\n')));
  const widths = columns.map((col, c) => Math.max(width(col.name), ...cells.map((row) => Math.max(...row[c].map(width)))));
  const lines = [
    columns.map((col, c) => ` ${center(col.name, widths[c])} `).join('|'),
    widths.map((w) => '-'.repeat(w + 2)).join('+'),
  ];
  for (const row of cells) {
    const height = Math.max(1, ...row.map((cell) => cell.length));
    for (let k = 0; k < height; k++) {
      lines.push(
        row
          .map((cell, c) => {
            const text = cell[k] ?? '';
            const aligned = NUMERIC_TYPES.has(columns[c].type) ? padStart(text, widths[c]) : padEnd(text, widths[c]);
            return ` ${aligned}${k < cell.length - 1 ? '+' : ' '}`;
          })
          .join('|'),
      );
    }
  }
  lines.push(rowCount(rows.length));
  return lines.map((line) => line.trimEnd()).join('\n');
}

/** Rows as psql's expanded display (`\x`) prints them: one `name | value` line per column. */
export function formatExpanded(columns: readonly Column[], rows: ReadonlyArray<ReadonlyArray<string | null>>): string {
  if (rows.length === 0) return rowCount(0);
  const nameWidth = Math.max(...columns.map((col) => width(col.name)));
  const valueWidth = Math.max(0, ...rows.flatMap((row) => row.flatMap((v) => (v ?? '').split('\n').map(width))));
  const lines: string[] = [];
  rows.forEach((row, r) => {
    const title = `-[ RECORD ${r + 1} ]`;
    lines.push(title + '-'.repeat(Math.max(0, nameWidth + 3 + valueWidth - width(title))));
    columns.forEach((col, c) => {
      const parts = (row[c] ?? '').split('\n');
      parts.forEach((part, k) => {
        const name = k === 0 ? col.name : '';
        lines.push(`${padEnd(name, nameWidth)} | ${part}${k < parts.length - 1 ? '+' : ''}`);
      });
    });
  });
  return lines.map((line) => line.trimEnd()).join('\n');
}

/** How wide formatTable's lines are, to choose the expanded display when a table does not fit. */
export function tableWidth(columns: readonly Column[], rows: ReadonlyArray<ReadonlyArray<string | null>>): number {
  let total = 0;
  columns.forEach((col, c) => {
    const w = Math.max(width(col.name), ...rows.map((row) => Math.max(...(row[c] ?? '').split('\n').map(width))));
    total += w + 3;
  });
  return total - 1;
}

/** The command tag psql prints for a statement: `CREATE POLICY`, `INSERT 0 1`, `UPDATE 3`. */
export function commandTag(command: string, count: number | null): string {
  if (count === null) return command;
  return command === 'INSERT' ? `INSERT 0 ${count}` : `${command} ${count}`;
}

/** What Postgres reports of an error or a notice (postgres.js names the fields). */
export interface PostgresMessage {
  severity?: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
}

/**
 * An error or a notice in psql's words: the severity and message, the line
 * of the statement the position points into under `LINE <n>:` with a caret
 * below (n counted in the input, from the statement's first line), then
 * DETAIL, HINT and CONTEXT.
 */
export function formatMessage(m: PostgresMessage, statement?: Statement): string {
  const lines = [`${m.severity ?? 'ERROR'}:  ${m.message}`];
  const position = Number(m.position);
  if (statement && Number.isInteger(position) && position > 0) {
    const chars = [...statement.text];
    const before = chars.slice(0, position - 1).join('');
    const lineIndex = countLines(before);
    const lineStart = before.lastIndexOf('\n') + 1;
    const text = statement.text.split('\n')[lineIndex] ?? '';
    const prefix = `LINE ${statement.line + lineIndex}: `;
    lines.push(prefix + text, ' '.repeat(width(prefix) + width(before.slice(lineStart))) + '^');
  }
  if (m.detail) lines.push(`DETAIL:  ${m.detail}`);
  if (m.hint) lines.push(`HINT:  ${m.hint}`);
  if (m.where && m.severity !== 'NOTICE' && m.severity !== 'INFO') lines.push(`CONTEXT:  ${m.where}`);
  return lines.join('\n');
}
