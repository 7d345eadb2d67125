/**
 * Generates `python/src/paddock/_protocol.py`, the Python SDK's copy of the wire contract,
 * from the protocol package's zod schemas (through `z.toJSONSchema`) and its error registry:
 * every enum as a `Literal`, every object as a `TypedDict` with the wire's camelCase keys,
 * every tagged union as a `Union` of one `TypedDict` per tag, and `ErrorCode`.
 *
 *   node --import tsx scripts/gen-python-models.ts           # rewrite the file
 *   node --import tsx scripts/gen-python-models.ts --check   # exit 1 when it differs
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import * as protocol from '../packages/protocol/src/index.js';

type Schema = {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  const?: unknown;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  anyOf?: Schema[];
  oneOf?: Schema[];
};

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = join(ROOT, 'packages/protocol/src');
const TARGET = join(ROOT, 'python/src/paddock/_protocol.py');
const HEADER = '# Generated from packages/protocol/src by scripts/gen-python-models.ts — do not edit';

/** Every exported zod schema, by its export name, as JSON Schema with `$ref`s by name. */
function jsonSchemas(): Record<string, Schema> {
  const registry = z.registry<{ id: string }>();
  for (const [name, value] of Object.entries(protocol)) {
    if (value instanceof z.ZodType) registry.add(value, { id: name });
  }
  const { schemas } = z.toJSONSchema(registry, { io: 'output', unrepresentable: 'any', uri: (id) => id });
  return schemas as Record<string, Schema>;
}

/** What the generated module may take from `typing` (it imports those it uses). */
const TYPING_NAMES = ['Any', 'Literal', 'Optional', 'TypedDict', 'Union'];

/** Wire keys that are Python keywords need TypedDict's functional form. */
const PY_KEYWORDS = new Set(['from', 'class', 'def', 'import', 'global', 'lambda', 'pass', 'in', 'is', 'not', 'or']);

/** The JSDoc right above `export const name` in the protocol sources, as reST-ish text. */
function docOf(name: string, sources: Map<string, string>): string {
  for (const [file, text] of sources) {
    const at = text.indexOf(`export const ${name} =`);
    if (at < 0) continue;
    const before = text.slice(0, at).trimEnd();
    const where = `\`\`${name}\`\` in packages/protocol/src/${file}.`;
    if (!before.endsWith('*/')) return where;
    const body = before.slice(before.lastIndexOf('/**') + 3, -2);
    const lines = body.split('\n').map((line) => line.replace(/^\s*\* ?/, '').trimEnd());
    const prose = lines
      .join('\n')
      .trim()
      .replace(/\{@link ([^}]+)\}/g, '`$1`')
      .replace(/`([^`]+)`/g, '``$1``');
    return `${prose}\n\n${where}`;
  }
  return `\`\`${name}\`\` of the protocol.`;
}

/** A JSON literal (string, number, boolean, null) as Python source: `Literal[True]`, not `true`. */
function pyString(value: unknown): string {
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (value === null) return 'None';
  return JSON.stringify(value);
}

