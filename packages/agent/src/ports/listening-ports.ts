import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ListeningPort } from '@paddock/protocol';

/** `st` of a socket in LISTEN state in /proc/net/tcp{,6}. */
const TCP_LISTEN = '0A';

/**
 * `GET /ports`: the TCP ports something listens on inside the sandbox, read from
 * /proc/net/tcp and /proc/net/tcp6 (the sandbox's own network namespace), one entry per
 * port and local address.
 */
export async function handleListPorts(_req: IncomingMessage, res: ServerResponse): Promise<void> {
  const listening = [
    ...parseProcNetTcp(await readOrEmpty('/proc/net/tcp'), 4),
    ...parseProcNetTcp(await readOrEmpty('/proc/net/tcp6'), 6),
  ];
  const seen = new Set<string>();
  const unique = listening.filter((p) => {
    const key = `${p.port} ${p.address}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  unique.sort((a, b) => a.port - b.port || a.address.localeCompare(b.address));
  const body = JSON.stringify({ listening: unique });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    // No IPv6 in this sandbox (or no /proc/net under the runtime): nothing listens there.
    return '';
  }
}

/** Parses the table format of /proc/net/tcp: `sl local_address rem_address st …`, hex fields. */
export function parseProcNetTcp(text: string, family: 4 | 6): ListeningPort[] {
  const ports: ListeningPort[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (fields[3] !== TCP_LISTEN || local === undefined) continue;
    const [addressHex, portHex] = local.split(':');
    if (addressHex === undefined || portHex === undefined) continue;
    ports.push({ port: Number.parseInt(portHex, 16), address: decodeAddress(addressHex, family) });
  }
  return ports;
}

/** The kernel prints each 32-bit word of the address in host (little-endian) byte order. */
function decodeAddress(hex: string, family: 4 | 6): string {
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    const chunk = hex.slice(word, word + 8);
    for (let i = 6; i >= 0; i -= 2) bytes.push(Number.parseInt(chunk.slice(i, i + 2), 16));
  }
  if (family === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return compressIpv6(groups);
}

/** `0:0:0:0:0:0:0:1` → `::1`: the longest run of zero groups becomes `::`. */
function compressIpv6(groups: string[]): string {
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (groups[j] === '0') j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestLength < 2) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}
