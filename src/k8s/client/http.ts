// KubeClient: requests to one API server over node:https (node:http for an http:// server), JSON in
// and out, through one keep-alive agent (connections are reused; each open watch holds one).
// Credentials are asked for on every request (cached by credentials.ts), so a rotated token or a
// renewed exec credential is picked up without a new client; a 401 with refreshable credentials
// (token file, exec plugin) is retried once with fresh ones.
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import {
  Agent as HttpsAgent,
  type RequestOptions as HttpsRequestOptions,
  request as httpsRequest,
} from 'node:https';
import type { ClusterConfig } from './config.js';
import { Credentials } from './credentials.js';
import { ApiError, parseStatus } from './errors.js';

export const JSON_CONTENT = 'application/json';
export const MERGE_PATCH_CONTENT = 'application/merge-patch+json';

export type Query = Record<string, string | number | boolean | undefined>;

export interface KubeRequestOptions {
  query?: Query;
  /** Serialized as JSON. */
  body?: unknown;
  /** Content-Type of the body (default application/json). */
  contentType?: string;
  /** Whole-request timeout (default the client's). */
  timeoutMs?: number;
}

export interface KubeClientOptions {
  /** Default timeout of a request, from sending it to its last byte (default 30 s). */
  timeoutMs?: number;
  userAgent?: string;
}

export class KubeClient {
  readonly config: ClusterConfig;
  private readonly credentials: Credentials;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly secure: boolean;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  constructor(config: ClusterConfig, opts: KubeClientOptions = {}) {
    this.config = config;
    this.credentials = new Credentials(config);
    this.secure = new URL(config.server).protocol === 'https:';
    // keepAlive also turns on TCP keepalive probes, which notice a dead peer under an idle watch.
    this.agent = this.secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.userAgent = opts.userAgent ?? 'openperouter';
  }

  /** The URL of `path` (which starts with /) with its query; the server URL may have a path prefix. */
  url(path: string, query?: Query): URL {
    const u = new URL(this.config.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  /** A JSON request; resolves with the parsed response (undefined when empty), rejects with ApiError. */
  async request<T>(method: string, path: string, o: KubeRequestOptions = {}): Promise<T> {
    const timeoutMs = o.timeoutMs ?? this.timeoutMs;
    const ac = new AbortController();
    const timer = setTimeout(
      () => ac.abort(new Error(`no complete answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      const res = await this.send(method, path, o, ac.signal);
      const text = await readAll(res, ac.signal).catch((err: unknown) => {
        throw transportError(method, path, err);
      });
      if (text === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new Error(`${method} ${path}: the answer is not JSON`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Opens a streaming GET (a watch): resolves with the response once its status is 200 (the caller
   * reads and ends it), rejects with ApiError otherwise. Aborting `signal` ends the stream.
   */
  stream(path: string, query: Query, signal: AbortSignal): Promise<IncomingMessage> {
    return this.send('GET', path, { query }, signal);
  }

  /** Closes idle connections (open watches end when their signal is aborted). */
  close(): void {
    this.agent.destroy();
  }

  /** Sends the request; resolves with a 2xx response whose body is unread, else rejects. */
  private async send(
    method: string,
    path: string,
    o: KubeRequestOptions,
    signal: AbortSignal,
    retried = false,
  ): Promise<IncomingMessage> {
    const auth = await this.credentials.current();
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const headers: OutgoingHttpHeaders = { Accept: JSON_CONTENT, 'User-Agent': this.userAgent };
    if (auth.authorization) headers['Authorization'] = auth.authorization;
    if (body !== undefined) {
      headers['Content-Type'] = o.contentType ?? JSON_CONTENT;
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const url = this.url(path, o.query);
    const options: HttpsRequestOptions = { method, headers, agent: this.agent, signal };
    if (this.secure) {
      if (this.config.ca) options.ca = this.config.ca;
      options.rejectUnauthorized = !this.config.insecureSkipTlsVerify;
      // Without tls-server-name, node verifies (and sends SNI for) the URL's host, as client-go does.
      if (this.config.tlsServerName) options.servername = this.config.tlsServerName;
      if (auth.cert && auth.key) {
        options.cert = auth.cert;
        options.key = auth.key;
      }
    }
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (this.secure ? httpsRequest : httpRequest)(url, options, resolve);
      req.on('error', (err) =>
        reject(transportError(method, path, signal.aborted ? (signal.reason ?? err) : err)),
      );
      req.end(body);
    });
    const code = res.statusCode ?? 0;
    if (code >= 200 && code < 300) return res;
    const text = await readAll(res, signal).catch(() => '');
    if (code === 401 && !retried && this.credentials.refreshable) {
      this.credentials.invalidate();
      return this.send(method, path, o, signal, true);
    }
    throw new ApiError(code, method, path, parseStatus(text));
  }
}

function transportError(method: string, path: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`${method} ${path}: ${message}`, { cause: err });
}

function readAll(res: IncomingMessage, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      res.destroy();
      reject(signal.reason);
      return;
    }
    const chunks: Buffer[] = [];
    const onAbort = () => {
      res.destroy();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    res.on('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(err);
    });
  });
}
