import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import dnsPacket from 'dns-packet';

/** What to do with a question for `name`. */
export type DnsDecision = 'host' | 'forward' | 'nxdomain';

export interface ResolverOptions {
  /** The host side of the sandbox's veth: where it listens, and the answer for `host`. */
  hostAddress: string;
  decide(name: string): DnsDecision;
  /** Upstream resolvers for `forward`, asked in order. */
  upstreams: readonly string[];
  /** Per upstream try. */
  upstreamTimeoutMs?: number;
}

const MAX_TCP_QUERY_BYTES = 65_535;

/**
 * A sandbox's DNS resolver, run by the host on hostAddress:53 (UDP and TCP). Names the policy
 * allows by name, or that the egress proxy intercepts, resolve to the host address (the proxy
 * listens there); in `open` mode other names go to the upstream resolvers (asked by the host,
 * so the sandbox's firewall does not apply to them); the rest get NXDOMAIN.
 */
export class SandboxResolver {
  private udp: Socket | undefined;
  private tcp: Server | undefined;
  private readonly connections = new Set<TcpSocket>();

  constructor(private readonly options: ResolverOptions) {}

  async start(): Promise<void> {
    const udp = createSocket('udp4');
    udp.on('message', (message, remote) => {
      this.answer(message).then(
        (reply) => {
          if (reply) udp.send(reply, remote.port, remote.address);
        },
        () => undefined,
      );
    });
    udp.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(53, this.options.hostAddress, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    this.udp = udp;
    const tcp = createServer((socket) => this.serveTcp(socket));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(53, this.options.hostAddress, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    this.tcp = tcp;
  }

  async stop(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const socket of this.connections) socket.destroy();
    await Promise.all([
      udp ? new Promise<void>((resolve) => udp.close(() => resolve())) : undefined,
      tcp ? new Promise<void>((resolve) => tcp.close(() => resolve())) : undefined,
    ]);
  }

  private serveTcp(socket: TcpSocket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(10_000, () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      if (buffered.length > MAX_TCP_QUERY_BYTES + 2) socket.destroy();
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) return;
        const query = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        this.answer(query).then(
          (reply) => {
            if (!reply || socket.destroyed) return;
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(reply.length);
            socket.write(Buffer.concat([prefix, reply]));
          },
          () => socket.destroy(),
        );
      }
    });
  }

  /** The reply to one query, or undefined to stay silent (garbage in). */
  private async answer(query: Buffer): Promise<Buffer | undefined> {
    let request: dnsPacket.DecodedPacket;
    try {
      request = dnsPacket.decode(query);
    } catch {
      return undefined;
    }
    const question = request.questions?.[0];
    if (!question) return undefined;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    const decision = this.options.decide(name);
    if (decision === 'forward') {
      const reply = await this.forward(query);
      if (reply) return reply;
      return this.reply(request, 'SERVFAIL');
    }
    if (decision === 'nxdomain') return this.reply(request, 'NXDOMAIN');
    // Only A records point at the host; other types get an empty answer (no IPv6, no bypass).
    return this.reply(request, 'NOERROR', question.type === 'A' ? this.options.hostAddress : undefined);
  }

  private reply(
    request: dnsPacket.DecodedPacket,
    rcode: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL',
    address?: string,
  ): Buffer {
    const question = request.questions?.[0];
    const rcodeBits = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3 }[rcode];
    return dnsPacket.encode({
      type: 'response',
      id: request.id ?? 0,
      // dns-packet encodes the rcode from the low flag bits only.
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcodeBits,
      questions: request.questions ?? [],
      answers: address && question ? [{ type: 'A', name: question.name, class: 'IN', ttl: 30, data: address }] : [],
    });
  }

  /** Asks each upstream in turn over UDP; the reply goes back as it came (same id). */
  private async forward(query: Buffer): Promise<Buffer | undefined> {
    for (const upstream of this.options.upstreams) {
      const reply = await askUdp(upstream, query, this.options.upstreamTimeoutMs ?? 2_000);
      if (reply) return reply;
    }
    return undefined;
  }
}

function askUdp(server: string, query: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const done = (reply: Buffer | undefined) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('error', () => done(undefined));
    socket.on('message', (message, remote) => {
      if (remote.address === server && message.length >= 2 && message.readUInt16BE(0) === query.readUInt16BE(0)) {
        done(message);
      }
    });
    socket.send(query, 53, server);
  });
}
