import { PaddockError } from '@paddock/protocol';
import type { z } from 'zod';

/** Formats zod issues as "`field`: problem; …" so the caller sees which field to change. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `\`${k}\``).join(', ')}`;
      }
      return path ? `\`${path}\`: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Parses `value` with `schema` or throws INVALID_ARGUMENT naming the bad field(s). */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields = result.error.issues.map((i) =>
    i.code === 'unrecognized_keys' ? i.keys.join(',') : i.path.map(String).join('.'),
  );
  throw new PaddockError('INVALID_ARGUMENT', `invalid ${what}: ${describeIssues(result.error.issues)}`, {
    fields,
  });
}
