/**
 * E2B template ids → Paddock template names. E2B's stock ids map onto our built-in templates;
 * anything else (user templates, snapshots) is looked up by its own name.
 */
const ALIASES: Readonly<Record<string, string>> = {
  base: 'base',
  'code-interpreter-v1': 'code-interpreter',
  'code-interpreter': 'code-interpreter',
};

export function paddockTemplateOf(e2bTemplateId: string): string {
  return ALIASES[e2bTemplateId] ?? e2bTemplateId;
}
