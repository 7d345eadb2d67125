import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SERVER_SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../packages/server/src');

/** Every static, re-export and `import()` specifier of a TypeScript file, type-only ones included. */
const SPECIFIER = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The server's modules and the modules each imports (relative imports only), as paths under src. */
function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    const targets: string[] = [];
    for (const match of text.matchAll(SPECIFIER)) {
      const specifier = match[1] ?? match[2];
      if (!specifier?.startsWith('.')) continue;
      targets.push(relative(root, resolve(root, dirname(file), specifier.replace(/\.js$/, '.ts'))));
    }
    graph.set(file, targets);
  }
  return graph;
}

/** The strongly connected components with more than one member (Tarjan): each is an import circle. */
function circles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** The graph of the top-level folders (`core`, `api`, …; a top-level file is its own node). */
function folderGraph(graph: ReadonlyMap<string, readonly string[]>): Map<string, string[]> {
  const folderOf = (file: string) => file.split('/')[0]!;
  const folders = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = folderOf(file);
    const edges = folders.get(from) ?? new Set<string>();
    for (const target of targets) if (folderOf(target) !== from) edges.add(folderOf(target));
    folders.set(from, edges);
  }
  return new Map([...folders].map(([folder, edges]) => [folder, [...edges]]));
}

describe('import circles in packages/server/src', () => {
  const graph = importGraph(SERVER_SRC);

  it('finds the modules and their imports', () => {
    assert.ok(graph.size > 100, `only ${graph.size} modules found`);
    assert.ok(graph.get('server.ts')?.includes('core/sandbox-service.ts'));
  });

  it('no module imports itself through others (type-only imports count too)', () => {
    assert.deepEqual(circles(graph), []);
  });

  it('no folder imports itself through other folders (layers point one way)', () => {
    assert.deepEqual(circles(folderGraph(graph)), []);
  });

  it('the checker sees a circle when there is one', () => {
    const planted = new Map([
      ['core/a.ts', ['core/b.ts']],
      ['core/b.ts', ['api/c.ts']],
      ['api/c.ts', ['core/a.ts', 'api/d.ts']],
      ['api/d.ts', []],
    ]);
    assert.deepEqual(circles(planted), [['api/c.ts', 'core/a.ts', 'core/b.ts']]);
    assert.deepEqual(circles(folderGraph(planted)), [['api', 'core']]);
  });
});
