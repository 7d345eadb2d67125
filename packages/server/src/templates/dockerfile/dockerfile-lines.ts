import { PaddockError } from '@paddock/protocol';

/** One instruction of a Dockerfile, its continuation lines joined. */
export interface LogicalLine {
  /** 1-based line number where the instruction starts (for error messages). */
  line: number;
  /** The instruction keyword, upper-cased (`RUN`, `COPY`, …). */
  keyword: string;
  /** Everything after the keyword, continuations joined, leading whitespace trimmed. */
  rest: string;
}

export interface DockerfileLines {
  /** The escape character (`\` unless a `# escape=` directive sets `` ` ``). */
  escape: string;
  lines: LogicalLine[];
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

/**
 * Splits Dockerfile text into instructions the way Docker does: parser directives only at the very
 * top, comment lines dropped (also between continuation lines), a line ending in the escape
 * character continues on the next one.
 */
export function dockerfileLines(text: string): DockerfileLines {
  const raw = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let escapeChar = '\\';
  let i = 0;
  // Directives: `# key=value` lines before any other line (a blank or comment ends them).
  for (; i < raw.length; i++) {
    const m = DIRECTIVE.exec(raw[i] ?? '');
    if (m === null) break;
    const key = (m[1] as string).toLowerCase();
    if (key === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw invalid(i + 1, `invalid escape directive "${m[2]}": use \\ or \``);
      escapeChar = m[2];
    }
    // `syntax` and `check` pick a BuildKit frontend or checks: not ours to follow, so ignored.
  }
  const lines: LogicalLine[] = [];
  let current: { line: number; text: string } | undefined;
  for (; i < raw.length; i++) {
    const line = raw[i] as string;
    const trimmed = line.trim();
    if (trimmed.startsWith('#')) continue;
    if (current === undefined && trimmed === '') continue;
    const continues = line.trimEnd().endsWith(escapeChar);
    const body = continues ? line.trimEnd().slice(0, -1) : line;
    if (current === undefined) current = { line: i + 1, text: body };
    else if (trimmed !== '') current.text += body;
    if (!continues) {
      lines.push(split(current));
      current = undefined;
    }
  }
  if (current !== undefined && current.text.trim() !== '') lines.push(split(current));
  return { escape: escapeChar, lines };
}

function split(current: { line: number; text: string }): LogicalLine {
  const text = current.text.trim();
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text);
  if (m === null) throw invalid(current.line, 'empty instruction');
  return { line: current.line, keyword: (m[1] as string).toUpperCase(), rest: (m[2] as string).trim() };
}

/** A Dockerfile error naming its line: what the API sends back as INVALID_ARGUMENT. */
export function invalid(line: number, message: string): PaddockError {
  return new PaddockError('INVALID_ARGUMENT', `Dockerfile line ${line}: ${message}`, { line });
}
