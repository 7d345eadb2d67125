import type { FileType, WatchEvent } from '@paddock/protocol';

/**
 * What a watch's reader believes is on disk: the events replayed in order. A renamed
 * directory takes its contents along, as the protocol says.
 */
export class WatchReplay {
  readonly paths = new Map<string, FileType>();
  readonly events: WatchEvent[] = [];

  apply(event: WatchEvent): void {
    this.events.push(event);
    if (event.type === 'create' || event.type === 'write') {
      this.paths.set(event.path, event.fileType);
    } else if (event.type === 'remove') {
      this.paths.delete(event.path);
    } else if (event.oldPath !== undefined) {
      const from = event.oldPath;
      for (const [path, type] of [...this.paths]) {
        if (path === from || path.startsWith(`${from}/`)) {
          this.paths.delete(path);
          this.paths.set(event.path + path.slice(from.length), type);
        }
      }
      this.paths.set(event.path, event.fileType);
    }
  }

  /** Sorted paths under `root` (the replay only knows what happened after the watch began). */
  sorted(): string[] {
    return [...this.paths.keys()].sort();
  }

  /** True when the replay holds exactly `expected` (order free). */
  equals(expected: readonly string[]): boolean {
    if (expected.length !== this.paths.size) return false;
    return expected.every((p) => this.paths.has(p));
  }
}
