// Client of the reloader (see reloader-server.ts), used by the node agent to push FRR configs.
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ApplyOptions {
  /** Timeout of one HTTP request (the whole apply). Default 600 s. */
  timeoutMs?: number;
  /** Retries after the first attempt, on connection errors, timeouts and 5xx. Default 4. */
  retries?: number;
  /** First retry delay; doubles on every retry (capped at maxBackoffMs). Default 250 ms. */
  backoffMs?: number;
  /** Largest retry delay. Default 10 s. */
  maxBackoffMs?: number;
  signal?: AbortSignal;
}

export interface ApplyResponse {
  /** False when the reloader already ran exactly this config (FRR was not touched). */
  applied: boolean;
  /** Time the reloader spent on this config (not counting the queue wait). */
  durationMs: number;
  /** Extra fields of the reloader's answer (reloads, timings, changes, warnings…). */
  details: Record<string, unknown>;
  /** Attempts it took (1 = no retry). */
  attempts: number;
}

export type ReloaderErrorKind =
  /** FRR rejected the config (HTTP 422): final, retrying cannot help. */
  | 'rejected'
  /** The reload failed (HTTP 5xx) after every retry. */
  | 'failed'
  /** The reloader could not be reached (connection error or timeout) after every retry. */
  | 'unreachable'
  /** Any other answer (4xx, malformed). */
  | 'protocol';

export class ReloaderError extends Error {
  override readonly name = 'ReloaderError';
  constructor(
    message: string,
    readonly kind: ReloaderErrorKind,
    /** HTTP status, when there was an answer. */
    readonly status: number | undefined,
    /** FRR's own words (the reloader's `message`), when there is one. */
    readonly frrMessage: string | undefined,
    readonly attempts: number,
  ) {
    super(message);
  }
}

interface RawResponse {
  status: number;
  body: string;
}

class TransportError extends Error {}

function httpOverUnix(
  socketPath: string,
  method: string,
  path: string,
  body: string | undefined,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (body !== undefined) {
      headers['content-type'] = 'text/plain; charset=utf-8';
      headers['content-length'] = Buffer.byteLength(body);
    }
    // agent: false = one connection per request. A kept-alive socket that the server closes after its
    // idle timeout (5 s) while a reconcile is busy elsewhere gets EPIPE/ECONNRESET on reuse.
    const req = request(
      { socketPath, method, path, headers, agent: false, ...(signal ? { signal } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(new TransportError(e.message));
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new TransportError(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.name === 'AbortError') reject(e);
      else
        reject(
          e instanceof TransportError
            ? e
            : new TransportError(e.code ? `${e.code}: ${e.message}` : e.message),
        );
    });
    req.end(body);
  });
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Pushes a full FRR config to the reloader on `socketPath`. Resolves when FRR runs it; rejects with a
 * ReloaderError carrying FRR's message otherwise. Connection errors, timeouts and 5xx answers are
 * retried with exponential backoff; a 422 (FRR rejected the config) is final.
 */
export async function applyFrrConfig(
  socketPath: string,
  text: string,
  opts: ApplyOptions = {},
): Promise<ApplyResponse> {
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const retries = opts.retries ?? 4;
  const backoffMs = opts.backoffMs ?? 250;
  const maxBackoffMs = opts.maxBackoffMs ?? 10_000;
  let last: ReloaderError | undefined;
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    if (attempt > 1) {
      const delay = Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 2));
      await sleep(delay, undefined, opts.signal ? { signal: opts.signal } : {});
    }
    let res: RawResponse;
    try {
      res = await httpOverUnix(socketPath, 'POST', '/frr', text, timeoutMs, opts.signal);
    } catch (e) {
      if (!(e instanceof TransportError)) throw e;
      last = new ReloaderError(
        `reloader at ${socketPath} unreachable: ${e.message}`,
        'unreachable',
        undefined,
        undefined,
        attempt,
      );
      continue;
    }
    const body = parseJson(res.body);
    const frrMessage = typeof body?.['message'] === 'string' ? body['message'] : undefined;
    if (res.status === 200 && body !== undefined && typeof body['applied'] === 'boolean') {
      const { applied, durationMs, ...details } = body;
      return {
        applied: applied as boolean,
        durationMs: typeof durationMs === 'number' ? durationMs : 0,
        details,
        attempts: attempt,
      };
    }
    if (res.status === 422) {
      throw new ReloaderError(
        `FRR rejected the config: ${frrMessage ?? res.body.trim()}`,
        'rejected',
        422,
        frrMessage,
        attempt,
      );
    }
    const what = frrMessage ?? (res.body.trim() || `HTTP ${res.status}`);
    if (res.status >= 500) {
      last = new ReloaderError(
        `FRR reload failed (HTTP ${res.status}): ${what}`,
        'failed',
        res.status,
        frrMessage,
        attempt,
      );
      continue;
    }
    throw new ReloaderError(
      `reloader answered HTTP ${res.status}: ${what}`,
      'protocol',
      res.status,
      frrMessage,
      attempt,
    );
  }
  throw last ?? new ReloaderError('no attempt made', 'protocol', undefined, undefined, 0);
}

export interface ReloaderHealth {
  /** /healthz: the reloader answers and vtysh reaches FRR. */
  healthy: boolean;
  /** /readyz: every expected FRR daemon is running. */
  ready: boolean;
  /** Why not, when not healthy or not ready. */
  reason?: string;
  /** The reloader's /readyz answer (daemons, re-apply status), when there was one. */
  details?: Record<string, unknown>;
}

/** Asks the reloader's /healthz and /readyz (one attempt each, no retry). */
export async function reloaderHealth(
  socketPath: string,
  opts: { timeoutMs?: number } = {},
): Promise<ReloaderHealth> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const ask = async (
    path: string,
  ): Promise<{ ok: boolean; reason?: string; body?: Record<string, unknown> }> => {
    try {
      const r = await httpOverUnix(socketPath, 'GET', path, undefined, timeoutMs, undefined);
      const body = parseJson(r.body);
      const reason = typeof body?.['reason'] === 'string' ? body['reason'] : `HTTP ${r.status}`;
      return { ok: r.status === 200, ...(r.status === 200 ? {} : { reason }), ...(body ? { body } : {}) };
    } catch (e) {
      return { ok: false, reason: `reloader unreachable: ${e instanceof Error ? e.message : String(e)}` };
    }
  };
  const health = await ask('/healthz');
  if (!health.ok) return { healthy: false, ready: false, reason: health.reason ?? 'unhealthy' };
  const ready = await ask('/readyz');
  return {
    healthy: true,
    ready: ready.ok,
    ...(ready.reason !== undefined ? { reason: ready.reason } : {}),
    ...(ready.body ? { details: ready.body } : {}),
  };
}
