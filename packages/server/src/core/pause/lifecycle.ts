import { SandboxService, type SandboxServiceDeps } from '../sandbox-service.js';
import { PauseResume, type PauseResumeDeps } from './pause-resume.js';

/** The sandbox service and its pause layer, made for each other. */
export interface SandboxLifecycle {
  service: SandboxService;
  pause: PauseResume;
}

/**
 * Builds the service with the pause layer as its expiry policy (onTimeout, retention). The pause
 * layer acts through the service, so the two name each other; the loop closes here, once: no
 * deadline can fire before this returns, because only a create, a resume or reconcile arms one.
 */
export function sandboxLifecycle(deps: {
  service: Omit<SandboxServiceDeps, 'expiry'>;
  pause: Omit<PauseResumeDeps, 'service'>;
}): SandboxLifecycle {
  const service: SandboxService = new SandboxService({
    ...deps.service,
    expiry: { expire: (id) => pause.expire(id) },
  });
  const pause = new PauseResume({ ...deps.pause, service });
  return { service, pause };
}
