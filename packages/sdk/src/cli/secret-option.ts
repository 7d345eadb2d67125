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
