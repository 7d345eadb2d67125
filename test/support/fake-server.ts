// The component test level: the whole server in this process over the fake runtime, whose
// sandboxes are the real agent (packages/agent) run as host processes in a temp dir. No root,
// no namespaces, no network: for API tests of pure logic (validation, routing, errors, the
// agent protocol). What isolation and limits do is the conformance suite's and e2e's job.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from '@paddock/sdk';
import { FakeRuntime } from '../../packages/server/src/runtime/fake/fake-runtime.js';
import { DEFAULT_AGENT_BUNDLE } from '../../packages/server/src/runtime/oci-runtime.js';
import { type RunningServer, startServer } from '../../packages/server/src/server.js';
import { BUILTIN_SPECS_DIR } from '../../packages/server/src/templates/builtin.js';
import { parseTemplateSpec, specHash } from '../../packages/server/src/templates/spec.js';
import { TEST_API_KEY, TEST_ROOT } from './env.js';
import type { TestConnection } from './server.js';

// Node 20 has Symbol.asyncDispose (since 20.4) but not `await using`: tsx (esbuild) lowers the
// syntax, and needs the symbol at run time. Kept as a guard for an older Node.
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for('Symbol.asyncDispose');

type CreateOptions = NonNullable<Parameters<typeof Sandbox.create>[0]>;

/** A started in-process server over the fake runtime; disposing it kills and removes everything. */
export interface FakeServer extends AsyncDisposable {
  readonly server: RunningServer;
  readonly conn: TestConnection;
  readonly runtime: FakeRuntime;
  /** A sandbox (the default template, `container`) that this server kills when disposed. */
  sandbox(opts?: CreateOptions): Promise<Sandbox>;
  /**
   * The sandbox's own dir (its commands' default cwd): a fake sandbox sees the host's files,
   * so tests keep theirs in here.
   */
  filesDir(sbx: Sandbox): string;
}

/**
 * Starts a server for one test file or test: `await using env = await startFakeServer()`.
 * The dispose kills every sandbox made through `sandbox()`, stops the server, fails if the
 * runtime still holds any sandbox (a leak), and removes the temp dir.
 *
 * @example
 * ```ts
 * await using env = await startFakeServer();
 * await using sbx = await env.sandbox();
 * const r = await sbx.commands.run('echo hi');
 * ```
 */
export async function startFakeServer(): Promise<FakeServer> {
  await mkdir(TEST_ROOT, { recursive: true });
  const dir = await mkdtemp(join(TEST_ROOT, 'api-'));
  const dataDir = join(dir, 'data');
  await seedBaseTemplate(dataDir);
  const runtime = new FakeRuntime('container', {
    hostAgents: { dir: join(dir, 'sandboxes'), agentBundle: DEFAULT_AGENT_BUNDLE },
  });
  let server: RunningServer;
  try {
    server = await startServer(
      {
        host: '127.0.0.1',
        port: 0,
        dataDir,
        apiKey: TEST_API_KEY,
        poolSize: 0,
        gvisorPoolSize: 0,
        codePoolSize: 0,
        logLevel: process.env.PADDOCK_TEST_LOG_LEVEL ?? 'error',
      },
      // Only `container` exists here; networks need root (veth, nftables).
      { runtimes: { container: runtime }, sandboxNetworks: false },
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const conn: TestConnection = { apiUrl: server.url, apiKey: TEST_API_KEY };
  const made: Sandbox[] = [];
  return {
    server,
    conn,
    runtime,
    sandbox: async (opts = {}) => {
      const sbx = await Sandbox.create({ ...conn, ...opts });
      made.push(sbx);
      return sbx;
    },
    filesDir: (sbx) => {
      const filesDir = runtime.filesDirOf(sbx.id);
      if (filesDir === undefined) throw new Error(`no host dir for sandbox ${sbx.id}`);
      return filesDir;
    },
    async [Symbol.asyncDispose]() {
      await Promise.allSettled(made.map((sbx) => sbx.kill()));
      await server.close();
      const leaked = await runtime.list();
      // Whatever happened, no agent process outlives the fixture.
      for (const id of leaked) await runtime.destroy(id);
      await rm(dir, { recursive: true, force: true });
      if (leaked.length > 0) throw new Error(`sandboxes left running by the test: ${leaked.join(', ')}`);
    },
  };
}

/**
 * Registers the built-in `base` template as built without building it: the fake runtime never
 * reads a root filesystem, and the server only looks for the build's `meta.json` (its spec
 * hash is the one the server computes from templates/base.yaml, so it builds nothing).
 */
async function seedBaseTemplate(dataDir: string): Promise<void> {
  const spec = parseTemplateSpec(await readFile(join(BUILTIN_SPECS_DIR, 'base.yaml'), 'utf8'));
  const hash = specHash(spec);
  const templateDir = join(dataDir, 'templates', hash);
  await mkdir(join(templateDir, 'rootfs'), { recursive: true });
  const meta = {
    specHash: hash,
    sizeBytes: 0,
    createdAt: new Date().toISOString(),
    env: spec.env ?? {},
    workdir: spec.workdir ?? '/',
    user: spec.user ?? 'root',
  };
  await writeFile(join(templateDir, 'meta.json'), JSON.stringify(meta));
}
