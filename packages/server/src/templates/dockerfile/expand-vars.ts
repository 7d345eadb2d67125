/**
 * Docker's word handling for instruction arguments: variable expansion (`$V`, `${V}`,
 * `${V:-word}`, `${V-word}`, `${V:+word}`, `${V+word}`), quotes and the escape character.
 * Single quotes keep `$` literal; an escaped `$` is a literal dollar.
 */
export type Vars = Readonly<Record<string, string | undefined>>;

export interface WordOptions {
  escape: string;
  vars: Vars;
  /** Errors name the instruction's line. */
  fail: (message: string) => Error;
}

/** Splits on unquoted whitespace and expands each word. */
export function splitWords(text: string, options: WordOptions): string[] {
  return new WordReader(text, options).words(true);
}

/** Expands one value with quotes removed (ENV values, WORKDIR, USER, FROM). */
export function expandWord(text: string, options: WordOptions): string {
  return new WordReader(text, options).words(false).join('');
}

class WordReader {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly options: WordOptions,
  ) {}

  words(splitOnSpace: boolean): string[] {
    const out: string[] = [];
    let word = '';
    let inWord = false;
    const { text } = this;
    while (this.pos < text.length) {
      const c = text[this.pos] as string;
      if (splitOnSpace && /\s/.test(c)) {
        if (inWord) out.push(word);
        word = '';
        inWord = false;
        this.pos++;
        continue;
      }
      inWord = true;
      if (c === "'") {
        word += this.until("'", false);
      } else if (c === '"') {
        word += this.until('"', true);
      } else if (c === this.options.escape && this.pos + 1 < text.length) {
        word += text[this.pos + 1];
        this.pos += 2;
      } else if (c === '$') {
        word += this.variable();
      } else {
        word += c;
        this.pos++;
      }
    }
    if (inWord || !splitOnSpace) out.push(word);
    return out;
  }

  /** Reads a quoted string (the opening quote at `pos`); double quotes expand variables. */
  private until(quote: string, expand: boolean): string {
    const { text } = this;
    this.pos++;
    let out = '';
    while (this.pos < text.length) {
      const c = text[this.pos] as string;
      if (c === quote) {
        this.pos++;
        return out;
      }
      if (expand && c === this.options.escape && this.pos + 1 < text.length) {
        const next = text[this.pos + 1] as string;
        // In double quotes the escape only escapes what would be special.
        if (next === '"' || next === '$' || next === this.options.escape) {
          out += next;
          this.pos += 2;
          continue;
        }
      }
      if (expand && c === '$') {
        out += this.variable();
        continue;
      }
      out += c;
      this.pos++;
    }
    throw this.options.fail(`unterminated ${quote} quote`);
  }

  /** `$` at `pos`: a variable reference, or a literal `$`. */
  private variable(): string {
    const { text } = this;
    this.pos++;
    if (text[this.pos] === '{') {
      const end = this.closingBrace(this.pos);
      const inner = text.slice(this.pos + 1, end);
      this.pos = end + 1;
      return this.braced(inner);
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(this.pos));
    if (m === null) return '$';
    this.pos += m[0].length;
    return this.options.vars[m[0]] ?? '';
  }

  private closingBrace(open: number): number {
    let depth = 0;
    for (let i = open; i < this.text.length; i++) {
      if (this.text[i] === '{') depth++;
      else if (this.text[i] === '}' && --depth === 0) return i;
    }
    throw this.options.fail('missing } in a braced variable');
  }

  private braced(inner: string): string {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([\s\S]*))?$/.exec(inner);
    if (m === null) throw this.options.fail(`unsupported variable form \${${inner}}`);
    const value = this.options.vars[m[1] as string];
    const op = m[2];
    if (op === undefined) return value ?? '';
    const word = (): string => expandWord(m[3] ?? '', this.options);
    const set = op.startsWith(':') ? value !== undefined && value !== '' : value !== undefined;
    if (op.endsWith('-')) return set ? (value as string) : word();
    return set ? word() : '';
  }
}
