// The webhook's self-managed serving certificate. A CA and a serving certificate for
// `<service>.<namespace>.svc` live in one Secret (created when missing; when another replica created it
// first, its 409 makes us read theirs); the CA bundle goes into caBundle of every webhook of the
// ValidatingWebhookConfiguration. Checked periodically: a certificate with less than a third of its
// lifetime left is replaced (the serving certificate is re-signed by the same CA, so caBundle does not
// change; a new CA is published next to the old one until the old one expires). Every write carries
// the resourceVersion it was computed from, so concurrent replicas never overwrite each other.
import type { Logger } from '../../frr/log.js';
import {
  isApiError,
  type KubeClient,
  Resource,
  SECRETS,
  type Secret,
  VALIDATING_WEBHOOK_CONFIGURATIONS,
  type ValidatingWebhookConfiguration,
} from '../client/index.js';
import {
  type CertificateAndKey,
  certificateInfo,
  createCertificate,
  issuedBy,
  keyMatches,
  splitPemBundle,
} from './certificates.js';

const YEAR = 365 * 86400_000;

export interface CertManagerOptions {
  client: KubeClient;
  namespace: string;
  secretName: string;
  serviceName: string;
  /** ValidatingWebhookConfiguration whose webhooks get the caBundle ('' = none). */
  webhookConfigurationName: string;
  /** More subjectAltNames (e.g. 127.0.0.1 when the API server reaches the pod directly). */
  extraDnsNames?: string[];
  extraIpAddresses?: string[];
  /** CA lifetime (default 10 years). */
  caLifetimeMs?: number;
  /** Serving certificate lifetime (default 1 year). */
  certLifetimeMs?: number;
  /** Renew when less than this fraction of the lifetime is left (default 1/3). */
  renewFraction?: number;
  /** How often the Secret, the certificates and caBundle are checked (default 10 minutes). */
  checkIntervalMs?: number;
  /** Retry delay after a failed check (default 5 s). */
  retryIntervalMs?: number;
  log: Logger;
  /** A (new) certificate to serve; called after caBundle trusts it. */
  onCertificate: (c: CertificateAndKey, notAfter: Date) => void;
  /** Counts rotations (metrics). */
  onRotation?: (what: 'ca' | 'serving') => void;
}

export const SECRET_KEYS = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  cert: 'tls.crt',
  key: 'tls.key',
  /** Every CA the webhooks should trust: the current one first, then a predecessor still valid. */
  caBundle: 'ca-bundle.crt',
} as const;

interface Material {
  ca: CertificateAndKey;
  serving: CertificateAndKey;
  caBundle: string;
}

