import { mkdirSync, writeSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import { commandEventsOf, type Isolation, type PaddockError } from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { AgentClient } from './agent-client/agent-client.js';
import { AgentStartProbes } from './agent-client/start-probes.js';
import { ensureApiKey, hashApiKey } from './api/auth.js';
import { buildHttpServer } from './api/http-server.js';
import { type ConfigOverrides, loadConfig, type ServerConfig } from './config.js';
import { systemClock } from './core/clock.js';
import { Commands } from './core/commands.js';
import { armFailpoints } from './core/failpoints.js';
import { newSandboxId } from './core/ids.js';
import type { Logger } from './core/logger.js';
import { sandboxLifecycle } from './core/pause/lifecycle.js';
import { stoppedServing } from './core/pause/pause-resume.js';
import { reconcile } from './core/reconcile.js';
import { LIVE_STATES, type SandboxService } from './core/sandbox-service.js';
import type { Runtime } from './core/seams/runtime.js';
import type { SandboxRecord } from './core/seams/store.js';
import { WarmPool } from './core/warm-pool.js';
import { e2bUnauthenticatedReply, installE2bFacade } from './e2b/index.js';
import { hostBoot } from './host-boot.js';
import { buildEgress } from './network/egress-proxy/egress-setup.js';
import { SandboxNetworkService } from './network/sandbox-networks.js';
import { dataPaths } from './paths.js';
import { buildPauseAndFork } from './pause-and-fork.js';
import { ExposedPorts } from './ports/exposed-ports.js';
import { PortProxy } from './ports/port-proxy.js';
import { SandboxTrafficRouter } from './ports/sandbox-traffic.js';
import { SandboxCgroups } from './runtime/cgroups.js';
import { CrunRuntime } from './runtime/crun-driver.js';
import { RunscRuntime } from './runtime/runsc-driver.js';
import { serverSecretBytes } from './store/server-secret.js';
import { SqliteStore } from './store/sqlite-store.js';
import { buildsInProgress } from './templates/builder.js';
import { ensureBuiltinTemplates } from './templates/builtin.js';
import { removeStaleImageFiles } from './templates/image-housekeeping.js';
import { removeStaleBuilds } from './templates/layout.js';
import { TemplateRegistry } from './templates/registry.js';
import { sandboxBuildNetworks } from './templates/steps/build-network.js';
import { removeStaleBuildScratch } from './templates/steps/layer-cache.js';

/** How long a stop lets open streams end by themselves before it ends them (clients reconnect by offset). */
const STOP_DRAIN_MS = 2_000;
/** How long the streams' last events get to be written before their connections are cut. */
const STOP_FLUSH_MS = 1_000;
/** `paddock serve` exits by this time after the first SIGTERM/SIGINT, whatever is still running. */
const STOP_LIMIT_MS = 10_000;

/** A started server: its address, the API key generated on first start (if any), and how to stop it. */
export interface RunningServer {
  url: string;
  config: ServerConfig;
  generatedApiKey: string | undefined;
  service: SandboxService;
  http: FastifyInstance;
  /**
   * Stops serving; sandboxes keep running and are re-adopted by the next start. New requests
   * are refused at once; open streams get `drainMs` (default 2 s) to end by themselves, then
   * end with a resumable UNAVAILABLE event; connections still open after that are cut.
   */
  close(options?: { drainMs?: number }): Promise<void>;
}

/** What `startServer` takes besides config: adapters that tests replace. */
export interface StartServerOptions {
  logger?: Logger;
  runtimes?: Partial<Record<Isolation, Runtime>>;
  /**
   * `false`: sandboxes get no network at all (no netns, veth, firewall or resolver, which need
   * root), network routes answer that the server runs without networking, and create refuses
   * `secrets`. Only for the in-process API tests over the fake runtime; `paddock serve` always
   * has networks.
   */
  sandboxNetworks?: boolean;
}

/** Assembles the server from its adapters and starts it. */
export async function startServer(
  overrides: ConfigOverrides = {},
  options: StartServerOptions = {},
): Promise<RunningServer> {
  const config = loadConfig(overrides);
  const logger: Logger =
    options.logger ??
    pino({
      level: config.logLevel,
      redact: ['apiKey', 'req.headers.authorization', '*.env', 'env', 'secrets', '*.secrets'],
    });
  // A hit dies at once, as a kill -9 would (tests of crash consistency; off unless asked for).
  armFailpoints(config.failpoints, (name) => {
    // Written synchronously: the logger may buffer, and nothing runs after the kill.
    writeSync(
      2,
      `${JSON.stringify({ level: 'fatal', failpoint: name, msg: 'failpoint hit: the server dies here' })}\n`,
    );
    process.kill(process.pid, 'SIGKILL');
  });
  const paths = dataPaths(config.dataDir);
  for (const dir of [paths.root, paths.templates, paths.sandboxes, paths.runtimeState]) {
    mkdirSync(dir, { recursive: true });
  }
  const store = new SqliteStore(paths.db);
  const generatedApiKey = ensureApiKey(store, config.apiKey, config.apiKeyFormat);
  const runtimes: Partial<Record<Isolation, Runtime>> = options.runtimes ?? {
    container: new CrunRuntime({ dataDir: config.dataDir, cgroupParent: config.cgroupParent }),
    gvisor: new RunscRuntime({ dataDir: config.dataDir, cgroupParent: config.cgroupParent }),
  };
  const templates = new TemplateRegistry({
    paths,
    store,
    hashesInUse: () =>
      new Set([
        ...store.listSandboxes({ states: LIVE_STATES }).map((r) => r.templateHash),
        ...pauseAndFork.snapshots.baseHashes(),
      ]),
    // `RUN --network` steps get a network like a sandbox's with open egress (made below).
    buildNetworks: sandboxBuildNetworks(() => networks),
    insecureRegistries: config.insecureRegistries,
  });
  // Snapshots are templates too: the service resolves names through them (see pause-and-fork.ts).
  const catalog = {
    resolve: (n: string) => pauseAndFork.snapshots.resolve(n),
    resolveHash: (h: string) => pauseAndFork.snapshots.resolveHash(h),
  };
  // The egress proxy (SNI/Host policy, secrets); its policy oracle is the network service below.
  const egress = buildEgress({
    config: config.egressProxy,
    dnsServers: config.network.dnsUpstreams,
    sandboxesDir: paths.sandboxes,
    secretStore: store.sandboxSecrets,
    logger,
    oracle: () => {
      // Only a sandbox network attaches anything to the proxy, so without networks this never runs.
      if (!networks) throw new Error('this server runs sandboxes without networks');
      return networks;
    },
    exec: (id, request, signal) => commandEventsOf(agentOf(id).processes.run(request, { signal })),
  });
  // Each sandbox's own network stack, firewall and resolver (see network/sandbox-networks.ts).
  const networks =
    options.sandboxNetworks === false
      ? undefined
      : new SandboxNetworkService({
          config: config.network,
          dataDir: config.dataDir,
          store: store.networks,
          cgroupParent: config.cgroupParent,
          proxy: egress.proxy,
          logger,
        });
  const agents = new Map<string, AgentClient>();
  const onAgentGone = (id: string, reason: PaddockError) => {
    agents.get(id)?.interrupt(reason, 'end');
    agents.delete(id);
  };
  // The service and its pause layer (expiry follows onTimeout and retention).
  const { service, pause } = sandboxLifecycle({
    service: {
      networks,
      // Secrets travel only through a sandbox network's egress proxy.
      secrets: networks ? egress.secrets : undefined,
      store,
      runtimes,
      templates: catalog,
      volumeBinds: (mounts) => pauseAndFork.volumes.binds(mounts),
      clock: systemClock,
      logger,
      newId: newSandboxId,
      defaultIsolation: config.defaultIsolation,
      // Boots are CPU-bound: more at once than cores only makes each slower.
      maxConcurrentBoots: Math.max(2, availableParallelism()),
      // A template's start command runs through the same agent client as the processes API.
      startAgent: (record) => new AgentStartProbes(agentFor(record)),
    },
    pause: {
      store,
      clock: systemClock,
      logger,
      onAgentGone,
      onPause: (id, reason) => {
        agents.get(id)?.interrupt(reason, 'keep');
        agents.delete(id);
      },
    },
  });
  const pauseAndFork = buildPauseAndFork({
    dataDir: config.dataDir,
    store,
    service,
    pause,
    templates,
    runtimes,
    clock: systemClock,
    logger,
    newId: newSandboxId,
    maxForkCount: config.maxForkCount,
    onAgentGone,
  });
  let ready = false;
  // Exposed ports and the E2B facade register their handlers here (see ports/sandbox-traffic.ts).
  const sandboxTraffic = new SandboxTrafficRouter();
  // Read-only use of the sandboxes' cgroups (CPU time for the E2B facade's metrics).
  const cgroups = new SandboxCgroups(config.cgroupParent);
  // The agent of a sandbox already checked to be running; `agentOf` checks first.
  const agentFor = (record: SandboxRecord): AgentClient => {
    let client = agents.get(record.id);
    if (!client) {
      // The check may be a few awaits old (a command reads the OOM counter first): a pause or
      // hibernate since then dropped the interrupted client, and a new one would talk to a
      // frozen agent and hang. The transitional state is stored before the agent is dropped.
      // (From the store: a pooled spare, or a sandbox still booting, is no user's to `get`.)
      const now = store.getSandbox(record.id)?.state;
      if (now === 'pausing' || now === 'paused') throw stoppedServing(record, 'paused');
      if (now === 'hibernating' || now === 'hibernated') throw stoppedServing(record, 'hibernated');
      client = new AgentClient(service.runtimeFor(record.isolation).agentSocket(record.id));
      agents.set(record.id, client);
    }
    return client;
  };
  const agentOf = (sandboxId: string): AgentClient => agentFor(service.requireRunning(sandboxId));
  const commands = new Commands({ sandboxes: service, agentOf: agentFor, logger });
  // Exposed ports: the proxy takes every sandbox port that no other handler claimed.
  const ports = new ExposedPorts({
    service,
    pause: pauseAndFork.pause,
    tables: store.ports,
    tokenSecret: serverSecretBytes(store, 'port-token-hmac'),
    clock: systemClock,
    agentOf,
    domain: config.domain,
    maxExpiresInMs: config.maxPortTokenMs,
  });
  const portProxy = new PortProxy(ports, logger, (key) => store.hasApiKeyHash(hashApiKey(key)));
  sandboxTraffic.setDefault(portProxy);
  const ctx = {
    service,
    commands,
    templates,
    logger,
    pauseAndFork,
    agentOf,
    ports,
    ...(networks ? { networks, secrets: egress.secrets } : {}),
  };
  // Signed E2B file URLs name no sandbox and carry no key: taken before the API, once the facade is in.
  const signedFiles = { route: (_req: IncomingMessage, _res: ServerResponse): boolean => false };
  const http = buildHttpServer({
    store,
    isReady: () => ready,
    ctx,
    rawRoutes: [sandboxTraffic, { route: (req, res) => signedFiles.route(req, res) }],
    unauthenticatedReply: e2bUnauthenticatedReply,
  });
  // The E2B facade is a client of the API and the core, installed beside our own routes.
  const e2b = installE2bFacade({ app: http, ctx, store, sandboxTraffic, cpuUsageNs: (id) => cgroups.cpuUsageNs(id) });
  signedFiles.route = (req, res) => e2b.routeSignedFiles(req, res);
  const address = await http.listen({ host: config.host, port: config.port });
  ports.listeningOn(Number(new URL(address).port));
  // Half-finished template builds of a crashed server are garbage; finished ones are atomic.
  await removeStaleBuilds(paths, buildsInProgress());
  await removeStaleImageFiles(paths);
  await removeStaleBuildScratch(paths);
  await ensureBuiltinTemplates({ templates, store, paths, logger });
  const volumeLeftovers = await pauseAndFork.volumes.mountAll();
  if (volumeLeftovers.length > 0) logger.info({ volumeLeftovers }, 'removed volume disks a crash left unrecorded');
  const leftovers = await pauseAndFork.snapshots.removeLeftovers();
  if (leftovers.length > 0) logger.info({ leftovers }, 'removed snapshot copies a crash cut short');
  const boot = hostBoot(paths.bootId);
  const outcome = await reconcile({
    store,
    runtimes,
    service,
    logger,
    clock: systemClock,
    hostRebooted: boot.rebooted,
  });
  boot.record();
  logger.info({ ...outcome, hostRebooted: boot.rebooted }, 'reconciled sandboxes with the runtimes');
  const liveIds = new Set(store.listSandboxes({ states: LIVE_STATES }).map((r) => r.id));
  await networks?.start(liveIds);
  // Secret values must not outlive their sandbox.
  egress.secrets.keepOnly(liveIds);
  const pool = new WarmPool(service, { store, clock: systemClock, logger, targets: config.pool });
  pool.refill();
  ready = true;
  logger.info({ url: address, dataDir: config.dataDir }, 'paddock server ready');

  return {
    url: address,
    config,
    generatedApiKey,
    service,
    http,
    async close({ drainMs = STOP_DRAIN_MS } = {}) {
      ready = false;
      pool.stop();
      // Stops listening and answers requests on kept-alive connections with 503; resolves
      // once every connection is gone, which open streams alone would never be.
      const closed = http.close();
      await http.openStreams.stop({ drainMs, flushMs: STOP_FLUSH_MS });
      // What is left has no last event to send (PTY bytes, tunnels, E2B streams): cut it.
      http.server.closeAllConnections();
      await closed;
      await service.shutdown();
      await networks?.close();
      await egress.close();
      for (const client of agents.values()) client.close();
      portProxy.close();
      store.close();
    },
  };
}

/** `paddock serve`: starts, prints the first-start key once, and stops cleanly on SIGTERM/SIGINT. */
export async function runServer(overrides: ConfigOverrides = {}): Promise<void> {
  const server = await startServer(overrides);
  if (server.generatedApiKey) {
    process.stdout.write(
      `\nCreated an API key (shown only this once, stored hashed):\n\n  PADDOCK_API_KEY=${server.generatedApiKey}\n${
        // The same key works for the E2B SDKs when it has their format (PADDOCK_API_KEY_FORMAT=e2b).
        server.generatedApiKey.startsWith('e2b_') ? `  E2B_API_KEY=${server.generatedApiKey}\n` : ''
      }\n`,
    );
  }
  process.stdout.write(`Paddock listening on ${server.url} (data: ${server.config.dataDir})\n`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stdout.write(`${signal} again: exiting now (sandboxes keep running)\n`);
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
    stopping = true;
    process.stdout.write(
      `${signal}: stopping (sandboxes keep running; open streams end within ${STOP_DRAIN_MS / 1000} s; ${signal} again exits at once)\n`,
    );
    // A close that hangs (a stuck runtime call, a connection that will not end) must not keep
    // the process: whatever it was doing is re-adopted by the next start, as after a crash.
    setTimeout(() => {
      process.stdout.write(`not stopped within ${STOP_LIMIT_MS / 1000} s: exiting now\n`);
      process.exit(1);
    }, STOP_LIMIT_MS).unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`stopping failed: ${(err as Error)?.stack ?? String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
