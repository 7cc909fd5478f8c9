// Detects that FRR's daemons (re)started, so that the reloader can re-apply the last good config
// (a restarted daemon comes up empty: in integrated-config mode nothing but `vtysh -b` loads frr.conf).
//
// How: every interval, read each expected daemon's pid file (`<pidDir>/<daemon>.pid`). Its identity is
// pid + inode + mtime, so a restart is seen even when the daemon gets the same pid again (a fresh
// container PID namespace) and even when /proc of FRR's PID namespace is not visible from here. When
// the identity of any daemon changed, `vtysh -c "show daemons"` must list every expected daemon before
// the restart is reported, and the new identities must be the same on two consecutive checks (the
// daemons of one restart write their pid files over several hundred ms). For a daemon
// without a pid file the watcher falls back to its presence in `show daemons` (run every interval):
// down → up counts as a restart (a restart faster than one interval is then missed).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from './log.js';

export interface FrrStartEvent {
  /** The first time the daemons were seen up since the watcher started. */
  first: boolean;
  /** Pid per daemon (undefined when it has no pid file). */
  pids: Record<string, number | undefined>;
}

export interface RestartWatchOptions {
  pidDir: string;
  daemons: readonly string[];
  intervalMs: number;
  /** `vtysh -c "show daemons"`; rejects when vtysh fails. */
  showDaemons: () => Promise<string[]>;
  /** Called once all expected daemons are up after a start or restart. */
  onStart: (e: FrrStartEvent) => void;
  logger: Logger;
}

export class RestartWatch {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private lastSig: string | undefined;
  private seenUp = false;
  /** A changed signature seen once, waiting for the next check to confirm it. */
  private settling: string | undefined;
  private warnedNoPid = false;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: RestartWatchOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops polling and waits for a check in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.check()
        .catch((e: unknown) =>
          this.opts.logger.warn({ event: 'frr-watch-error', err: String(e) }, 'FRR watch failed'),
        )
        .finally(() => {
          this.running = undefined;
          // intervalMs <= 0: one observation at start only (re-applies the state file once).
          if (this.opts.intervalMs > 0) this.schedule(this.opts.intervalMs);
        });
    }, ms);
    this.timer.unref();
  }

  private async readPid(daemon: string): Promise<{ pid: number; id: string } | undefined> {
    const file = join(this.opts.pidDir, `${daemon}.pid`);
    try {
      const [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
      const pid = Number(text.trim());
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      return { pid, id: `${pid}/${st.ino}/${st.mtimeMs}` };
    } catch {
      return undefined;
    }
  }

  /** One observation (start() runs it every interval). */
  async check(): Promise<void> {
    const { daemons } = this.opts;
    const pids: Record<string, number | undefined> = {};
    const parts: string[] = [];
    const missing: string[] = [];
    for (const d of daemons) {
      const p = await this.readPid(d);
      pids[d] = p?.pid;
      if (p === undefined) missing.push(d);
      parts.push(`${d}=${p?.id ?? 'nopid'}`);
    }
    if (missing.length > 0 && !this.warnedNoPid) {
      this.warnedNoPid = true;
      this.opts.logger.warn(
        { event: 'frr-watch-no-pidfile', pidDir: this.opts.pidDir, daemons: missing },
        'no pid file for some daemons: their restarts are detected from show daemons only',
      );
    }
    let sig = parts.join(' ');
    let up: string[] | undefined;
    const vtyshUp = async (): Promise<string[]> => {
      up ??= await this.opts.showDaemons().catch(() => []);
      return up;
    };
    if (missing.length > 0) {
      const running = await vtyshUp();
      sig += ` | ${missing.map((d) => `${d}:${running.includes(d) ? 'up' : 'down'}`).join(' ')}`;
    }
    if (sig === this.lastSig) return;
    // Debounce: the daemons of one restart write their pid files over several hundred ms (and answer
    // vtysh before that), so wait until the identities are the same on two consecutive checks.
    if (this.opts.intervalMs > 0 && sig !== this.settling) {
      this.settling = sig;
      return;
    }
    const running = await vtyshUp();
    if (!daemons.every((d) => running.includes(d))) {
      // Not (yet) all up: remember that, so the next all-up observation is reported whatever its pids.
      this.lastSig = `down:${sig}`;
      return;
    }
    const first = !this.seenUp;
    this.seenUp = true;
    this.lastSig = sig;
    this.opts.onStart({ first, pids });
  }
}
