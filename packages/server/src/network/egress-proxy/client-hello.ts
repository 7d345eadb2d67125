/**
 * Reads the server name (SNI) out of the first bytes of a TLS connection, without
 * terminating TLS: the egress proxy decides where a connection may go from this name alone.
 * Hand-written because it runs on every connection and only needs a few fields; a
 * ClientHello split over several TLS records is reassembled.
 */

export type ClientHelloResult =
  /** Not enough bytes yet: read more and ask again. */
  | { kind: 'incomplete' }
  /** The first byte is not a TLS handshake record: try another protocol. */
  | { kind: 'not-tls' }
  /** A TLS handshake that is not a well-formed ClientHello. */
  | { kind: 'malformed'; reason: string }
  /** A complete ClientHello; `serverName` is lowercase, undefined when the client sent none. */
  | { kind: 'client-hello'; serverName: string | undefined };

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXTENSION_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST = 0x00;
const RECORD_HEADER_BYTES = 5;
/** A ClientHello larger than this is refused (real ones are a few hundred bytes to ~2 KiB). */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024;

/** Classifies `data`, the bytes received so far on a connection. */
export function parseClientHello(data: Buffer): ClientHelloResult {
  if (data.length === 0) return { kind: 'incomplete' };
  if (data[0] !== RECORD_HANDSHAKE) return { kind: 'not-tls' };
  if (data.length >= 2 && data[1] !== 0x03) return { kind: 'not-tls' };
  const handshake = reassemble(data);
  if (handshake === 'incomplete') return { kind: 'incomplete' };
  if (!Buffer.isBuffer(handshake)) return handshake;
  return parseHandshake(handshake);
}

/** Concatenates handshake records until the ClientHello's declared length is there. */
function reassemble(data: Buffer): Buffer | 'incomplete' | { kind: 'malformed'; reason: string } {
  const fragments: Buffer[] = [];
  let have = 0;
  let offset = 0;
  for (;;) {
    if (have >= 4) {
      const first = Buffer.concat(fragments, have);
      const needed = 4 + first.readUIntBE(1, 3);
      if (needed > MAX_CLIENT_HELLO_BYTES) return { kind: 'malformed', reason: 'ClientHello too large' };
      if (have >= needed) return first.subarray(0, needed);
    }
    if (data.length < offset + RECORD_HEADER_BYTES) return 'incomplete';
    if (data[offset] !== RECORD_HANDSHAKE)
      return { kind: 'malformed', reason: 'ClientHello interrupted by another record' };
    const length = data.readUInt16BE(offset + 3);
    if (length === 0) return { kind: 'malformed', reason: 'empty handshake record' };
    if (data.length < offset + RECORD_HEADER_BYTES + length) return 'incomplete';
    fragments.push(data.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + length));
    have += length;
    offset += RECORD_HEADER_BYTES + length;
  }
}

/** A bounds-checked reader: every read past the end throws, which the caller turns into `malformed`. */
class Reader {
  constructor(
    private readonly buf: Buffer,
    public offset = 0,
  ) {}
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.offset++);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }
  get left(): number {
    return this.buf.length - this.offset;
  }
  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new RangeError('truncated');
  }
}

function parseHandshake(handshake: Buffer): ClientHelloResult {
  if (handshake[0] !== HANDSHAKE_CLIENT_HELLO)
    return { kind: 'malformed', reason: 'first handshake is not a ClientHello' };
  try {
    const r = new Reader(handshake, 4);
    r.skip(2 + 32); // legacy_version, random
    r.skip(r.u8()); // session id
    r.skip(r.u16()); // cipher suites
    r.skip(r.u8()); // compression methods
    if (r.left === 0) return { kind: 'client-hello', serverName: undefined }; // no extensions at all
    const extensions = new Reader(r.bytes(r.u16()));
    while (extensions.left > 0) {
      const type = extensions.u16();
      const body = extensions.bytes(extensions.u16());
      if (type === EXTENSION_SERVER_NAME) return { kind: 'client-hello', serverName: serverNameOf(body) };
    }
    return { kind: 'client-hello', serverName: undefined };
  } catch (err) {
    return { kind: 'malformed', reason: err instanceof Error ? err.message : String(err) };
  }
}

function serverNameOf(extension: Buffer): string {
  const r = new Reader(extension);
  const list = new Reader(r.bytes(r.u16()));
  while (list.left > 0) {
    const nameType = list.u8();
    const name = list.bytes(list.u16());
    if (nameType === NAME_TYPE_HOST) {
      const text = name.toString('latin1');
      // A host_name is ASCII without NUL or separators; anything else is an attempt to confuse the policy.
      if (!/^[\x21-\x7e]+$/.test(text)) throw new RangeError('server name is not printable ASCII');
      return text.toLowerCase().replace(/\.$/, '');
    }
  }
  throw new RangeError('server_name extension without a host name');
}