function decode(v: string | undefined): string | undefined {
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

const isStatus = isApiError;

export class CertManager {
  private readonly o: Required<Omit<CertManagerOptions, 'onRotation'>> &
    Pick<CertManagerOptions, 'onRotation'>;
  private readonly secrets: Resource<Secret>;
  private readonly webhookConfigurations: Resource<ValidatingWebhookConfiguration>;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private served: string | undefined;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** The certificate served now. */
  current: CertificateAndKey | undefined;
  /** Whether caBundle was last seen right. */
  injected = false;

  constructor(opts: CertManagerOptions) {
    this.o = {
      extraDnsNames: [],
      extraIpAddresses: [],
      caLifetimeMs: 10 * YEAR,
      certLifetimeMs: YEAR,
      renewFraction: 1 / 3,
      checkIntervalMs: 10 * 60_000,
      retryIntervalMs: 5_000,
      ...opts,
    };
    this.secrets = new Resource(opts.client, SECRETS);
    this.webhookConfigurations = new Resource(opts.client, VALIDATING_WEBHOOK_CONFIGURATIONS);
  }

  get dnsNames(): string[] {
    const base = `${this.o.serviceName}.${this.o.namespace}.svc`;
    return [base, `${base}.cluster.local`, ...this.o.extraDnsNames];
  }

  /** Runs the first check (retrying until a certificate is available), then checks periodically. */
  async start(): Promise<void> {
    for (;;) {
      const ok = await this.check();
      if (this.stopped) return;
      if (ok) break;
      await new Promise<void>((r) => {
        this.wake = r;
        this.timer = setTimeout(r, this.o.retryIntervalMs);
      });
      if (this.stopped) return;
    }
    this.schedule(this.injected ? this.o.checkIntervalMs : this.o.retryIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.check().then((ok) =>
        this.schedule(ok && this.injected ? this.o.checkIntervalMs : this.o.retryIntervalMs),
      );
    }, ms);
    this.timer.unref?.();
  }

  /** One pass; true when a certificate is served (caBundle injection may still be pending). */
  async check(): Promise<boolean> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    try {
      await this.running;
      return this.current !== undefined;
    } catch (err) {
      this.o.log.error(
        { err, secret: `${this.o.namespace}/${this.o.secretName}` },
        'webhook certificate check failed',
      );
      return this.current !== undefined;
    }
  }

  private fresh(certPem: string, now: number): boolean {
    const info = certificateInfo(certPem);
    const lifetime = info.notAfter.getTime() - info.notBefore.getTime();
    return info.notAfter.getTime() - now > lifetime * this.o.renewFraction && info.notBefore.getTime() <= now;
  }

  private newCa(now: number): CertificateAndKey {
    return createCertificate({
      commonName: 'cert',
      organization: 'openperouter.io',
      isCA: true,
      notBefore: new Date(now - Math.min(3600_000, this.o.caLifetimeMs / 20)),
      notAfter: new Date(now + this.o.caLifetimeMs),
    });
  }

  private newServing(ca: CertificateAndKey, now: number): CertificateAndKey {
    return createCertificate({
      commonName: this.dnsNames[0]!,
      organization: 'openperouter.io',
      dnsNames: this.dnsNames,
      ipAddresses: this.o.extraIpAddresses,
      isCA: false,
      notBefore: new Date(now - Math.min(3600_000, this.o.certLifetimeMs / 20)),
      notAfter: new Date(now + this.o.certLifetimeMs),
      issuer: ca,
    });
  }

  /** What the Secret should hold: its current content when usable, else renewed parts. */
  private plan(
    data: Record<string, string> | undefined,
    now: number,
  ): { material: Material; changed: string[] } {
    const get = (k: string) => decode(data?.[k]);
    const caCert = get(SECRET_KEYS.caCert);
    const caKey = get(SECRET_KEYS.caKey);
    const cert = get(SECRET_KEYS.cert);
    const key = get(SECRET_KEYS.key);
    const bundle = get(SECRET_KEYS.caBundle);
    const changed: string[] = [];
    let ca: CertificateAndKey;
    const caUsable = (() => {
      try {
        return (
          caCert !== undefined &&
          caKey !== undefined &&
          certificateInfo(caCert).isCA &&
          keyMatches(caCert, caKey) &&
          this.fresh(caCert, now)
        );
      } catch {
        return false;
      }
    })();
    let caBundle: string;
    if (caUsable) {
      ca = { certPem: caCert!, keyPem: caKey! };
      // Keep the published predecessors that are still valid; the current CA always comes first.
      const keep = splitPemBundle(bundle ?? '').filter((p) => {
        try {
          return p !== ca.certPem && certificateInfo(p).notAfter.getTime() > now;
        } catch {
          return false;
        }
      });
      caBundle = [ca.certPem, ...keep].join('');
      if (caBundle !== bundle) changed.push('ca-bundle');
    } else {
      ca = this.newCa(now);
      changed.push('ca');
      let previous: string[] = [];
      try {
        if (caCert !== undefined && certificateInfo(caCert).notAfter.getTime() > now) previous = [caCert];
      } catch {
        previous = [];
      }
      caBundle = [ca.certPem, ...previous].join('');
    }
    const servingUsable = (() => {
      try {
        if (cert === undefined || key === undefined) return false;
        const info = certificateInfo(cert);
        return (
          issuedBy(cert, ca.certPem) &&
          keyMatches(cert, key) &&
          this.dnsNames.every((d) => info.dnsNames.includes(d)) &&
          this.o.extraIpAddresses.every((ip) => info.ipAddresses.includes(ip.toLowerCase())) &&
          this.fresh(cert, now)
        );
      } catch {
        return false;
      }
    })();
    const serving = servingUsable ? { certPem: cert!, keyPem: key! } : this.newServing(ca, now);
    if (!servingUsable) changed.push('serving');
    return { material: { ca, serving, caBundle }, changed };
  }

  private secretBody(m: Material, base?: Secret): Secret {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        ...(base?.metadata ?? {}),
        name: this.o.secretName,
        namespace: this.o.namespace,
        labels: {
          ...(base?.metadata?.labels ?? {}),
          'app.kubernetes.io/managed-by': 'openperouter-nodemarker',
        },
      },
      type: base?.type ?? 'kubernetes.io/tls',
      data: {
        ...(base?.data ?? {}),
        [SECRET_KEYS.caCert]: b64(m.ca.certPem),
        [SECRET_KEYS.caKey]: b64(m.ca.keyPem),
        [SECRET_KEYS.cert]: b64(m.serving.certPem),
        [SECRET_KEYS.key]: b64(m.serving.keyPem),
        [SECRET_KEYS.caBundle]: b64(m.caBundle),
      },
    };
  }

  private async pass(): Promise<void> {
    const { namespace, secretName } = this.o;
    let material: Material | undefined;
    for (let attempt = 0; attempt < 5 && !material; attempt++) {
      let secret: Secret | undefined;
      try {
        secret = await this.secrets.get(secretName, namespace);
      } catch (err) {
        if (!isStatus(err, 404)) throw err;
      }
      const now = Date.now();
      const { material: m, changed } = this.plan(secret?.data, now);
      if (changed.length === 0) {
        material = m;
        break;
      }
      try {
        if (!secret) {
          await this.secrets.create(this.secretBody(m));
          this.o.log.info({ secret: `${namespace}/${secretName}` }, 'created the webhook certificate Secret');
        } else {
          // resourceVersion in the body: a replica that changed the Secret meanwhile makes this a 409.
          await this.secrets.replace(this.secretBody(m, secret));
          this.o.log.info(
            { secret: `${namespace}/${secretName}`, renewed: changed },
            'renewed the webhook certificates',
          );
        }
        for (const c of changed) if (c === 'ca' || c === 'serving') this.o.onRotation?.(c);
        material = m;
      } catch (err) {
        // Another replica wrote first (409 on create or on a stale resourceVersion): use theirs.
        if (!isStatus(err, 409)) throw err;
        this.o.log.debug(
          { secret: `${namespace}/${secretName}` },
          'the Secret changed meanwhile; reading it again',
        );
      }
    }
    if (!material) throw new Error(`the Secret ${namespace}/${secretName} keeps changing under us`);
    // Publish the CA(s) before serving a certificate they sign.
    this.injected = await this.inject(material.caBundle);
    if (material.serving.certPem !== this.served) {
      if (this.current !== undefined && !this.injected) {
        // Keep serving the old certificate until the API server trusts the new one.
        return;
      }
      this.served = material.serving.certPem;
      this.current = material.serving;
      this.o.onCertificate(material.serving, certificateInfo(material.serving.certPem).notAfter);
    }
  }

  /** Puts the CA bundle into every webhook of the configuration; true when it is there. */
  private async inject(bundle: string): Promise<boolean> {
    const name = this.o.webhookConfigurationName;
    if (name === '') return true;
    const want = Buffer.from(bundle).toString('base64');
    for (let attempt = 0; attempt < 5; attempt++) {
      let vwc: ValidatingWebhookConfiguration;
      try {
        vwc = await this.webhookConfigurations.get(name);
      } catch (err) {
        if (isStatus(err, 404)) {
          this.o.log.warn({ name }, 'ValidatingWebhookConfiguration not found yet; will retry');
          return false;
        }
        throw err;
      }
      const hooks = vwc.webhooks ?? [];
      if (hooks.every((h) => h.clientConfig.caBundle === want)) return true;
      for (const h of hooks) h.clientConfig.caBundle = want;
      try {
        await this.webhookConfigurations.replace(vwc);
        this.o.log.info({ name, webhooks: hooks.length }, 'injected the CA bundle into the webhooks');
        return true;
      } catch (err) {
        if (!isStatus(err, 409)) throw err;
      }
    }
    return false;
  }
}
