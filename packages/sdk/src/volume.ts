import { type CreateVolumeRequest, VolumeInfo, VolumeList } from '@paddock/protocol';
import { Connection, type ConnectionOptions, checked } from './connection.js';

/**
 * A named, persistent, size-capped volume. Mount it into sandboxes at create (several at
 * once, read-write or read-only); it outlives them and the server's restarts.
 *
 * @example
 * ```ts
 * const vol = await Volume.create({ name: 'cache', sizeMiB: 2048 })
 * await Sandbox.create({ volumes: [{ name: 'cache', path: '/mnt/cache' }] })
 * ```
 */
export class Volume {
  private constructor(
    readonly name: string,
    readonly sizeMiB: number,
    private readonly conn: Connection,
  ) {}

  static async create(opts: ConnectionOptions & CreateVolumeRequest): Promise<Volume> {
    const conn = new Connection(opts);
    const info = checked(
      (v) => VolumeInfo.safeParse(v),
      await conn.json('POST', '/v1/volumes', {
        json: { name: opts.name, sizeMiB: opts.sizeMiB },
        signal: opts.signal,
        requestTimeoutMs: opts.requestTimeoutMs,
      }),
    );
    return new Volume(info.name, info.sizeMiB, conn);
  }

  /** An existing volume; throws `NotFoundError` for an unknown name. */
  static async connect(name: string, opts: ConnectionOptions = {}): Promise<Volume> {
    const conn = new Connection(opts);
    const info = checked(
      (v) => VolumeInfo.safeParse(v),
      await conn.json('GET', `/v1/volumes/${encodeURIComponent(name)}`, opts),
    );
    return new Volume(info.name, info.sizeMiB, conn);
  }

  static async list(opts: ConnectionOptions = {}): Promise<VolumeInfo[]> {
    const body = await new Connection(opts).json('GET', '/v1/volumes', opts);
    return checked((v) => VolumeList.safeParse(v), body).volumes;
  }

  /** Deletes a volume and its data; `ConflictError` while a sandbox mounts it. */
  static async delete(name: string, opts: ConnectionOptions = {}): Promise<void> {
    await new Connection(opts).json('DELETE', `/v1/volumes/${encodeURIComponent(name)}`, opts);
  }

  async getInfo(opts: Pick<ConnectionOptions, 'signal'> = {}): Promise<VolumeInfo> {
    return checked(
      (v) => VolumeInfo.safeParse(v),
      await this.conn.json('GET', `/v1/volumes/${encodeURIComponent(this.name)}`, opts),
    );
  }

  async delete(opts: Pick<ConnectionOptions, 'signal'> = {}): Promise<void> {
    await this.conn.json('DELETE', `/v1/volumes/${encodeURIComponent(this.name)}`, opts);
  }
}
