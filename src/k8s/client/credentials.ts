// Who the client is on each request: the Authorization header and the TLS client certificate, from a
// static token, a token file (re-read at most once a minute, and at once after a 401: kubelet
// rotates bound service account tokens in place), basic auth, a static client certificate, or an
// exec plugin (cached until its expirationTimestamp; re-run after a 401).
import { readFile } from 'node:fs/promises';
import type { ClusterConfig } from './config.js';
import { type ExecCredentialStatus, runExecPlugin } from './exec-credential.js';

export interface RequestAuth {
  authorization?: string;
  cert?: Buffer | string;
  key?: Buffer | string;
}

/** How long a token file's content is used before it is read again. */
export const TOKEN_FILE_REREAD_MS = 60_000;
/** An exec credential is renewed this long before it expires (clock skew, request time). */
const EXPIRY_MARGIN_MS = 10_000;

export class Credentials {
  private fileToken: { value: string; readAt: number } | undefined;
  private exec: { status: ExecCredentialStatus; expiresAt: number } | undefined;
  private execRunning: Promise<ExecCredentialStatus> | undefined;

  constructor(
    private readonly cluster: ClusterConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a 401 may be cured by fetching credentials again (so the request is worth one retry). */
  get refreshable(): boolean {
    return this.cluster.user.tokenFile !== undefined || this.cluster.user.exec !== undefined;
  }

  /** Forgets cached credentials (after a 401). */
  invalidate(): void {
    this.fileToken = undefined;
    this.exec = undefined;
  }

  async current(): Promise<RequestAuth> {
    const u = this.cluster.user;
    const auth: RequestAuth = {};
    if (u.clientCertificate && u.clientKey) {
      auth.cert = u.clientCertificate;
      auth.key = u.clientKey;
    }
    if (u.exec) {
      const s = await this.execCredential();
      if (s.clientCertificateData && s.clientKeyData) {
        auth.cert = s.clientCertificateData;
        auth.key = s.clientKeyData;
      }
      if (s.token) auth.authorization = `Bearer ${s.token}`;
    }
    // A token in the kubeconfig wins over a plugin's, as in client-go.
    const token = u.token ?? (u.tokenFile !== undefined ? await this.readTokenFile(u.tokenFile) : undefined);
    if (token) auth.authorization = `Bearer ${token}`;
    else if (u.username !== undefined && !auth.authorization)
      auth.authorization = `Basic ${Buffer.from(`${u.username}:${u.password ?? ''}`).toString('base64')}`;
    return auth;
  }

  private async readTokenFile(file: string): Promise<string> {
    const t = this.now();
    if (this.fileToken && t - this.fileToken.readAt < TOKEN_FILE_REREAD_MS) return this.fileToken.value;
    let value: string;
    try {
      value = (await readFile(file, 'utf8')).trim();
    } catch (err) {
      // A transient failure (the kubelet swapping the file) keeps the last token rather than none.
      if (this.fileToken) return this.fileToken.value;
      throw new Error(
        `${this.cluster.source}: cannot read the token file ${file}: ${(err as Error).message}`,
      );
    }
    this.fileToken = { value, readAt: t };
    return value;
  }

  private async execCredential(): Promise<ExecCredentialStatus> {
    if (this.exec && this.now() < this.exec.expiresAt) return this.exec.status;
    // Concurrent requests share one run of the plugin.
    this.execRunning ??= runExecPlugin(this.cluster.user.exec!, this.cluster).finally(() => {
      this.execRunning = undefined;
    });
    const status = await this.execRunning;
    const expiry = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : Number.NaN;
    this.exec = {
      status,
      expiresAt: Number.isNaN(expiry) ? Number.POSITIVE_INFINITY : expiry - EXPIRY_MARGIN_MS,
    };
    return status;
  }
}
