import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIOME = join(REPO, 'node_modules/.bin/biome');

/** One import planted in a file of a layer, and whether biome.json's layer rules let it through. */
interface Case {
  file: string;
  from: string;
  allowed: boolean;
}

const CASES: Case[] = [
  { file: 'packages/protocol/src/planted.ts', from: 'zod', allowed: true },
  { file: 'packages/protocol/src/planted.ts', from: 'node:fs', allowed: false },
  { file: 'packages/protocol/src/planted.ts', from: 'better-sqlite3', allowed: false },
  { file: 'packages/server/src/core/planted.ts', from: '@paddock/protocol', allowed: true },
  { file: 'packages/server/src/core/planted.ts', from: './clock.js', allowed: true },
  { file: 'packages/server/src/core/planted.ts', from: 'node:crypto', allowed: true },
  { file: 'packages/server/src/core/planted.ts', from: './seams/store.js', allowed: true },
  { file: 'packages/server/src/core/fork/planted.ts', from: '../seams/runtime.js', allowed: true },
  { file: 'packages/server/src/core/planted.ts', from: './failpoints.js', allowed: true },
  { file: 'packages/server/src/core/planted.ts', from: '../runtime/cgroups.js', allowed: false },
  { file: 'packages/server/src/core/planted.ts', from: '../store/server-secret.js', allowed: false },
  { file: 'packages/server/src/core/planted.ts', from: '../api/context.js', allowed: false },
  { file: 'packages/server/src/core/fork/planted.ts', from: '../../api/context.js', allowed: false },
  { file: 'packages/server/src/core/planted.ts', from: '../store/sqlite-store.js', allowed: false },
  { file: 'packages/server/src/core/planted.ts', from: '../runtime/crun-driver.js', allowed: false },
  { file: 'packages/server/src/core/planted.ts', from: '../network/firewall.js', allowed: false },
  { file: 'packages/server/src/core/planted.ts', from: '../server.js', allowed: false },
  { file: 'packages/server/src/core/planted.ts', from: 'node:fs/promises', allowed: false },
  { file: 'packages/server/src/core/planted.ts', from: 'node:child_process', allowed: false },
  { file: 'packages/server/src/core/planted.ts', from: 'fastify', allowed: false },
  { file: 'packages/server/src/core/planted.ts', from: 'better-sqlite3', allowed: false },
  { file: 'packages/server/src/network/planted.ts', from: '../core/logger.js', allowed: true },
  { file: 'packages/server/src/network/planted.ts', from: '../api/context.js', allowed: false },
  { file: 'packages/server/src/store/planted.ts', from: '../e2b/index.js', allowed: false },
  { file: 'packages/server/src/ports/planted.ts', from: '../pause-and-fork.js', allowed: false },
  { file: 'packages/server/src/api/routes/planted.ts', from: '../../core/seams/store.js', allowed: true },
  { file: 'packages/server/src/runtime/planted.ts', from: '../core/seams/runtime.js', allowed: true },
  { file: 'packages/server/src/api/routes/planted.ts', from: '../../e2b/index.js', allowed: false },
  { file: 'packages/server/src/api/planted.ts', from: '../server.js', allowed: false },
  { file: 'packages/server/src/e2b/envd/planted.ts', from: '../../api/context.js', allowed: true },
  { file: 'packages/server/src/e2b/planted.ts', from: '../server.js', allowed: false },
  { file: 'packages/server/src/server.ts', from: './e2b/index.js', allowed: true },
  { file: 'packages/agent/src/planted.ts', from: '../../server/src/core/ids.js', allowed: false },
];

interface Diagnostic {
  category: string;
  location: { path: string; start: { line: number } };
}

describe('the layer rules of biome.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-layer-rules-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuse each import that crosses a layer the wrong way, and only those', async () => {
    // The repo's biome.json over a tree of planted files, one import per line.
    copyFileSync(join(REPO, 'biome.json'), join(dir, 'biome.json'));
    const lines = new Map<string, string[]>();
    for (const c of CASES) lines.set(c.file, [...(lines.get(c.file) ?? []), `import '${c.from}';`]);
    for (const [file, imports] of lines) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), `${imports.join('\n')}\n`);
    }
    const output = await promisify(execFile)(BIOME, ['lint', '--reporter=json', '--max-diagnostics=none', '.'], {
      cwd: dir,
    }).then(
      (done) => done.stdout,
      (failed: { stdout?: string }) => failed.stdout ?? '',
    );
    const { diagnostics } = JSON.parse(output) as { diagnostics: Diagnostic[] };
    const refused = new Set(
      diagnostics
        .filter((d) => d.category === 'lint/style/noRestrictedImports')
        .map((d) => `${d.location.path}:${d.location.start.line}`),
    );
    const expected = new Set(
      CASES.filter((c) => !c.allowed).map((c) => {
        const imports = lines.get(c.file)!;
        return `${c.file}:${imports.indexOf(`import '${c.from}';`) + 1}`;
      }),
    );
    assert.deepEqual([...refused].sort(), [...expected].sort());
  });
});
