// Bundles the agent into one file that the host mounts read-only into every sandbox and
// runs with its own Node: no node_modules exist there, so everything is inlined.
//
// CommonJS, because the sandbox gets agent.js alone (runtime/agent-root.ts copies it to
// /opt/paddock) and Node runs a lone .js as CommonJS; ESM would rely on syntax detection
// (a failed CommonJS parse first). dist/package.json says the same inside this
// "type": "module" package.
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));
const outfile = join(root, 'dist', 'agent.js');

/**
 * zod re-exports all its ~50 message locales (`z.locales`): 366 KB of the 790 KB bundle,
 * parsed and run at load. The agent answers in English only.
 */
const englishOnlyZod = {
  name: 'english-only-zod',
  setup(b) {
    b.onResolve({ filter: /locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]/.test(args.importer)
        ? { path: join(dirname(args.importer), '..', 'locales', 'en.js'), namespace: 'zod-locales' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: dirname(args.path),
    }));
  },
};

const result = await build({
  entryPoints: [join(root, 'src', 'main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: false,
  sourcemap: false,
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
  // Bundle the protocol from source so that a stale protocol dist never ships.
  alias: { '@paddock/protocol': join(root, '..', 'protocol', 'src', 'index.ts') },
  plugins: [englishOnlyZod],
  // The version the agent names in `GET /health` (health.ts).
  define: { __AGENT_VERSION__: JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version) },
  // A native addon cannot be bundled: runtime/agent-root.ts ships node_modules/node-pty
  // (lib/ and build/Release/pty.node) beside agent.js, and the agent loads it on first use.
  external: ['node-pty'],
});

mkdirSync(dirname(outfile), { recursive: true });
const pkg = join(dirname(outfile), 'package.json');
const pkgText = '{ "type": "commonjs" }\n';
// Rewritten only when different: a parallel build must not truncate it under a starting agent.
if (!existsSync(pkg) || readFileSync(pkg, 'utf8') !== pkgText) writeFileSync(pkg, pkgText);
// Written aside and renamed: test files build in parallel and must never run a half-written bundle.
const temp = `${outfile}.${process.pid}.tmp`;
writeFileSync(temp, result.outputFiles[0].contents);
renameSync(temp, outfile);

// The code interpreter's kernel programs travel beside the bundle (/opt/paddock/kernels in
// a sandbox): plain Python and CommonJS files run by the template's python3 and by the
// agent's own Node. Copied aside and renamed, like the bundle.
const kernelsTemp = join(dirname(outfile), `kernels.${process.pid}.tmp`);
cpSync(join(root, 'kernels'), kernelsTemp, { recursive: true });
try {
  renameSync(kernelsTemp, join(dirname(outfile), 'kernels'));
} catch {
  // A directory rename cannot replace a non-empty one: swap it out of the way first.
  const old = join(dirname(outfile), `kernels.${process.pid}.old`);
  renameSync(join(dirname(outfile), 'kernels'), old);
  renameSync(kernelsTemp, join(dirname(outfile), 'kernels'));
  await import('node:fs').then((fs) => fs.rmSync(old, { recursive: true, force: true }));
}
