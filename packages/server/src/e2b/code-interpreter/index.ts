import type { SandboxTrafficRouter } from '../../ports/sandbox-traffic.js';
import { CODE_INTERPRETER_PORT, type CodeInterpreterDeps, E2bCodeInterpreter } from './code-interpreter-handler.js';

export { CODE_INTERPRETER_PORT } from './code-interpreter-handler.js';

/** Serves E2B's code interpreter (`@e2b/code-interpreter`) on in-sandbox port 49999. */
export function registerE2bCodeInterpreter(router: SandboxTrafficRouter, deps: CodeInterpreterDeps): void {
  router.registerPort(CODE_INTERPRETER_PORT, new E2bCodeInterpreter(deps));
}
