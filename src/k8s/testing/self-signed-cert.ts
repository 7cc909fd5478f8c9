// Self-signed X.509 certificates for tests (the API server stand-in's HTTPS listener, test webhooks),
// built with node:crypto alone (the DER encoder is src/k8s/webhook/certificates.ts), so tests need no
// `openssl` binary. The certificate is its own CA (basicConstraints CA:TRUE), so its PEM is both the
// server certificate and the caBundle / certificate-authority-data a client trusts.
import { createCertificate } from '../webhook/certificates.js';

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

/** Creates a self-signed ECDSA P-256 / SHA-256 certificate valid for the given names. */
export function selfSignedCert(opts: SelfSignedCertOptions = {}): SelfSignedCert {
  const now = Date.now();
  return createCertificate({
    commonName: opts.commonName ?? 'openperouter-test',
    dnsNames: opts.dnsNames ?? ['localhost'],
    ipAddresses: opts.ipAddresses ?? ['127.0.0.1', '::1'],
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + (opts.days ?? 7) * 86400_000),
    isCA: true,
    extKeyUsage: ['serverAuth', 'clientAuth'],
  });
}
