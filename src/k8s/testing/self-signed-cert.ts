// Self-signed X.509 certificates for tests (the API server stand-in's HTTPS listener, test webhooks),
// built with node:crypto alone: an EC P-256 key and a hand-encoded DER certificate, so tests need no
// `openssl` binary. The certificate is its own CA (basicConstraints CA:TRUE), so its PEM is both the
// server certificate and the caBundle / certificate-authority-data a client trusts.
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import ipaddr from 'ipaddr.js';

export interface SelfSignedCert {
  /** PEM certificate; also the CA bundle that trusts it. */
  certPem: string;
  /** PEM PKCS#8 private key. */
  keyPem: string;
}

export interface SelfSignedCertOptions {
  commonName?: string;
  /** subjectAltName DNS names (default `localhost`). */
  dnsNames?: string[];
  /** subjectAltName IP addresses (default 127.0.0.1 and ::1). */
  ipAddresses?: string[];
  /** Validity in days from now (default 7); notBefore is one hour in the past. */
  days?: number;
}

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}

const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);
const octets = (...c: Buffer[]) => tlv(0x04, ...c);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * (parts[0] ?? 0) + (parts[1] ?? 0)];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && ((b[1] ?? 0) & 0x80) === 0) b = b.subarray(1);
  if (((b[0] ?? 0) & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  const year = d.getUTCFullYear();
  return year < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

function name(cn: string): Buffer {
  return seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64.endsWith('\n') ? b64 : `${b64}\n`}-----END ${label}-----\n`;
}

/** Creates a self-signed ECDSA P-256 / SHA-256 certificate valid for the given names. */
export function selfSignedCert(opts: SelfSignedCertOptions = {}): SelfSignedCert {
  const commonName = opts.commonName ?? 'openperouter-test';
  const dnsNames = opts.dnsNames ?? ['localhost'];
  const ipAddresses = opts.ipAddresses ?? ['127.0.0.1', '::1'];
  const days = opts.days ?? 7;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;

  const san = seq(
    ...dnsNames.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))),
    ...ipAddresses.map((ip) => tlv(0x87, Buffer.from(ipaddr.parse(ip).toByteArray()))),
  );
  const extensions = seq(
    extension('2.5.29.19', true, seq(bool(true))), // basicConstraints CA:TRUE
    extension('2.5.29.15', true, tlv(0x03, Buffer.from([0x02, 0x84]))), // digitalSignature, keyCertSign
    extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))), // server+client auth
    extension('2.5.29.17', false, san),
  );
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ecdsaWithSha256,
    name(commonName),
    seq(time(new Date(now - 3600_000)), time(new Date(now + days * 86400_000))),
    name(commonName),
    spki,
    tlv(0xa3, extensions),
  );
  const signature = sign('sha256', tbs, privateKey as KeyObject);
  const cert = seq(tbs, ecdsaWithSha256, tlv(0x03, Buffer.from([0]), signature));
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // Round-trip the key through createPrivateKey so a malformed export fails here, not in a TLS handshake.
  createPrivateKey(keyPem);
  return { certPem: pem('CERTIFICATE', cert), keyPem };
}
