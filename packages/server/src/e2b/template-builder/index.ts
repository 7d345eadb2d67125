import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../core/logger.js';
import type { Store } from '../../core/seams/store.js';
import { serverSecretBytes } from '../../store/server-secret.js';
import type { TemplateRegistry } from '../../templates/registry.js';
import { E2bBuilds } from './build-jobs.js';
import type { PlanExecutor } from './plan-executor.js';
import { e2bTemplateBuilderRoutes } from './routes.js';
import { UploadRoute } from './upload-route.js';
import { TemplateUploads } from './uploads.js';

export type { PlanExecutor } from './plan-executor.js';
export { UPLOAD_PATH } from './upload-route.js';

const MiB = 1024 * 1024;
/** Uploads live in memory until the build reads them: one archive, its files, all kept. */
const LIMITS = { archiveBytes: 128 * MiB, unpackedBytes: 256 * MiB, keptBytes: 512 * MiB } as const;

export interface TemplateBuilderOptions {
  templates: TemplateRegistry;
  executor: PlanExecutor;
  store: Store;
  logger: Logger;
}

/** E2B's template builder: the routes (installed on the control-plane scope) and the upload door. */
export class E2bTemplateBuilder {
  readonly builds: E2bBuilds;
  private readonly uploads: TemplateUploads;
  private readonly uploadRoute: UploadRoute;

  constructor(private readonly options: TemplateBuilderOptions) {
    const { store } = options;
    this.builds = new E2bBuilds({
      executor: options.executor,
      putName: (name, specHash) => store.putTemplate({ name, specHash, createdAtMs: Date.now() }),
      logger: options.logger,
    });
    this.uploads = new TemplateUploads({
      secret: serverSecretBytes(store, 'e2b-template-upload'),
      maxTotalBytes: LIMITS.keptBytes,
    });
    this.uploadRoute = new UploadRoute(this.uploads, { limits: LIMITS, logger: options.logger });
  }

  routes(app: FastifyInstance): void {
    e2bTemplateBuilderRoutes(app, { templates: this.options.templates, builds: this.builds, uploads: this.uploads });
  }

  /** Takes an upload URL's PUT (no API key: its token is the credential); true when handled. */
  routeUpload(req: IncomingMessage, res: ServerResponse): boolean {
    return this.uploadRoute.route(req, res);
  }

  close(): Promise<void> {
    return this.builds.close();
  }
}
