import { readFileSync } from 'node:fs';
import { PaddockError } from '@paddock/protocol';

/** A user of the sandbox, as its own /etc/passwd and /etc/group describe it. */
export interface SandboxUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** Supplementary group ids (without the primary `gid`). */
  groups: number[];
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/**
 * The sandbox's user database, read fresh for each request: user code may add users
 * (`useradd`) at any time, and the files are small.
 */
export class UserDb {
  private constructor(
    private readonly passwd: PasswdEntry[],
    private readonly group: GroupEntry[],
  ) {}

  static load(etc = '/etc'): UserDb {
    return new UserDb(parsePasswd(readOptional(`${etc}/passwd`)), parseGroup(readOptional(`${etc}/group`)));
  }

  /**
   * Resolves a user as Docker's `USER` names one: a name or numeric uid, optionally with
   * `:group` (a name or gid). A numeric uid without a passwd entry is still a user (images
   * run as `USER 10001` without adding one): home `/`, primary group the uid's own number.
   * An unknown name is an INVALID_ARGUMENT naming `user`.
   */
  resolve(spec: string): SandboxUser {
    const [nameOrUid = '', groupPart] = spec.split(':', 2);
    const byUid = /^\d+$/.test(nameOrUid);
    const entry =
      this.passwd.find((e) => (byUid ? e.uid === Number(nameOrUid) : e.name === nameOrUid)) ??
      // A rootfs without /etc/passwd still has root.
      (nameOrUid === 'root' || nameOrUid === '0'
        ? { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' }
        : byUid
          ? { name: nameOrUid, uid: Number(nameOrUid), gid: Number(nameOrUid), home: '/', shell: '/bin/sh' }
          : undefined);
    if (entry === undefined) {
      throw new PaddockError('INVALID_ARGUMENT', `\`user\`: no user "${nameOrUid}" in the sandbox's /etc/passwd`, {
        field: 'user',
      });
    }
    const gid = groupPart === undefined ? entry.gid : this.resolveGroup(groupPart);
    const groups = this.group.filter((g) => g.gid !== gid && g.members.includes(entry.name)).map((g) => g.gid);
    return { ...entry, gid, groups: [...new Set(groups)] };
  }

  private resolveGroup(nameOrGid: string): number {
    if (/^\d+$/.test(nameOrGid)) return Number(nameOrGid);
    const group = this.group.find((g) => g.name === nameOrGid);
    if (group === undefined) {
      throw new PaddockError('INVALID_ARGUMENT', `\`user\`: no group "${nameOrGid}" in the sandbox's /etc/group`, {
        field: 'user',
      });
    }
    return group.gid;
  }

  userName(uid: number): string {
    return this.passwd.find((e) => e.uid === uid)?.name ?? String(uid);
  }

  groupName(gid: number): string {
    return this.group.find((g) => g.gid === gid)?.name ?? String(gid);
  }
}

function readOptional(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const [name, , uid, gid, , home, shell] = line.split(':');
    if (name === undefined || name === '' || name.startsWith('#') || !isId(uid) || !isId(gid)) continue;
    entries.push({ name, uid: Number(uid), gid: Number(gid), home: home || '/', shell: shell || '/bin/sh' });
  }
  return entries;
}

function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const [name, , gid, members] = line.split(':');
    if (name === undefined || name === '' || name.startsWith('#') || !isId(gid)) continue;
    entries.push({ name, gid: Number(gid), members: members ? members.split(',').filter(Boolean) : [] });
  }
  return entries;
}

function isId(value: string | undefined): value is string {
  return value !== undefined && /^\d+$/.test(value);
}
