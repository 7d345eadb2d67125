/**
 * "The internet" for network tests, built in a network namespace this test owns; no
 * packet ever leaves the machine.
 *
 * Usage (e.g. in an e2e suite):
 *   const net = await startFakeInternet();
 *   after(() => net.close());
 *   startTestServer({ egressUplink: net.uplink, egressDns: [net.dnsAddress], ... })
 *   // or, for a server child process: PADDOCK_EGRESS_UPLINK=net.uplink
 *   //   PADDOCK_EGRESS_DNS=net.dnsAddress PADDOCK_EGRESS_CA_FILE=net.caFile
 *
 * What it builds: netns `pti<random>` joined to the root netns by a veth (root side
 * `net.uplink`, address `net.addresses.gateway`/24). Inside, on every address below:
 *   - HTTP :80 and HTTPS :443 answering JSON {host, sni, path, local, remote, headers};
 *     `GET /bytes?n=N` streams N bytes instead (bandwidth tests);
 *   - a TCP echo on :7000;
 *   - DNS on :53 (UDP and TCP): allowed.test, api.allowed.test, other.test → addresses.web,
 *     denied.test → addresses.other, every other name NXDOMAIN.
 * Addresses: web (x.x.x.10), other (x.x.x.11), metadata 169.254.169.254 and private
 * 10.99.0.10, the last two with /32 routes from the root netns through the veth, so only
 * the sandbox firewall stops them. The /24 is the first free one of 203.0.113.0/24,
 * 198.51.100.0/24, 198.18.{0..9}.0/24 (concurrent fixtures take different ones; a lock
 * dir under /run/paddock-fake-internet holds it) — do not hard-code 203.0.113.x.
 * HTTPS uses a fixture CA (`caPem`, file `caFile`) whose one certificate covers *.test,
 * allowed.test, api.allowed.test, other.test and denied.test.
 * close() stops the servers and removes the namespace, veth, routes, lock and files.
 * Note: @peculiar/x509 needs the `reflect-metadata` polyfill imported before it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { lockPrefix } from './address-lock.js';

const run = promisify(execFile);

export interface FakeInternet {
  /** Root-netns side of the veth: pass it to the server as the egress uplink. */
  uplink: string;
  /** The namespace's name (for `ip netns exec`). */
  netns: string;
  /** The fixture's DNS server (UDP and TCP :53). */
  dnsAddress: string;
  addresses: { gateway: string; web: string; other: string; metadata: string; private: string };
  /** PEM of the CA that signed the HTTPS certificate. */
  caPem: string;
  /** A file holding caPem. */
  caFile: string;
  close(): Promise<void>;
}

const LOCK_ROOT = '/run/paddock-fake-internet';
const PREFIXES = ['203.0.113', '198.51.100', ...Array.from({ length: 10 }, (_, i) => `198.18.${i}`)];
const METADATA = '169.254.169.254';
const PRIVATE = '10.99.0.10';

async function makeCertificates(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 7 * 24 * 3600_000);
  const caKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: 'CN=Paddock fake internet CA',
    notBefore,
    notAfter,
    keys: caKeys as webcrypto.CryptoKeyPair,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const leafKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString('hex'),
    subject: 'CN=allowed.test',
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingKey: (caKeys as webcrypto.CryptoKeyPair).privateKey,
    publicKey: leafKeys.publicKey,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        ['*.test', 'allowed.test', 'api.allowed.test', 'other.test', 'denied.test'].map((value) => ({
          type: 'dns' as const,
          value,
        })),
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;
  return { caPem: ca.toString('pem'), certPem: leaf.toString('pem'), keyPem };
}

function waitReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (data: Buffer): void => {
      output += data.toString();
      if (output.includes('ready\n')) {
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (data: Buffer) => {
      output += data.toString();
    });
    child.once('exit', (code) => reject(new Error(`fake internet server exited (${code}): ${output}`)));
    setTimeout(() => reject(new Error(`fake internet server not ready in 20 s: ${output}`)), 20_000).unref();
  });
}

/** Builds the fake internet; always `close()` it in an after() hook. */
export async function startFakeInternet(): Promise<FakeInternet> {
  const { prefix, index, lockDir } = lockPrefix({ lockRoot: LOCK_ROOT, prefixes: PREFIXES, owner: 'fake internet' });
  const tag = randomBytes(4).toString('hex');
  const netns = `pti${tag}`;
  const uplink = `pti${tag}r`;
  const addresses = {
    gateway: `${prefix}.1`,
    web: `${prefix}.10`,
    other: `${prefix}.11`,
    metadata: METADATA,
    private: PRIVATE,
  };
  const dir = mkdtempSync(join(tmpdir(), 'paddock-fake-internet-'));
  const caFile = join(dir, 'ca.pem');
  let server: ChildProcess | undefined;
  // Each fixture's /32 routes get their own metric, so two fixtures can coexist.
  const metric = 100 + index;
  const close = async (): Promise<void> => {
    if (server?.exitCode === null && server.pid !== undefined) {
      const exited = new Promise((resolve) => server?.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    // Deleting the netns deletes the veth pair, and the routes through it with it.
    await run('ip', ['netns', 'del', netns]).catch(() => undefined);
    await run('ip', ['link', 'del', uplink]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    rmSync(lockDir, { recursive: true, force: true });
  };
  try {
    const certs = await makeCertificates();
    writeFileSync(caFile, certs.caPem);
    await run('ip', ['netns', 'add', netns]);
    const rootBatch = [
      `link add ${uplink} type veth peer name eth0 netns ${netns}`,
      `addr add ${addresses.gateway}/24 dev ${uplink}`,
      `link set ${uplink} up`,
      `route replace ${METADATA}/32 via ${addresses.web} dev ${uplink} metric ${metric}`,
      `route replace ${PRIVATE}/32 via ${addresses.web} dev ${uplink} metric ${metric}`,
    ];
    const nsBatch = [
      'link set lo up',
      `addr add ${addresses.web}/24 dev eth0`,
      `addr add ${addresses.other}/24 dev eth0`,
      `addr add ${METADATA}/32 dev eth0`,
      `addr add ${PRIVATE}/32 dev eth0`,
      'link set eth0 up',
      `route add default via ${addresses.gateway}`,
    ];
    await run('sh', [
      '-c',
      `ip -batch - <<'EOF'\n${rootBatch.slice(0, 3).join('\n')}\nEOF\nip -n ${netns} -batch - <<'EOF'\n${nsBatch.join('\n')}\nEOF\nip -batch - <<'EOF'\n${rootBatch.slice(3).join('\n')}\nEOF`,
    ]);
    const zone: Record<string, string> = {
      'allowed.test': addresses.web,
      'api.allowed.test': addresses.web,
      'other.test': addresses.web,
      'denied.test': addresses.other,
    };
    const configFile = join(dir, 'server.json');
    writeFileSync(configFile, JSON.stringify({ certPem: certs.certPem, keyPem: certs.keyPem, zone }));
    const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    server = spawn(
      'ip',
      [
        'netns',
        'exec',
        netns,
        process.execPath,
        '--import',
        'tsx',
        join(repoRoot, 'test/support/fake-internet-server.ts'),
        configFile,
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await waitReady(server);
  } catch (error) {
    await close();
    throw error;
  }
  return { uplink, netns, dnsAddress: addresses.web, addresses, caPem: readFileSync(caFile, 'utf8'), caFile, close };
}
