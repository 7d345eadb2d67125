import { randomBytes, webcrypto } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
/** x509 takes the provider as its own `Crypto` type; node's webcrypto implements it. */
type X509Crypto = Parameters<typeof x509.X509CertificateGenerator.create>[1];

const subtle = webcrypto.subtle;
const crypto = webcrypto as unknown as X509Crypto;
const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' };
const HOUR_MS = 3_600_000;
/** A sandbox lives at most days to weeks (plus retention while paused); the CA outlives that. */
const CA_VALIDITY_MS = 2 * 365 * 24 * HOUR_MS;
const LEAF_VALIDITY_MS = 30 * 24 * HOUR_MS;
/** Clocks inside sandboxes may lag the host's a little. */
const BACKDATE_MS = HOUR_MS;

const CA_CERT_FILE = 'ca.pem';
const CA_KEY_FILE = 'ca-key.pem';

/**
 * A sandbox's own certificate authority for the egress proxy's TLS interception towards
 * secret hosts. The key never leaves the host (a 0600 file in the sandbox's host dir, never
 * mounted); the sandbox only gets the certificate to trust. Leaf certificates are issued per
 * host name on first use and cached.
 */
export class SandboxCa {
  private readonly leaves = new Map<string, Promise<SecureContext>>();
  private leafKeys: Promise<{ keys: CryptoKeyPair; pem: string }> | undefined;

  private constructor(
    /** The CA certificate (PEM) the sandbox must trust. */
    readonly certPem: string,
    private readonly cert: x509.X509Certificate,
    private readonly key: CryptoKey,
  ) {}

  /** Loads the CA kept in `dir`, or creates one there (key file mode 0600) when there is none. */
  static async loadOrCreate(dir: string, sandboxId: string): Promise<SandboxCa> {
    const existing = await SandboxCa.load(dir).catch(() => undefined);
    if (existing) return existing;
    const keys = await subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: randomBytes(16)
          .toString('hex')
          .replace(/^[89a-f]/, '7'),
        name: `CN=Paddock egress CA ${sandboxId}, O=Paddock`,
        notBefore: new Date(now - BACKDATE_MS),
        notAfter: new Date(now + CA_VALIDITY_MS),
        keys,
        signingAlgorithm: SIGNING,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        ],
      },
      crypto,
    );
    const keyPem = x509.PemConverter.encode(await subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Written under temporary names and renamed: a crash never leaves a key without its cert.
    await writeFile(join(dir, `${CA_KEY_FILE}.tmp`), keyPem, { mode: 0o600 });
    await writeFile(join(dir, `${CA_CERT_FILE}.tmp`), cert.toString('pem'), { mode: 0o644 });
    await rename(join(dir, `${CA_KEY_FILE}.tmp`), join(dir, CA_KEY_FILE));
    await rename(join(dir, `${CA_CERT_FILE}.tmp`), join(dir, CA_CERT_FILE));
    return new SandboxCa(cert.toString('pem'), cert, keys.privateKey);
  }

  private static async load(dir: string): Promise<SandboxCa> {
    const certPem = await readFile(join(dir, CA_CERT_FILE), 'utf8');
    const keyPem = await readFile(join(dir, CA_KEY_FILE), 'utf8');
    const key = await subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(keyPem), EC_KEY, false, ['sign']);
    return new SandboxCa(certPem, new x509.X509Certificate(certPem), key);
  }

  /** A TLS context presenting a certificate for `host` signed by this CA (cached per name). */
  contextFor(host: string): Promise<SecureContext> {
    let context = this.leaves.get(host);
    if (!context) {
      context = this.issue(host);
      context.catch(() => this.leaves.delete(host));
      this.leaves.set(host, context);
    }
    return context;
  }

  private async issue(host: string): Promise<SecureContext> {
    // One key for all of this sandbox's leaves: generating a key per name costs more than signing.
    this.leafKeys ??= (async () => {
      const keys = await subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
      return { keys, pem: x509.PemConverter.encode(await subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY') };
    })();
    const { keys, pem } = await this.leafKeys;
    const now = Date.now();
    const leaf = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomBytes(16)
          .toString('hex')
          .replace(/^[89a-f]/, '7'),
        subject: `CN=${host}`,
        issuer: this.cert.subject,
        notBefore: new Date(now - BACKDATE_MS),
        notAfter: new Date(now + LEAF_VALIDITY_MS),
        publicKey: keys.publicKey,
        signingKey: this.key,
        signingAlgorithm: SIGNING,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
          new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: host }], false),
          await x509.AuthorityKeyIdentifierExtension.create(this.cert, false, crypto),
        ],
      },
      crypto,
    );
    return createSecureContext({ cert: `${leaf.toString('pem')}\n${this.certPem}`, key: pem });
  }
}
