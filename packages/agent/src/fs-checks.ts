import { accessSync, constants, statSync } from 'node:fs';

/** True when `path` exists and this process may execute it (follows links, as exec does). */
export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** True when `path` is a directory (follows links). */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