function docstring(text: string, indent: string): string {
  const safe = text.replace(/\\/g, '\\\\').replace(/"""/g, '\\"\\"\\"');
  return `${indent}"""${safe
    .split('\n')
    .join(`\n${indent}`)
    .replace(/[ ]+\n/g, '\n')}"""\n`;
}

function pascal(tag: string): string {
  return tag.replace(/(^|[_-])([a-z])/g, (_m, _sep, c: string) => c.toUpperCase());
}

/** `Name[\n    a,\n    b,\n]` when one line would be long. */
function bracketed(name: string, items: string[], prefix: string): string {
  const oneLine = `${prefix}${name}[${items.join(', ')}]`;
  if (oneLine.length <= 100) return oneLine;
  return `${prefix}${name}[\n${items.map((item) => `    ${item},`).join('\n')}\n]`;
}

function isTaggedObject(s: Schema): boolean {
  return s.type === 'object' && typeof s.properties?.type?.const === 'string';
}

/** The Python type of a schema used inside another. */
function pyType(s: Schema): string {
  if (s.$ref !== undefined) return s.$ref;
  if (s.enum !== undefined) return `Literal[${s.enum.map(pyString).join(', ')}]`;
  if (s.const !== undefined) return `Literal[${pyString(s.const)}]`;
  const options = s.anyOf ?? s.oneOf;
  if (options !== undefined) {
    const types = [...new Set(options.map(pyType))];
    const nonNull = types.filter((t) => t !== 'None');
    const joined = nonNull.length === 1 ? (nonNull[0] as string) : `Union[${nonNull.join(', ')}]`;
    return nonNull.length < types.length ? `Optional[${joined}]` : joined;
  }
  switch (s.type) {
    case 'string':
      return 'str';
    case 'integer':
      return 'int';
    case 'number':
      return 'float';
    case 'boolean':
      return 'bool';
    case 'null':
      return 'None';
    case 'array':
      return `list[${s.items === undefined ? 'Any' : pyType(s.items)}]`;
    case 'object':
      if (s.properties === undefined && typeof s.additionalProperties === 'object') {
        return `dict[str, ${pyType(s.additionalProperties)}]`;
      }
      return 'dict[str, Any]';
    default:
      return 'Any';
  }
}

/** A TypedDict: required keys in a base, optional ones with `total=False` (Python 3.9 has no NotRequired). */
function typedDict(name: string, s: Schema, doc: string): string {
  const props = Object.entries(s.properties ?? {});
  const required = new Set(s.required ?? []);
  const part = (keys: [string, Schema][], partName: string, base: string, total: boolean): string => {
    const totalArg = total ? '' : ', total=False';
    if (keys.some(([key]) => !/^[A-Za-z_]\w*$/.test(key) || PY_KEYWORDS.has(key))) {
      // A key such as `from` is no Python name: the functional form, with types as strings.
      const fields = keys.map(([key, value]) => `        ${pyString(key)}: ${pyString(pyType(value))},\n`).join('');
      return `${partName} = TypedDict(\n    ${pyString(partName)},\n    {\n${fields}    }${totalArg ? ',\n    total=False' : ''},\n)\n`;
    }
    const body =
      keys.length === 0 ? '    pass\n' : keys.map(([key, value]) => `    ${key}: ${pyType(value)}\n`).join('');
    const docLines = partName === name ? docstring(doc, '    ') + (keys.length ? '\n' : '') : '';
    return `class ${partName}(${base}${totalArg}):\n${docLines}${keys.length === 0 && docLines ? '' : body}`;
  };
  const mandatory = props.filter(([key]) => required.has(key));
  const optional = props.filter(([key]) => !required.has(key));
  if (optional.length === 0) return part(mandatory, name, 'TypedDict', true);
  if (mandatory.length === 0) return part(optional, name, 'TypedDict', false);
  const base = `_${name}Required`;
  const first = part(mandatory, base, 'TypedDict', true);
  const second = part(optional, name, base, false);
  return `${first}\n\n${second}`;
}

function refsOf(s: Schema, into: Set<string> = new Set()): Set<string> {
  if (s.$ref !== undefined) into.add(s.$ref);
  for (const child of [s.items, ...(s.anyOf ?? []), ...(s.oneOf ?? []), ...Object.values(s.properties ?? {})]) {
    if (child !== undefined) refsOf(child, into);
  }
  if (typeof s.additionalProperties === 'object') refsOf(s.additionalProperties, into);
  return into;
}

function generate(): string {
  const schemas = jsonSchemas();
  const sources = new Map(
    readdirSync(SOURCES)
      .filter((f) => f.endsWith('.ts'))
      .sort()
      .map((f) => [f, readFileSync(join(SOURCES, f), 'utf8')] as const),
  );
  const names = Object.keys(schemas).sort();
  const enums: string[] = [];
  const dicts: string[] = [];
  const late = new Map<string, { code: string; refs: Set<string> }>();
  for (const name of names) {
    const s = schemas[name] as Schema;
    const doc = docOf(name, sources);
    const options = s.oneOf ?? s.anyOf;
    if (s.enum !== undefined) {
      enums.push(`${bracketed('Literal', s.enum.map(pyString), `${name} = `)}\n${docstring(doc, '')}`);
    } else if (s.type === 'object' && s.properties !== undefined) {
      dicts.push(typedDict(name, s, doc));
    } else if (options?.every(isTaggedObject)) {
      const variants = options.map((option) => {
        const tag = option.properties?.type?.const as string;
        const variant = `${name}${pascal(tag)}`;
        dicts.push(typedDict(variant, option, `The \`\`${tag}\`\` variant of :data:\`${name}\`.`));
        return variant;
      });
      late.set(name, { code: `${bracketed('Union', variants, `${name} = `)}\n${docstring(doc, '')}`, refs: new Set() });
    } else {
      late.set(name, { code: `${name} = ${pyType(s)}\n${docstring(doc, '')}`, refs: refsOf(s) });
    }
  }
  // Aliases are evaluated at import: each comes after the aliases it names.
  const ordered: string[] = [];
  const done = new Set<string>();
  const visit = (name: string): void => {
    const entry = late.get(name);
    if (entry === undefined || done.has(name)) return;
    done.add(name);
    for (const ref of [...entry.refs].sort()) visit(ref);
    ordered.push(entry.code);
  };
  for (const name of [...late.keys()].sort()) visit(name);

  const codes = Object.keys(protocol.ERROR_CODES);
  const statuses = Object.entries(protocol.ERROR_CODES).map(
    ([code, { status }]) => `    ${pyString(code)}: ${status},`,
  );
  const errors = [
    `${bracketed('Literal', codes.map(pyString), 'ErrorCode = ')}\n${docstring(docOf('ERROR_CODES', sources).replace('registry:', 'registry (``ERROR_CODES``):'), '')}`,
    `ERROR_HTTP_STATUS: dict[ErrorCode, int] = {\n${statuses.join('\n')}\n}\n"""The HTTP status of each error code."""\n`,
  ];
  const body = [...enums, ...errors, ...dicts, ...ordered].join('\n\n');
  const intro = [
    HEADER,
    '"""The wire contract of the Paddock API, generated from the protocol\'s zod schemas.',
    '',
    "Enums are ``Literal`` types; objects are ``TypedDict`` types with the wire's camelCase keys",
    "(the SDK's dataclasses in :mod:`paddock.models` are the snake_case view of them); a tagged",
    'union has one ``TypedDict`` per ``type``. Regenerate with ``npm run gen:python``.',
    '"""',
    '',
    'from __future__ import annotations',
    '',
    `from typing import ${TYPING_NAMES.filter((n) => new RegExp(`\\b${n}\\b`).test(body)).join(', ')}`,
    '',
  ].join('\n');
  return `${intro}\n${body}`;
}

function main(): void {
  const text = generate();
  const check = process.argv.includes('--check');
  const where = relative(ROOT, TARGET);
  if (!check) {
    writeFileSync(TARGET, text);
    return;
  }
  let current = '';
  try {
    current = readFileSync(TARGET, 'utf8');
  } catch {
    // A missing file differs like any other.
  }
  if (current !== text) {
    console.error(`${where}: differs from what scripts/gen-python-models.ts generates; run \`npm run gen:python\``);
    process.exitCode = 1;
  }
}

main();
