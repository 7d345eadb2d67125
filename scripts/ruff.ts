/**
 * Lints every .py file under python/ with ruff (its WebAssembly build, an npm dev dependency:
 * PyPI is not needed). The settings are python/pyproject.toml's `[tool.ruff]`, read with
 * Python's tomllib, so a pip-installed ruff sees the same rules. The wasm build checks text,
 * not paths, so `lint.per-file-ignores` is applied here.
 *
 *   node --import tsx scripts/ruff.ts          # print `file:line:col code message`, exit 1 on findings
 *   node --import tsx scripts/ruff.ts --fix    # apply ruff's fixes first (review the diff)
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Diagnostic, PositionEncoding, Workspace } from '@astral-sh/ruff-wasm-nodejs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PYTHON_DIR = join(ROOT, 'python');
const MAX_FIX_PASSES = 10;

interface RuffSettings {
  lint?: { 'per-file-ignores'?: Record<string, string[]> } & Record<string, unknown>;
  [key: string]: unknown;
}

/** `[tool.ruff]` of python/pyproject.toml (Python ≥ 3.11 has tomllib; Debian 12's does). */
function readSettings(): RuffSettings {
  const script = 'import json,sys,tomllib; print(json.dumps(tomllib.load(open(sys.argv[1],"rb"))["tool"]["ruff"]))';
  const out = execFileSync('/usr/bin/python3', ['-c', script, join(PYTHON_DIR, 'pyproject.toml')], {
    encoding: 'utf8',
  });
  return JSON.parse(out) as RuffSettings;
}

function pythonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === '__pycache__' ? [] : pythonFiles(path);
    return entry.name.endsWith('.py') ? [path] : [];
  });
}

/** A `per-file-ignores` glob (`*` within a segment, `**` across) as a RegExp on paths under python/. */
function globToRegExp(glob: string): RegExp {
  const source = glob
    .split('**')
    .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
    .join('.*');
  return new RegExp(`^${source}$`);
}

function ignoredCodes(path: string, perFile: Record<string, string[]>): string[] {
  const rel = relative(PYTHON_DIR, path);
  return Object.entries(perFile).flatMap(([glob, codes]) => (globToRegExp(glob).test(rel) ? codes : []));
}

function offsetOf(text: string, row: number, column: number): number {
  let offset = 0;
  for (let line = 1; line < row; line++) offset = text.indexOf('\n', offset) + 1;
  return offset + column - 1;
}

/** Applies the fixes that do not overlap an earlier one; returns the new text. */
function applyFixes(text: string, diagnostics: Diagnostic[]): string {
  const edits = diagnostics
    .flatMap((d) => d.fix?.edits ?? [])
    .map((e) => ({
      start: offsetOf(text, e.location.row, e.location.column),
      end: offsetOf(text, e.end_location.row, e.end_location.column),
      content: e.content ?? '',
    }))
    .sort((a, b) => b.start - a.start);
  let out = text;
  let floor = Number.POSITIVE_INFINITY;
  for (const edit of edits) {
    if (edit.end > floor) continue;
    out = out.slice(0, edit.start) + edit.content + out.slice(edit.end);
    floor = edit.start;
  }
  return out;
}

function main(): void {
  const fix = process.argv.includes('--fix');
  const settings = readSettings();
  const perFile = settings.lint?.['per-file-ignores'] ?? {};
  const { 'per-file-ignores': _applied, ...lint } = settings.lint ?? {};
  const workspace = new Workspace({ ...settings, lint }, PositionEncoding.Utf16);
  const check = (text: string): Diagnostic[] => workspace.check(text) as Diagnostic[];
  let findings = 0;
  for (const path of pythonFiles(PYTHON_DIR).sort()) {
    const ignored = ignoredCodes(path, perFile);
    const relevant = (text: string): Diagnostic[] =>
      check(text).filter((d) => !ignored.some((code) => d.code?.startsWith(code)));
    let text = readFileSync(path, 'utf8');
    if (fix) {
      const original = text;
      for (let pass = 0; pass < MAX_FIX_PASSES; pass++) {
        const next = applyFixes(text, relevant(text));
        if (next === text) break;
        text = next;
      }
      if (text !== original) writeFileSync(path, text);
    }
    for (const d of relevant(text)) {
      findings++;
      const where = `${relative(ROOT, path)}:${d.start_location.row}:${d.start_location.column}`;
      console.log(`${where} ${d.code ?? 'syntax'} ${d.message}`);
    }
  }
  if (findings > 0) {
    console.error(`ruff: ${findings} finding(s)`);
    process.exitCode = 1;
  }
}

main();
