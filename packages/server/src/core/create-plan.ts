import { type CreateSandboxRequest, type Isolation, LIMITS, PaddockError } from '@paddock/protocol';
import type { CreateSecrets, PreparedSecrets } from './create-secrets.js';
import type { NetworkPlan, SandboxNetworks } from './network-plan.js';
import type { Runtime } from './seams/runtime.js';
import type { PoolKey, SandboxRecord } from './seams/store.js';
import type { ResolvedTemplate, TemplateCatalog } from './templates.js';

/** The user's settings of a sandbox, defaults applied: what a create asks for beyond the shape. */
export type UserSettings = Pick<
  SandboxRecord,
  'env' | 'metadata' | 'timeoutMs' | 'onTimeout' | 'autoResume' | 'retentionMs' | 'volumes'
> & { network?: NetworkPlan };

/** Resolved create parameters, defaults applied: what a pooled spare must match. */
export interface SandboxShape extends PoolKey {
  template: ResolvedTemplate;
}

/** A create request after validation, with every default applied (the only place they are). */
export interface CreatePlan {
  shape: SandboxShape;
  settings: UserSettings;
  /** Placeholders already in `settings.env`; the rules go to the network and, once it runs, to the egress side. */
  secrets?: PreparedSecrets;
}

export interface CreatePlanDeps {
  templates: TemplateCatalog;
  /** The runtime of an isolation, or a typed error naming the field. */
  runtimeFor: (isolation: Isolation) => Runtime;
  defaultIsolation?: Isolation | undefined;
  networks?: SandboxNetworks | undefined;
  secrets?: CreateSecrets | undefined;
}

/** Applies the shape's defaults and checks that the template and isolation exist. */
export function resolveShape(
  req: Pick<CreateSandboxRequest, 'template' | 'isolation' | 'memoryMiB' | 'cpus' | 'diskMiB' | 'pids'>,
  deps: Pick<CreatePlanDeps, 'templates' | 'runtimeFor' | 'defaultIsolation'>,
): SandboxShape {
  const name = req.template ?? 'base';
  const template = deps.templates.resolve(name);
  if (!template) {
    throw new PaddockError('NOT_FOUND', `template: no template named '${name}' (list them with GET /v1/templates)`, {
      field: 'template',
    });
  }
  const isolation = req.isolation ?? deps.defaultIsolation ?? 'container';
  deps.runtimeFor(isolation);
  return {
    template,
    templateHash: template.specHash,
    isolation,
    memoryMiB: req.memoryMiB ?? LIMITS.memoryMiB.default,
    cpus: req.cpus ?? LIMITS.cpus.default,
    diskMiB: req.diskMiB ?? LIMITS.diskMiB.default,
    pids: req.pids ?? LIMITS.pids.default,
  };
}

/** The user settings of `req` with their defaults (a pooled spare gets those of `{}`). */
export function userSettings(req: CreateSandboxRequest): UserSettings {
  return {
    env: req.env ?? {},
    metadata: req.metadata ?? {},
    timeoutMs: req.timeoutMs ?? LIMITS.timeoutMs.default,
    onTimeout: req.onTimeout ?? 'kill',
    autoResume: req.autoResume ?? false,
    retentionMs: req.retentionMs ?? LIMITS.retentionMs.default,
    volumes: req.volumes ?? [],
  };
}

/**
 * Validates a create and applies its defaults: secrets become placeholders in the env (a
 * server without an egress side refuses them), the network gets its plan with the secrets'
 * rules. Makes nothing; every check that can refuse the create runs here, before anything exists.
 */
export function planCreate(req: CreateSandboxRequest, deps: CreatePlanDeps): CreatePlan {
  const secrets = prepareSecrets(req, deps.secrets);
  const shape = resolveShape(req, deps);
  const settings = userSettings(secrets ? { ...req, env: { ...req.env, ...secrets.env } } : req);
  if (settings.onTimeout === 'hibernate' && !deps.runtimeFor(shape.isolation).capabilities().hibernateWithMemory) {
    throw new PaddockError(
      'INVALID_ARGUMENT',
      `onTimeout: '${shape.isolation}' sandboxes cannot hibernate with their memory, and a timeout must not drop it silently: use onTimeout 'pause' (or 'kill'), or isolation 'gvisor'`,
      { field: 'onTimeout' },
    );
  }
  const network = deps.networks?.plan(req.network, shape.isolation);
  if (network) settings.network = secrets ? { ...network, secrets: secrets.rules } : network;
  return { shape, settings, ...(secrets ? { secrets } : {}) };
}

function prepareSecrets(req: CreateSandboxRequest, secrets: CreateSecrets | undefined): PreparedSecrets | undefined {
  if (!req.secrets || Object.keys(req.secrets).length === 0) return undefined;
  if (!secrets) {
    throw new PaddockError(
      'INVALID_ARGUMENT',
      'secrets: this server has no egress proxy, so it cannot inject secrets',
      {
        field: 'secrets',
      },
    );
  }
  return secrets.prepare(req);
}
