import type { SecretsRequest } from '@paddock/protocol';
import { InvalidArgumentError } from 'commander';

/**
 * `--secret NAME=VALUE@host1,host2` (repeatable), or `NAME@host1,host2` to take the value from
 * $NAME so that it stays out of the shell history. The last `@` separates the hosts (values may
 * contain `@`, host names cannot).
 */
export function collectSecret(
  raw: string,
  previous: SecretsRequest = {},
  env: NodeJS.ProcessEnv = process.env,
): SecretsRequest {
  const at = raw.lastIndexOf('@');
  if (at <= 0) throw new InvalidArgumentError(`expected NAME=VALUE@host[,host…] or NAME@host[,host…], got '${raw}'`);
  const left = raw.slice(0, at);
  const hosts = raw
    .slice(at + 1)
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  if (hosts.length === 0)
    throw new InvalidArgumentError(`--secret ${left.split('=')[0]}: name at least one host after '@'`);
  const eq = left.indexOf('=');
  const name = eq < 0 ? left : left.slice(0, eq);
  const value = eq < 0 ? env[name] : left.slice(eq + 1);
  if (value === undefined || value === '') {
    throw new InvalidArgumentError(`--secret ${name}: no value given and $${name} is not set`);
  }
  return { ...previous, [name]: { value, hosts } };
}

/** `--secret-header NAME=header1,header2` (repeatable): pins NAME's value to those request headers. */
export function collectSecretHeaders(raw: string, previous: Record<string, string[]> = {}): Record<string, string[]> {
  const eq = raw.indexOf('=');
  const headers = raw
    .slice(eq + 1)
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  if (eq <= 0 || headers.length === 0) {
    throw new InvalidArgumentError(`expected NAME=header[,header…] (e.g. API_KEY=authorization), got '${raw}'`);
  }
  const name = raw.slice(0, eq);
  return { ...previous, [name]: [...(previous[name] ?? []), ...headers] };
}

/** `--secret-insecure-http NAME` (repeatable). */
export function collectSecretNames(raw: string, previous: string[] = []): string[] {
  return [...previous, raw];
}

/**
 * The `--secret` list with the options of `--secret-header` and `--secret-insecure-http`
 * applied; naming a secret that no `--secret` gives is an error, not a silent no-op.
 */
export function applySecretFlags(
  secrets: SecretsRequest | undefined,
  flags: { headers?: Record<string, string[]> | undefined; insecureHttp?: string[] | undefined },
): SecretsRequest | undefined {
  const out: SecretsRequest = { ...secrets };
  const spec = (name: string, flag: string) => {
    const found = out[name];
    if (found === undefined)
      throw new InvalidArgumentError(`${flag} ${name}: no --secret ${name}=…@hosts to apply it to`);
    return found;
  };
  for (const [name, headers] of Object.entries(flags.headers ?? {})) {
    out[name] = { ...spec(name, '--secret-header'), headers };
  }
  for (const name of flags.insecureHttp ?? []) {
    out[name] = { ...spec(name, '--secret-insecure-http'), allowInsecureHttp: true };
  }
  return secrets === undefined ? undefined : out;
}
