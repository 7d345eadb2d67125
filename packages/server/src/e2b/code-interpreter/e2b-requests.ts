import { CODE_LIMITS, type CodeLanguage, EnvVars } from '@paddock/protocol';
import { z } from 'zod';
import { E2bHttpError } from './plain-reply.js';

/** Body of E2B's `POST /execute`. The Python SDK sends `null` for what the JS SDK leaves out. */
export const E2bExecuteRequest = z.looseObject({
  code: z.string().max(CODE_LIMITS.codeBytes),
  context_id: z.string().nullish(),
  language: z.string().nullish(),
  env_vars: EnvVars.nullish(),
});
export type E2bExecuteRequest = z.infer<typeof E2bExecuteRequest>;

/** Body of E2B's `POST /contexts`. */
export const E2bCreateContextRequest = z.looseObject({
  language: z.string().nullish(),
  cwd: z.string().min(1).max(4_096).nullish(),
});

export function parseBody<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const where = result.error.issues.map((i) => `${i.path.map(String).join('.') || 'body'}: ${i.message}`);
  throw new E2bHttpError(400, `invalid ${what}: ${where.join('; ')}`);
}

const LANGUAGES: Record<string, CodeLanguage> = {
  python: 'python',
  python3: 'python',
  js: 'javascript',
  javascript: 'javascript',
  bash: 'bash',
  sh: 'bash',
};

/**
 * E2B's language names (lower-cased, `js` for javascript) as ours. The E2B template also has
 * TypeScript, R and Java kernels; Paddock does not, and says so with the ones it has.
 */
export function languageOf(name: string | null | undefined): CodeLanguage {
  if (name === null || name === undefined || name.trim() === '') return 'python';
  const language = LANGUAGES[name.trim().toLowerCase()];
  if (language === undefined) {
    throw new E2bHttpError(
      400,
      `language '${name}' is not supported by Paddock's code interpreter: use python, javascript (js) or bash`,
    );
  }
  return language;
}

/** Our context ids are lowercase letters and digits; anything else cannot name one of them. */
export const CONTEXT_ID = /^[a-z0-9]{1,64}$/;
