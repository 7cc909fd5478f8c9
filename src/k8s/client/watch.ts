// One watch request: GET <collection>?watch=true&resourceVersion=X&allowWatchBookmarks=true, read as
// newline-delimited JSON events. It resolves when the stream ends normally (the server's watch
// timeout, or `signal` aborted, or no byte for idleTimeoutMs) and rejects with ApiError when the
// server refuses the watch or sends an ERROR event (code 410 Expired: the resourceVersion is too
// old, the caller must list again), or with an Error when the connection breaks.
import { StringDecoder } from 'node:string_decoder';
import { ApiError, type Status } from './errors.js';
import type { KubeClient } from './http.js';
import type { KubeObject } from './resources.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export interface WatchOptions {
  resourceVersion?: string;
  fieldSelector?: string;
  labelSelector?: string;
  /** Asks the server to end the watch after this long (it then sends a last bookmark). */
  timeoutSeconds?: number;
  signal: AbortSignal;
  /** Called once the server accepted the watch (status 200). */
  onOpen?: () => void;
  /** Ends the watch when nothing arrived for this long (a connection that died silently). */
  idleTimeoutMs?: number;
}

export async function watch<T extends KubeObject>(
  client: KubeClient,
  path: string,
  onEvent: (e: WatchEvent<T>) => void,
  o: WatchOptions,
): Promise<void> {
  const ac = new AbortController();
  const abort = () => ac.abort();
  if (o.signal.aborted) return;
  o.signal.addEventListener('abort', abort, { once: true });
  try {
    let res: Awaited<ReturnType<KubeClient['stream']>>;
    try {
      res = await client.stream(
        path,
        {
          watch: 'true',
          allowWatchBookmarks: 'true',
          resourceVersion: o.resourceVersion || undefined,
          fieldSelector: o.fieldSelector,
          labelSelector: o.labelSelector,
          timeoutSeconds: o.timeoutSeconds,
        },
        ac.signal,
      );
    } catch (err) {
      if (ac.signal.aborted) return;
      throw err;
    }
    o.onOpen?.();
    await new Promise<void>((resolve, reject) => {
      const decoder = new StringDecoder('utf8');
      let pending = '';
      let failed: Error | undefined;
      let idle: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(idle);
        ac.signal.removeEventListener('abort', onAbort);
        if (!res.destroyed) res.destroy();
        if (err && !ac.signal.aborted) reject(err);
        else resolve();
      };
      const onAbort = () => finish();
      ac.signal.addEventListener('abort', onAbort, { once: true });
      const armIdle = () => {
        if (!o.idleTimeoutMs) return;
        clearTimeout(idle);
        idle = setTimeout(() => finish(), o.idleTimeoutMs);
        idle.unref();
      };
      armIdle();
      const line = (text: string) => {
        if (text.trim() === '' || failed) return;
        let e: WatchEvent<T>;
        try {
          e = JSON.parse(text) as WatchEvent<T>;
        } catch {
          failed = new Error(`GET ${path} (watch): an event is not JSON: ${text.slice(0, 200)}`);
          finish(failed);
          return;
        }
        if (e.type === 'ERROR') {
          const s = e.object as unknown as Status;
          failed = new ApiError(s.code ?? 500, 'GET', `${path} (watch)`, s);
          finish(failed);
          return;
        }
        onEvent(e);
      };
      res.on('data', (chunk: Buffer) => {
        armIdle();
        pending += decoder.write(chunk);
        let nl = pending.indexOf('\n');
        while (nl >= 0 && !failed) {
          line(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
          nl = pending.indexOf('\n');
        }
      });
      res.on('end', () => {
        line(pending + decoder.end());
        finish();
      });
      res.on('error', (err) => finish(new Error(`GET ${path} (watch): ${err.message}`, { cause: err })));
      // A connection reset before 'end' ends the watch like an error (the caller backs off).
      res.on('close', () => {
        if (!res.complete) finish(new Error(`GET ${path} (watch): the connection closed mid-stream`));
        else finish();
      });
    });
  } finally {
    o.signal.removeEventListener('abort', abort);
  }
}
