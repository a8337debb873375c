/**
 * Highlighting of `%%sqlflow` cells (issue 5).
 *
 * Two editor extensions:
 * - `sqlModeExtension` switches a cell's model to `text/x-sql` while its source starts
 *   with `%%sqlflow` (JupyterLab 4 then loads @codemirror/lang-sql for it), and back.
 *   This is the approach of jupyterlab-lsp 5's syntax_highlighting feature.
 * - `sqlflowDecorations` marks what DuckDB's SQL grammar does not know: the magic line,
 *   the transform header words (MODE, KEY, INCREMENTAL BY, LOOKBACK, EXPECT ...), the
 *   target's name, the window macros (`@start_dt` ...) and `$variable` parameters.
 */

import { RangeSetBuilder } from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  ViewPlugin,
  ViewUpdate
} from '@codemirror/view';
import { CodeEditor } from '@jupyterlab/codeeditor';

export const MAGIC_RE = /^\s*%%sqlflow\b/;

const SQL_MIME = 'text/x-sql';
const PYTHON_MIMES = ['text/x-ipython', 'text/x-python'];

/** Keep the model's mimeType in step with the cell's first line. */
export function syncSqlMode(model: CodeEditor.IModel): void {
  let original: string | null = null;
  const sync = (): void => {
    const isSql = MAGIC_RE.test(model.sharedModel.getSource());
    if (isSql && PYTHON_MIMES.includes(model.mimeType)) {
      original = model.mimeType;
      model.mimeType = SQL_MIME;
    } else if (!isSql && model.mimeType === SQL_MIME && original) {
      const back = original;
      original = null;
      model.mimeType = back;
    }
  };
  model.sharedModel.changed.connect(sync);
  // The notebook resets each cell's mimeType when the kernel's language_info arrives.
  model.mimeTypeChanged.connect(sync);
  setTimeout(sync, 0);
}

/** Words of a transform header (between `MODE` and `AS`) that are sqlflow's, not SQL's. */
const HEADER_WORDS = new Set([
  'MODE',
  'REPLACE',
  'APPEND',
  'UPSERT',
  'INCREMENTAL',
  'KEY',
  'BY',
  'LOOKBACK',
  'EXPECT',
  'FRESH',
  'WITHIN',
  'WARN'
]);

const MACRO_RE = /^@(start|end)_(dt|date)$/i;

const marks = {
  magic: Decoration.mark({ class: 'cm-sqlflow-magic' }),
  keyword: Decoration.mark({ class: 'cm-sqlflow-keyword' }),
  target: Decoration.mark({ class: 'cm-sqlflow-target' }),
  macro: Decoration.mark({ class: 'cm-sqlflow-macro' }),
  param: Decoration.mark({ class: 'cm-sqlflow-param' })
};

type Kind = keyof typeof marks;
type Token = { kind: 'word' | 'ident' | 'punct' | 'at' | 'dollar'; from: number; to: number };
export type Span = { kind: Kind; from: number; to: number };

/** Split SQL into the tokens the header scan needs; strings and comments are skipped. */
function tokenize(text: string, start: number): Token[] {
  const tokens: Token[] = [];
  let i = start;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && text[i + 1] === '-') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === "'") {
      i++;
      while (i < n) {
        if (text[i] === "'" && text[i + 1] === "'") i += 2;
        else if (text[i++] === "'") break;
      }
    } else if (c === '"') {
      const from = i++;
      while (i < n) {
        if (text[i] === '"' && text[i + 1] === '"') i += 2;
        else if (text[i++] === '"') break;
      }
      tokens.push({ kind: 'ident', from, to: i });
    } else if ((c === '@' || c === '$') && /[A-Za-z_]/.test(text[i + 1] ?? '')) {
      const from = i++;
      while (i < n && /\w/.test(text[i])) i++;
      tokens.push({ kind: c === '@' ? 'at' : 'dollar', from, to: i });
    } else if (/\w/.test(c)) {
      const from = i;
      while (i < n && /[\w$]/.test(text[i])) i++;
      tokens.push({ kind: 'word', from, to: i });
    } else {
      tokens.push({ kind: 'punct', from: i, to: ++i });
    }
  }
  return tokens;
}

/**
 * The sqlflow spans of a cell, in document order; empty unless it starts with `%%sqlflow`.
 *
 * A header is `CREATE TABLE <name> MODE ... AS`: its words are marked at parenthesis depth
 * 0 only, so `KEY (id)` marks KEY but not the column, and `EXPECT (x > 0)` leaves the SQL
 * expression to the SQL highlighter.
 */
export function sqlflowSpans(text: string): Span[] {
  const magic = MAGIC_RE.exec(text);
  if (!magic) {
    return [];
  }
  const from = magic[0].indexOf('%');
  const lineEnd = text.indexOf('\n', from) < 0 ? text.length : text.indexOf('\n', from);
  const spans: Span[] = [{ kind: 'magic', from, to: lineEnd }];
  const tokens = tokenize(text, lineEnd);
  const word = (t: Token | undefined, w: string): boolean =>
    !!t && t.kind === 'word' && text.slice(t.from, t.to).toUpperCase() === w;

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind === 'at' && MACRO_RE.test(text.slice(t.from, t.to))) {
      spans.push({ kind: 'macro', from: t.from, to: t.to });
    } else if (t.kind === 'dollar') {
      spans.push({ kind: 'param', from: t.from, to: t.to });
    }
    if (!(word(t, 'CREATE') && word(tokens[i + 1], 'TABLE'))) {
      continue;
    }
    // <name>: identifiers joined by dots.
    let j = i + 2;
    const nameFrom = j;
    while (tokens[j] && (tokens[j].kind === 'word' || tokens[j].kind === 'ident')) {
      const dot = tokens[j + 1];
      if (dot && dot.kind === 'punct' && text[dot.from] === '.') j += 2;
      else {
        j++;
        break;
      }
    }
    if (j === nameFrom || !word(tokens[j], 'MODE')) {
      continue;
    }
    spans.push({ kind: 'target', from: tokens[nameFrom].from, to: tokens[j - 1].to });
    let depth = 0;
    for (; j < tokens.length; j++) {
      const h = tokens[j];
      const s = text.slice(h.from, h.to);
      if (h.kind === 'punct') {
        if (s === '(') depth++;
        else if (s === ')') depth = Math.max(0, depth - 1);
        else if (s === ';') break;
      } else if (h.kind === 'word' && depth === 0) {
        const upper = s.toUpperCase();
        if (upper === 'AS') break;
        if (HEADER_WORDS.has(upper)) spans.push({ kind: 'keyword', from: h.from, to: h.to });
      }
    }
    i = j;
  }
  return spans.sort((a, b) => a.from - b.from);
}

function build(view: EditorView): DecorationSet {
  const builder = new RangeSetBuilder<Decoration>();
  const doc = view.state.doc;
  // Every editor gets this plugin (file editors too): look at the head before the whole text.
  if (!MAGIC_RE.test(doc.sliceString(0, 256))) {
    return builder.finish();
  }
  for (const span of sqlflowSpans(doc.toString())) {
    if (span.to > span.from) builder.add(span.from, span.to, marks[span.kind]);
  }
  return builder.finish();
}

/** Marks sqlflow's own syntax in `%%sqlflow` cells; a no-op in every other editor. */
export const sqlflowDecorations = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = build(view);
    }
    update(update: ViewUpdate): void {
      if (update.docChanged) this.decorations = build(update.view);
    }
  },
  { decorations: v => v.decorations }
);
