// X.509 certificates with node:crypto alone: EC P-256 keys and hand-encoded DER (RFC 5280), so neither
// an `openssl` binary nor a certificate library is needed. Used for the webhook's self-managed CA and
// serving certificate, and (through src/k8s/testing/self-signed-cert.ts) by tests. Parsing and
// verification use node:crypto's X509Certificate.
import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import ipaddr from 'ipaddr.js';

export interface CertificateAndKey {
  /** PEM certificate. */
  certPem: string;
  /** PEM PKCS#8 private key. */
  keyPem: string;
}

export interface CertificateSpec {
  commonName: string;
  /** Subject organization (O=). */
  organization?: string;
  /** subjectAltName DNS names. */
  dnsNames?: string[];
  /** subjectAltName IP addresses. */
  ipAddresses?: string[];
  notBefore: Date;
  notAfter: Date;
  /** A CA certificate (basicConstraints CA:TRUE, keyCertSign). */
  isCA: boolean;
  /** Extended key usages (default: serverAuth for leaves, none for CAs). */
  extKeyUsage?: ('serverAuth' | 'clientAuth')[];
  /** The CA that signs; absent: self-signed. */
  issuer?: CertificateAndKey;
}

// ---- DER encoding

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

function distinguishedName(cn: string, org?: string): Buffer {
  const rdn = (id: string, v: string) => set(seq(oid(id), tlv(0x0c, Buffer.from(v, 'utf8'))));
  return seq(...(org !== undefined ? [rdn('2.5.4.10', org)] : []), rdn('2.5.4.3', cn));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64.endsWith('\n') ? b64 : `${b64}\n`}-----END ${label}-----\n`;
}

// ---- DER decoding (just enough to copy the issuer's subject into a certificate it signs)

interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  body: number;
  /** Offset after the last content byte. */
  end: number;
}

function readTlv(buf: Buffer, at: number): Tlv {
  const tag = buf[at];
  const first = buf[at + 1];
  if (tag === undefined || first === undefined) throw new Error('truncated DER');
  let length = first;
  let body = at + 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[at + 2 + i] ?? 0);
    body += n;
  }
  const end = body + length;
  if (end > buf.length) throw new Error('truncated DER');
  return { tag, start: at, body, end };
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.body; at < parent.end; ) {
    const t = readTlv(buf, at);
    out.push(t);
    at = t.end;
  }
  return out;
}

/** The DER of a certificate's subject Name. */
function subjectDer(certPem: string): Buffer {
  const der = new X509Certificate(certPem).raw;
  const cert = readTlv(der, 0);
  const tbsTlv = children(der, cert)[0];
  if (!tbsTlv) throw new Error('malformed certificate');
  const fields = children(der, tbsTlv);
  // [0] version is optional; then serial, signature algorithm, issuer, validity, subject.
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[offset + 4];
  if (!subject) throw new Error('malformed certificate');
  return der.subarray(subject.start, subject.end);
}

function keyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(spki).digest();
}

// ---- certificates

const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const EKU_OIDS = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' } as const;

/** Creates an ECDSA P-256 / SHA-256 certificate (self-signed, or signed by `spec.issuer`). */
export function createCertificate(spec: CertificateSpec): CertificateAndKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const subject = distinguishedName(spec.commonName, spec.organization);
  const issuerName = spec.issuer ? subjectDer(spec.issuer.certPem) : subject;
  const signingKey: KeyObject = spec.issuer ? createPrivateKey(spec.issuer.keyPem) : privateKey;
  const issuerSpki = spec.issuer
    ? new X509Certificate(spec.issuer.certPem).publicKey.export({ type: 'spki', format: 'der' })
    : spki;

  const dnsNames = spec.dnsNames ?? [];
  const ipAddresses = spec.ipAddresses ?? [];
  const eku = spec.extKeyUsage ?? (spec.isCA ? [] : ['serverAuth']);
  const exts: Buffer[] = [
    extension('2.5.29.19', true, spec.isCA ? seq(bool(true)) : seq()), // basicConstraints
    // keyUsage: CA digitalSignature+keyCertSign+cRLSign (0x86, 1 unused bit); leaf digitalSignature.
    extension(
      '2.5.29.15',
      true,
      spec.isCA ? tlv(0x03, Buffer.from([0x01, 0x86])) : tlv(0x03, Buffer.from([0x07, 0x80])),
    ),
    extension('2.5.29.14', false, octets(keyIdentifier(spki))), // subjectKeyIdentifier
    extension('2.5.29.35', false, seq(tlv(0x80, keyIdentifier(issuerSpki)))), // authorityKeyIdentifier
  ];
  if (eku.length > 0) exts.push(extension('2.5.29.37', false, seq(...eku.map((u) => oid(EKU_OIDS[u])))));
  if (dnsNames.length + ipAddresses.length > 0) {
    exts.push(
      extension(
        '2.5.29.17',
        false,
        seq(
          ...dnsNames.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))),
          ...ipAddresses.map((ip) => tlv(0x87, Buffer.from(ipaddr.parse(ip).toByteArray()))),
        ),
      ),
    );
  }
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ECDSA_WITH_SHA256,
    issuerName,
    seq(time(spec.notBefore), time(spec.notAfter)),
    subject,
    spki,
    tlv(0xa3, seq(...exts)),
  );
  const signature = sign('sha256', tbs, signingKey);
  const cert = seq(tbs, ECDSA_WITH_SHA256, tlv(0x03, Buffer.from([0]), signature));
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // Round-trip the key through createPrivateKey so a malformed export fails here, not in a TLS handshake.
  createPrivateKey(keyPem);
  return { certPem: pem('CERTIFICATE', cert), keyPem };
}

export interface CertificateInfo {
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  dnsNames: string[];
  ipAddresses: string[];
}

/** Reads the validity, CA flag and subjectAltNames of a PEM certificate (throws when unreadable). */
export function certificateInfo(certPem: string): CertificateInfo {
  const x = new X509Certificate(certPem);
  const sans = (x.subjectAltName ?? '').split(', ').filter((s) => s !== '');
  return {
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    isCA: x.ca,
    dnsNames: sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
    ipAddresses: sans.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice(11).toLowerCase()),
  };
}

/** True when `certPem` was signed by the CA `caPem` (names chain and the signature verifies). */
export function issuedBy(certPem: string, caPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    return ca.ca && cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** True when the private key belongs to the certificate. */
export function keyMatches(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** The PEM certificates of a bundle (several concatenated PEM blocks). */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
}
