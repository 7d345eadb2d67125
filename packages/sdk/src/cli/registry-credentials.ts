import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface RegistryCredentialOptions {
  username?: string;
  /** Read the password from stdin (`--password-stdin`), so it is never on a command line. */
  passwordStdin?: boolean;
  /** A docker `config.json`; default `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. */
  authfile?: string;
}

/**
 * Credentials for pulling `imageRef`, first found wins: `--username` with `--password-stdin`,
 * then `PADDOCK_REGISTRY_USERNAME`/`PADDOCK_REGISTRY_PASSWORD`, then the registry's entry in a
 * docker `config.json` (what `docker login` wrote). None → an anonymous pull.
 */
export async function registryCredentials(
  imageRef: string,
  opts: RegistryCredentialOptions,
): Promise<{ username: string; password: string } | undefined> {
  if (opts.username !== undefined) {
    if (!opts.passwordStdin) throw new Error('--username needs --password-stdin (the password is read from stdin)');
    const password = (await readStdin()).replace(/\r?\n$/, '');
    if (password === '') throw new Error('--password-stdin: stdin was empty');
    return { username: opts.username, password };
  }
  const { PADDOCK_REGISTRY_USERNAME: username, PADDOCK_REGISTRY_PASSWORD: password } = process.env;
  if (username && password) return { username, password };
  return fromDockerConfig(registryHost(imageRef), opts.authfile);
}

/** The registry part of a reference, as docker names it in config.json (`docker.io` for Hub). */
export function registryHost(imageRef: string): string {
  const first = imageRef.split('/')[0] ?? '';
  const isHost = imageRef.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return isHost ? first : 'docker.io';
}

async function fromDockerConfig(host: string, authfile: string | undefined) {
  const file = authfile ?? join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    config = JSON.parse(await readFile(file, 'utf8')) as typeof config;
  } catch (err) {
    if (authfile === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`--authfile ${file}: ${(err as Error).message}`);
  }
  const keys = host === 'docker.io' ? ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io'] : [host];
  for (const key of keys) {
    const entry = config.auths?.[key] ?? config.auths?.[`https://${key}`];
    if (entry?.username && entry.password) return { username: entry.username, password: entry.password };
    if (entry?.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return undefined;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
