// The reloader: an HTTP server on a unix socket, beside FRR. It accepts the node's full FRR config,
// applies it with FRR's own tools (FrrReload: --test, --reload, verify), keeps the last good config on
// disk and re-applies it when FRR's daemons restart, and answers health probes from vtysh.
//
//   POST /frr      body = full FRR config (text/plain)
//                  200 {"applied":true|false,"durationMs":n,...}  (false: same as the last applied one,
//                      FRR not touched)
//                  422 {"error":"rejected","message":<FRR's words>}   syntax error, nothing applied
//                  500 {"error":<reason>,"message":<FRR's words>}     the reload failed
//                  503 {"error":"frr-not-ready"|"shutting-down"}    an expected daemon is down (FRR
//                      not touched) / the reloader is stopping
//   GET  /healthz  200 when vtysh answers, else 503 with the reason
//   GET  /readyz   200 when every expected daemon is listed by `show daemons`, else 503 with the reason
//   other methods → 405, other paths → 404, body over the limit → 413.
//
// Requests are applied one after another, in the order their bodies arrived.
import { chmod, lstat, mkdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { CommandRunner } from './exec.js';
import { FrrFastPath } from './fast-path.js';
import { type ApplyResult, type FastPathReport, FrrReload } from './frr-reload.js';
import { jsonLogger, type Logger } from './log.js';
import { type FrrStartEvent, RestartWatch } from './restart-watch.js';
import { readOptionalFile, writeFileAtomic } from './state-file.js';
import { describeTarget, type FrrTarget, pidDirOf } from './target.js';
import { Vtysh } from './vtysh.js';

export const DEFAULT_SOCKET = '/var/run/openperouter/reloader.sock';
export const DEFAULT_STATE_FILE = '/var/lib/openperouter/frr-last-good.conf';
export const DEFAULT_DAEMONS: readonly string[] = ['zebra', 'bgpd', 'staticd', 'bfdd'];
export const DEFAULT_MAX_BODY = 16 * 1024 * 1024;

export interface ReloaderServerOptions {
  /** Unix socket to listen on (created 0600; its directory is created 0700 when missing). */
  socketPath: string;
  /** Where the last good config is kept (written atomically, 0600). */
  stateFile: string;
  /** The FRR instance. */
  target: FrrTarget;
  /** Daemons that must be up for /readyz (and whose restarts are watched). */
  daemons?: readonly string[];
  /** Period of the FRR restart check, ms. Default 2000. 0: check once at start only. */
  restartCheckIntervalMs?: number;
  /** Largest accepted body. Default 16 MiB. */
  maxBodyBytes?: number;
  /** Timeout of each vtysh call (health, daemon list). Default 10 s. */
  vtyshTimeoutMs?: number;
  testTimeoutMs?: number;
  reloadTimeoutMs?: number;
  /** Directory for candidate files. Default os.tmpdir(). */
  tmpDir?: string;
  /**
   * The vtysh fast path for small changes (fast-path.ts): the largest change, in lines, it applies
   * (larger ones, and any failure or mismatch, go through frr-reload.py). 0 disables it. Default 400.
   */
  fastPathMaxLines?: number;
  /** Runs FRR's tools. Default: real child processes. */
  runner?: CommandRunner;
  logger?: Logger;
}

export interface ReapplyStatus {
  state: 'none' | 'pending' | 'ok' | 'failed';
  at?: string;
  message?: string;
}

export interface ReloaderServer {
  readonly socketPath: string;
  /** Resolves when no apply is running or queued. */
  idle(): Promise<void>;
  /** What the last re-apply after an FRR (re)start did. */
  reapplyStatus(): ReapplyStatus;
  /** Graceful stop: no new connections, the running apply finishes, queued ones get 503, socket removed. */
  close(): Promise<void>;
}

/** A FIFO of async jobs, one at a time. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private count = 0;

  run<T>(job: () => Promise<T>): Promise<T> {
    this.count++;
    const p = this.tail.then(job, job).finally(() => {
      this.count--;
    });
    this.tail = p.catch(() => undefined);
    return p;
  }

  get size(): number {
    return this.count;
  }

  async drain(): Promise<void> {
    while (this.count > 0) await this.tail;
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body['message'] ?? body['error'] ?? status));
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** Reads the request body, rejecting with 413 once it exceeds `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (Number.isFinite(declared) && declared > max) {
      reject(new HttpError(413, { error: 'too-large', message: `body of ${declared} bytes exceeds ${max}` }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > max) {
        failed = true;
        chunks.length = 0;
        reject(new HttpError(413, { error: 'too-large', message: `body exceeds ${max} bytes` }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
      failed = true;
    });
  });
}

/** After an early error response, swallow the rest of the body so the client can read the answer. */
function discardRest(req: IncomingMessage): void {
  req.resume();
  const t = setTimeout(() => req.socket.destroy(), 10_000);
  t.unref();
  req.once('end', () => clearTimeout(t));
}

/** Prepares the socket path: directory 0700 if missing; a stale socket is removed, a live one is an error. */
async function prepareSocketPath(path: string, log: Logger): Promise<void> {
  const dir = dirname(path);
  try {
    await lstat(dir);
  } catch {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another process is listening on ${path}`);
  await rm(path, { force: true });
  log.info({ event: 'stale-socket-removed', socket: path }, 'removed a stale socket file');
}

function summary(r: Extract<ApplyResult, { ok: true }>): Record<string, unknown> {
  return {
    path: r.path ?? 'full',
    reloads: r.reloads,
    changes: { add: r.changes.toAdd.length, delete: r.changes.toDelete.length },
    timings: r.timings,
    ...(r.fastPath !== undefined ? { fastPath: r.fastPath } : {}),
    ...(r.warnings.length > 0 ? { warnings: r.warnings } : {}),
  };
}

export async function startReloaderServer(opts: ReloaderServerOptions): Promise<ReloaderServer> {
  const log = opts.logger ?? jsonLogger({ component: 'reloader' });
  const daemons = [...(opts.daemons ?? DEFAULT_DAEMONS)];
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const frr = new FrrReload({
    target: opts.target,
    ...(opts.runner ? { runner: opts.runner } : {}),
    ...(opts.testTimeoutMs !== undefined ? { testTimeoutMs: opts.testTimeoutMs } : {}),
    ...(opts.reloadTimeoutMs !== undefined ? { reloadTimeoutMs: opts.reloadTimeoutMs } : {}),
    ...(opts.tmpDir !== undefined ? { tmpDir: opts.tmpDir } : {}),
  });
  const vtysh = new Vtysh({
    target: opts.target,
    timeoutMs: opts.vtyshTimeoutMs ?? 10_000,
    ...(opts.runner ? { runner: opts.runner } : {}),
  });
  const fastMax = opts.fastPathMaxLines ?? 400;
  const fast =
    fastMax > 0
      ? new FrrFastPath({
          target: opts.target,
          maxLines: fastMax,
          timeoutMs: opts.reloadTimeoutMs ?? 600_000,
          ...(opts.tmpDir !== undefined ? { tmpDir: opts.tmpDir } : {}),
          ...(opts.runner ? { runner: opts.runner } : {}),
        })
      : undefined;
  const queue = new SerialQueue();

  /** The last config applied successfully (persisted in the state file). */
  let lastGood = await readOptionalFile(opts.stateFile);
  /** What FRR is believed to run now: cleared when FRR restarts or a reload failed half-way. */
  let applied: string | undefined;
  let reapply: ReapplyStatus = { state: 'none' };
  let closing = false;

  if (lastGood !== undefined) {
    log.info(
      { event: 'state-loaded', stateFile: opts.stateFile, bytes: Buffer.byteLength(lastGood) },
      'loaded the last good config',
    );
  }

  const persist = async (text: string): Promise<string | undefined> => {
    try {
      await writeFileAtomic(opts.stateFile, text);
      return undefined;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      log.error(
        { event: 'state-write-failed', stateFile: opts.stateFile, err: message },
        'cannot save the last good config',
      );
      return message;
    }
  };

  /**
   * frr-reload.py's whole procedure; on success, FRR's running config is recorded for the fast path
   * (a failure to read it only means the next fast path reads it itself).
   */
  const applyFull = async (text: string): Promise<ApplyResult> => {
    const r = await frr.apply(text);
    if (r.ok && fast !== undefined) {
      await fast.rememberRunning(text).catch((e: unknown) => {
        log.debug({ event: 'running-config-read-failed', err: String(e) }, 'cannot read the running config');
      });
    } else if (!r.ok && r.reason !== 'rejected' && r.reason !== 'test-failed') {
      // FRR may be changed half-way: the recorded running config is stale (a refused candidate
      // changed nothing, so it stays valid).
      fast?.forget();
    }
    return { ...r, ...(r.ok ? { path: 'full' as const } : {}) };
  };

  /**
   * Applies `text` when FRR is believed to run `prev`: the vtysh fast path first when the change is
   * small, frr-reload.py otherwise and whenever the fast path fails or its result does not verify.
   * When the fast path changed FRR and frr-reload.py then refuses the candidate (a syntax error: the
   * full path applies nothing), `prev` is re-applied so that FRR runs the last good config again.
   */
  const applyConfig = async (
    text: string,
    prev: string | undefined,
    prepared?: ReturnType<FrrFastPath['prepare']>,
  ): Promise<ApplyResult> => {
    if (fast === undefined || prev === undefined) return applyFull(text);
    const t0 = performance.now();
    const p = await (prepared ?? fast.prepare(prev, text));
    const f = p.ok ? await p.commit() : p;
    const report: FastPathReport = {
      used: f.ok,
      ...(f.ok ? { commands: f.commands } : { reason: f.reason, message: f.message }),
      ...f.timings,
    };
    if (f.ok) {
      const totalMs = Math.round(performance.now() - t0);
      return {
        ok: true,
        path: 'fast',
        reloads: 0,
        changes: f.changes,
        warnings: [],
        timings: { writeMs: 0, testMs: 0, fastMs: f.timings.totalMs, totalMs },
        fastPath: report,
      };
    }
    const level = f.touched ? 'warn' : 'debug';
    log[level](
      { event: 'fast-path-fallback', reason: f.reason, touched: f.touched, message: f.message },
      'fast path not used, applying with frr-reload.py',
    );
    const r = await applyFull(text);
    if (!r.ok && f.touched && (r.reason === 'rejected' || r.reason === 'test-failed')) {
      const back = await applyFull(prev);
      if (!back.ok) {
        return {
          ...r,
          reason: 'reload-failed',
          message: `${r.message}\nrestoring the previous config after a failed fast path failed too: ${back.message}`,
          fastPath: report,
        };
      }
    }
    return { ...r, timings: { ...r.timings, fastMs: f.timings.totalMs }, fastPath: report };
  };

  /** Expected daemons that `show daemons` does not list (all of them when vtysh fails). */
  const missingDaemons = async (): Promise<string[]> => {
    const running = await vtysh.showDaemons().catch(() => [] as string[]);
    return daemons.filter((d) => !running.includes(d));
  };

  /** One POST /frr, run inside the queue. */
  const applyJob = async (
    text: string,
    queuedAt: number,
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    const start = performance.now();
    const queuedMs = Math.round(start - queuedAt);
    if (closing) {
      return { status: 503, body: { error: 'shutting-down', message: 'the reloader is stopping' } };
    }
    if (applied !== undefined && text === applied) {
      const durationMs = Math.round(performance.now() - start);
      log.info(
        { event: 'frr-apply', result: 'unchanged', durationMs, queuedMs },
        'config unchanged, FRR not touched',
      );
      return { status: 200, body: { applied: false, durationMs, queuedMs } };
    }
    // Applying while a daemon is down would half-apply the config (frr-reload.py configures the daemons
    // that answer): refuse with a retriable 503 instead, without touching FRR.
    // The fast path's preparation (diff, vtysh's syntax check) changes nothing in FRR: it runs while
    // the daemons are checked, and is committed only when they are all up.
    const prepared = fast !== undefined && applied !== undefined ? fast.prepare(applied, text) : undefined;
    const missing = await missingDaemons();
    if (missing.length > 0) {
      await prepared?.catch(() => undefined);
      const message = `FRR is not ready: ${missing.join(', ')} not running`;
      log.warn({ event: 'frr-apply', result: 'not-ready', missing, queuedMs }, message);
      return { status: 503, body: { error: 'frr-not-ready', message } };
    }
    const r = await applyConfig(text, applied, prepared);
    const durationMs = Math.round(performance.now() - start);
    if (r.ok) {
      applied = text;
      lastGood = text;
      const persistError = await persist(text);
      log.info(
        { event: 'frr-apply', result: 'applied', durationMs, queuedMs, ...summary(r) },
        r.path === 'fast'
          ? 'config applied through vtysh'
          : r.reloads === 0
            ? 'FRR already ran this config'
            : 'config applied',
      );
      return {
        status: 200,
        body: {
          applied: true,
          durationMs,
          queuedMs,
          ...summary(r),
          ...(persistError !== undefined ? { persisted: false, persistError } : {}),
        },
      };
    }
    // A reload that failed may have changed FRR: what it runs is unknown now.
    if (r.reason !== 'rejected' && r.reason !== 'test-failed') {
      applied = undefined;
      fast?.forget();
    }
    log.warn(
      {
        event: 'frr-apply',
        result: r.reason,
        durationMs,
        queuedMs,
        reloads: r.reloads,
        timings: r.timings,
        message: r.message,
      },
      r.reason === 'rejected' ? 'FRR rejected the config' : 'FRR reload failed',
    );
    return {
      status: r.reason === 'rejected' ? 422 : 500,
      body: {
        error: r.reason,
        message: r.message,
        durationMs,
        ...(r.remaining ? { remaining: r.remaining } : {}),
        ...(r.fastPath !== undefined ? { fastPath: r.fastPath } : {}),
      },
    };
  };

  /** Re-applies the last good config after FRR (re)started (queued like a POST). */
  const onFrrStart = (e: FrrStartEvent): void => {
    if (closing) return;
    if (e.first) {
      log.info({ event: 'frr-up', pids: e.pids }, 'FRR daemons are up');
    } else {
      log.warn({ event: 'frr-restart-detected', pids: e.pids }, 'FRR daemons restarted');
      applied = undefined;
      fast?.forget();
    }
    if (lastGood === undefined) {
      if (!e.first) log.info({ event: 'frr-reapply', result: 'nothing' }, 'no last good config to re-apply');
      return;
    }
    reapply = { state: 'pending', at: new Date().toISOString() };
    void queue.run(async () => {
      if (closing || lastGood === undefined) return;
      const text = lastGood;
      const r = await applyFull(text);
      if (r.ok) {
        applied = text;
        reapply = { state: 'ok', at: new Date().toISOString() };
        log.info(
          { event: 'frr-reapply', result: 'applied', restart: !e.first, ...summary(r) },
          r.reloads === 0 ? 'FRR already runs the last good config' : 'last good config re-applied',
        );
      } else {
        applied = undefined;
        reapply = { state: 'failed', at: new Date().toISOString(), message: r.message };
        log.error(
          {
            event: 'frr-reapply',
            result: r.reason,
            restart: !e.first,
            timings: r.timings,
            message: r.message,
          },
          're-applying the last good config failed',
        );
      }
    });
  };

  const watch = new RestartWatch({
    pidDir: pidDirOf(opts.target),
    daemons,
    intervalMs: opts.restartCheckIntervalMs ?? 2_000,
    showDaemons: () => vtysh.showDaemons(),
    onStart: onFrrStart,
    logger: log,
  });

  const probe = async (
    kind: 'healthz' | 'readyz',
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    let running: string[];
    try {
      running = await vtysh.showDaemons();
    } catch (e) {
      const reason = `vtysh does not answer: ${e instanceof Error ? e.message : String(e)}`;
      return { status: 503, body: { status: 'fail', reason } };
    }
    if (kind === 'healthz') return { status: 200, body: { status: 'ok', daemons: running } };
    const missing = daemons.filter((d) => !running.includes(d));
    const info = { daemons: running, reapply };
    if (missing.length > 0) {
      return {
        status: 503,
        body: { status: 'fail', reason: `daemons not running: ${missing.join(', ')}`, ...info },
      };
    }
    return { status: 200, body: { status: 'ok', ...info } };
  };

  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<{ status: number; bytes: number }> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const routes: Record<string, string> = { '/frr': 'POST', '/healthz': 'GET', '/readyz': 'GET' };
    const allowed = routes[path];
    if (allowed === undefined) {
      discardRest(req);
      sendJson(res, 404, { error: 'not-found', message: `no route ${path}` });
      return { status: 404, bytes: 0 };
    }
    if (req.method !== allowed) {
      discardRest(req);
      sendJson(
        res,
        405,
        { error: 'method-not-allowed', message: `${path} accepts ${allowed} only` },
        { allow: allowed },
      );
      return { status: 405, bytes: 0 };
    }
    if (path === '/healthz' || path === '/readyz') {
      req.resume();
      const r = await probe(path === '/healthz' ? 'healthz' : 'readyz');
      sendJson(res, r.status, r.body);
      return { status: r.status, bytes: 0 };
    }
    const type = req.headers['content-type'];
    if (type !== undefined && !/^text\/plain(\s*;.*)?$/i.test(type)) {
      discardRest(req);
      sendJson(res, 415, { error: 'unsupported-media-type', message: 'send the FRR config as text/plain' });
      return { status: 415, bytes: 0 };
    }
    const body = await readBody(req, maxBody);
    const text = body.toString('utf8');
    if (text.trim() === '') {
      sendJson(res, 400, { error: 'empty', message: 'the FRR config is empty' });
      return { status: 400, bytes: body.length };
    }
    const queuedAt = performance.now();
    const r = await queue.run(() => applyJob(text, queuedAt));
    sendJson(res, r.status, r.body);
    return { status: r.status, bytes: body.length };
  };

  const server: Server = createServer((req, res) => {
    const start = performance.now();
    handle(req, res)
      .catch((e: unknown) => {
        if (e instanceof HttpError) {
          if (e.status === 413) {
            discardRest(req);
            sendJson(res, 413, e.body, { connection: 'close' });
          } else {
            sendJson(res, e.status, e.body);
          }
          return { status: e.status, bytes: 0 };
        }
        const message = e instanceof Error ? e.message : String(e);
        log.error({ event: 'internal-error', err: message }, 'request failed');
        sendJson(res, 500, { error: 'internal', message });
        return { status: 500, bytes: 0 };
      })
      .then((r) => {
        log.info(
          {
            event: 'request',
            method: req.method,
            path: req.url,
            status: r.status,
            bytes: r.bytes,
            durationMs: Math.round(performance.now() - start),
          },
          'request',
        );
      });
  });

  await prepareSocketPath(opts.socketPath, log);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    // The socket file is created by the synchronous bind inside listen(): with this umask it is
    // born 0600 (no window where another user could connect).
    const oldMask = process.umask(0o177);
    try {
      server.listen(opts.socketPath, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      process.umask(oldMask);
    }
  });
  await chmod(opts.socketPath, 0o600);
  server.on('error', (e) => log.error({ event: 'server-error', err: e.message }, 'server error'));
  log.info(
    {
      event: 'listening',
      socket: opts.socketPath,
      stateFile: opts.stateFile,
      frr: describeTarget(opts.target),
      daemons,
      pidDir: pidDirOf(opts.target),
    },
    'reloader listening',
  );
  watch.start();

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      log.info({ event: 'shutdown', queued: queue.size }, 'reloader stopping');
      await watch.stop();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await queue.drain();
      // Let the last responses go out, then cut whatever keep-alive connection remains.
      await new Promise((r) => setTimeout(r, 50));
      server.closeAllConnections();
      await serverClosed;
      await rm(opts.socketPath, { force: true });
      log.info({ event: 'stopped' }, 'reloader stopped');
    })();
    return closed;
  };

  return {
    socketPath: opts.socketPath,
    idle: () => queue.drain(),
    reapplyStatus: () => reapply,
    close,
  };
}
