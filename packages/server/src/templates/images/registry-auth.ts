import { mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryCredentials } from './image-types.js';

/**
 * A private directory for one skopeo run: its HOME (so the server host's own registry logins
 * never apply by accident), its TMPDIR (archive sources unpack there, on the data disk), and,
 * when credentials are given, a docker-style authfile. Passwords reach skopeo only through
 * that file (0600 in a 0700 dir): `--src-creds` would put them on argv, readable in /proc.
 */
export interface SkopeoWorkDir {
  dir: string;
  /** The authfile with the given credentials, when there are any. */
  authFile?: string;
  dispose(): Promise<void>;
}

export async function makeSkopeoWorkDir(options: {
  parentDir: string;
  registry?: string;
  credentials?: RegistryCredentials;
}): Promise<SkopeoWorkDir> {
  // mkdtemp makes the directory 0700.
  const dir = await mkdtemp(join(options.parentDir, '.skopeo-'));
  const dispose = (): Promise<void> => rm(dir, { recursive: true, force: true });
  if (options.credentials === undefined || options.registry === undefined) return { dir, dispose };
  try {
    const authFile = join(dir, 'auth.json');
    const { username, password } = options.credentials;
    const auth = Buffer.from(`${username}:${password}`).toString('base64');
    const file = await open(authFile, 'wx', 0o600);
    try {
      await file.writeFile(JSON.stringify({ auths: { [options.registry]: { auth } } }));
    } finally {
      await file.close();
    }
    return { dir, authFile, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** Replaces every form of the secret skopeo could echo (plain, and base64 of `user:password`) with `***`. */
export function scrubSecret(text: string, credentials: RegistryCredentials | undefined): string {
  if (credentials === undefined || credentials.password === '') return text;
  const forms = [
    credentials.password,
    Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64'),
    encodeURIComponent(credentials.password),
  ];
  let out = text;
  for (const form of forms) out = out.split(form).join('***');
  return out;
}
