import type { FileInfo } from '@paddock/protocol';

const FILE_TYPES: Record<FileInfo['type'], string> = {
  file: 'FILE_TYPE_FILE',
  dir: 'FILE_TYPE_DIRECTORY',
  symlink: 'FILE_TYPE_SYMLINK',
  other: 'FILE_TYPE_UNSPECIFIED',
};

/** Go's `FileMode.String()`: a type letter, then rwx triplets. */
function permissionsOf(info: FileInfo): string {
  const kind = info.type === 'dir' ? 'd' : info.type === 'symlink' ? 'L' : '-';
  let bits = '';
  for (let shift = 6; shift >= 0; shift -= 3) {
    const triple = (info.mode >> shift) & 7;
    bits += `${triple & 4 ? 'r' : '-'}${triple & 2 ? 'w' : '-'}${triple & 1 ? 'x' : '-'}`;
  }
  return kind + bits;
}

/** Our FileInfo as envd's `EntryInfo` (proto3 JSON: camelCase, enum names, RFC 3339 time). */
export function toEntryInfo(info: FileInfo) {
  return {
    name: info.name,
    type: FILE_TYPES[info.type],
    path: info.path,
    size: String(info.sizeBytes),
    mode: info.mode & 0o7777,
    permissions: permissionsOf(info),
    owner: info.owner,
    group: info.group,
    modifiedTime: info.modifiedAt,
    ...(info.symlinkTarget !== undefined ? { symlinkTarget: info.symlinkTarget } : {}),
  };
}
