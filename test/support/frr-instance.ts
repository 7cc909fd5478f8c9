// A throwaway FRR instance for tests: one network namespace, FRR daemons started with the pathspace
// `-N <ns>` inside it (see /work/shared/docs/lab.md), and helpers around vtysh and frr-reload.py.
//
// Isolation: FRR's pathspace directories are /etc/frr/<ns>/ and /var/run/frr/<ns>/. The /etc/frr that
// FRR sees is private to the instance: every FRR process (daemons, vtysh, frr-reload.py) runs through
// `ip netns exec <ns>`, which bind-mounts /etc/netns/<ns>/frr over /etc/frr. So a config line such as
// `log file /etc/frr/frr.log` or the `vtysh write` done by frr-reload.py never touches the host's
// /etc/frr. The host path of the instance's /etc/frr/<ns>/ is `instance.confDir`.
//
// Hostname: FRR 8.4 prints the system hostname (uname) of every daemon and of vtysh itself in
// `show running-config`, whatever `hostname X` says. `startFrr({ hostname })` runs every FRR process
// (daemons, vtysh, frr-reload.py) in a private UTS namespace with that hostname, which models "the
// renderer emits the hostname of the machine FRR runs on".
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname as osHostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

export type FrrDaemon = 'zebra' | 'bgpd' | 'staticd' | 'bfdd';

export interface StartFrrOptions {
  /** Short label, part of the netns name (`oprt-<name>-<random>`). */
  name?: string;
  /** Daemons to start; zebra is always started (first). Default: zebra, bgpd, staticd, bfdd. */
  daemons?: FrrDaemon[];
  /** System hostname seen by the daemons (private UTS namespace). Default: the machine's. */
  hostname?: string;
  /** Time allowed for the daemons to answer vtysh. Default 15 s. */
  startTimeoutMs?: number;
}

export interface CommandResult {
  ok: boolean;
  /** stdout followed by stderr of the FRR tool. */
  output: string;
}

export interface PendingChanges {
  /**
   * Lines frr-reload.py would add. Each entry is one command with its contexts, joined by " > ",
   * e.g. `router bgp 64514 > address-family ipv4 unicast > network 10.0.0.1/32`.
   */
  toAdd: string[];
  /** Lines frr-reload.py would delete, spelled as the `no ...` command it would run, with contexts. */
  toDelete: string[];
  /** Full output of `frr-reload.py --test` (stdout, then stderr). */
  raw: string;
}

export interface FrrInstance {
  /** Network namespace name, also the FRR pathspace. */
  readonly ns: string;
  /** Hostname the daemons see. */
  readonly hostname: string;
  /** Host path of the directory FRR sees as /etc/frr/<ns>/. */
  readonly confDir: string;
  /** Host path of /var/run/frr/<ns>/ (sockets, pid files, daemon logs `<daemon>.log`). */
  readonly runDir: string;
  /** Runs `vtysh -N <ns> -c <cmd>...`; rejects with vtysh's output when it exits non-zero. */
  vtysh(...commands: string[]): Promise<string>;
  /** `show running-config`. */
  runningConfig(): Promise<string>;
  /** `frr-reload.py -N <ns> --stdout --reload <file with configText>`. */
  reload(configText: string): Promise<CommandResult>;
  /** `frr-reload.py -N <ns> --stdout --test <file>`, parsed. Rejects when frr-reload.py fails. */
  pendingChanges(configText: string): Promise<PendingChanges>;
  /** `vtysh -C -f <file>` (syntax only). */
  syntaxCheck(configText: string): Promise<CommandResult>;
  /** Tail of every daemon's log, for failure messages. */
  daemonLogs(maxLinesPerDaemon?: number): Promise<string>;
  /** Kills the daemons, deletes the netns and every directory. Idempotent, never rejects. */
  stop(): Promise<void>;
}

const FRR_BIN = '/usr/lib/frr';
const FRR_RELOAD = '/usr/lib/frr/frr-reload.py';
const VTYSH = '/usr/bin/vtysh';
const ALL_DAEMONS: readonly FrrDaemon[] = ['zebra', 'bgpd', 'staticd', 'bfdd'];

interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program (no shell) and resolves with its exit code and output; rejects only on spawn errors/timeouts. */
function run(file: string, args: readonly string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        const code = (error as NodeJS.ErrnoException & { code?: unknown }).code;
        if (typeof code === 'number') {
          resolve({ code, stdout, stderr });
          return;
        }
        const killed = (error as { killed?: boolean }).killed === true;
        const why = killed ? `timed out after ${timeoutMs} ms` : error.message;
        reject(new Error(`${file} ${args.join(' ')}: ${why}\n${stdout}${stderr}`));
      },
    );
  });
}

/** Runs a program and rejects with its output when it exits non-zero. */
async function runOk(file: string, args: readonly string[], timeoutMs: number): Promise<string> {
  const r = await run(file, args, timeoutMs);
  if (r.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

async function lookupId(file: string, name: string): Promise<number> {
  const text = await readFile(file, 'utf8');
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields[2] !== undefined) return Number(fields[2]);
  }
  throw new Error(`${name} not found in ${file} (is the frr package installed?)`);
}

/** True when PID is gone or a zombie (a killed daemonised FRR stays a zombie until reaped). */
async function processGone(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Parses the output of `frr-reload.py --test`: after "Lines To Delete" / "Lines To Add" (each
 * followed by a "====" line) every command is printed as its contexts, one per line with one more
 * space of indentation per level, then the command; a new command starts at an unindented line.
 */
export function parseReloadTest(stdout: string): { toAdd: string[]; toDelete: string[] } {
  const toAdd: string[] = [];
  const toDelete: string[] = [];
  let section: string[] | undefined;
  let current: string[] = [];
  const flush = (): void => {
    if (section !== undefined && current.length > 0) section.push(current.join(' > '));
    current = [];
  };
  for (const rawLine of stdout.split('\n')) {
    const line = rawLine.trimEnd();
    if (line === 'Lines To Delete' || line === 'Lines To Add') {
      flush();
      section = line === 'Lines To Delete' ? toDelete : toAdd;
      continue;
    }
    if (section === undefined || line === '' || /^=+$/.test(line)) continue;
    if (!/^\s/.test(line)) flush();
    current.push(line.trim());
  }
  flush();
  return { toAdd, toDelete };
}

const live = new Set<FrrInstance>();
/** Temp directory of each live instance, by netns name (for the emergency cleanup). */
const tmpDirs = new Map<string, string>();

/** Stops every instance started by this process that is still running (for `after()` hooks). */
export async function stopAllFrr(): Promise<void> {
  await Promise.all([...live].map((i) => i.stop()));
}

/**
 * Last resort when the process exits with instances still running (a crashed test, an uncaught
 * error): synchronously kill their daemons and remove their netns and directories.
 */
function emergencyCleanup(): void {
  for (const i of live) {
    for (const d of ALL_DAEMONS) {
      try {
        const pid = Number(readFileSync(join(i.runDir, `${d}.pid`), 'utf8').trim());
        if (Number.isInteger(pid) && pid > 1) tryKill(pid, 'SIGKILL');
      } catch {
        // not started
      }
    }
    try {
      execFileSync('ip', ['netns', 'del', i.ns], { stdio: 'ignore', timeout: 5_000 });
    } catch {
      // already gone
    }
    rmSync(i.runDir, { recursive: true, force: true });
    rmSync(`/etc/netns/${i.ns}`, { recursive: true, force: true });
    const tmp = tmpDirs.get(i.ns);
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  }
  live.clear();
}
let emergencyHooked = false;

function sanitizeLabel(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s.slice(0, 16) || 'frr';
}

export async function startFrr(opts: StartFrrOptions = {}): Promise<FrrInstance> {
  const ns = `oprt-${sanitizeLabel(opts.name ?? 'frr')}-${randomBytes(4).toString('hex')}`;
  const requested = opts.daemons ?? [...ALL_DAEMONS];
  const daemons: FrrDaemon[] = [
    'zebra',
    ...ALL_DAEMONS.filter((d) => d !== 'zebra' && requested.includes(d)),
  ];
  const hostname = opts.hostname;
  if (hostname !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/.test(hostname)) {
    throw new Error(`invalid hostname ${JSON.stringify(hostname)}`);
  }
  const startTimeoutMs = opts.startTimeoutMs ?? 15_000;

  const netnsEtc = `/etc/netns/${ns}`;
  const privateEtcFrr = join(netnsEtc, 'frr'); // seen as /etc/frr inside `ip netns exec`
  const confDir = join(privateEtcFrr, ns); // seen as /etc/frr/<ns>
  const runDir = `/var/run/frr/${ns}`;
  let tmp: string | undefined;
  let netnsCreated = false;
  let stopping: Promise<void> | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  /** Serialises the instance's FRR operations (two frr-reload.py runs must never overlap). */
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn, fn);
    queue = p.catch(() => undefined);
    return p;
  };

  /**
   * Runs an FRR program inside the instance: in the netns (which also gives the private /etc/frr) and,
   * when a hostname was asked for, in a fresh UTS namespace carrying it. vtysh prints its own uname
   * next to the daemons' one, so vtysh and frr-reload.py need the hostname as much as the daemons.
   */
  const inNs = (file: string, args: readonly string[], timeoutMs: number): Promise<ExecResult> => {
    const cmd = ['netns', 'exec', ns, file, ...args];
    if (hostname === undefined) return run('ip', cmd, timeoutMs);
    // The hostname reaches `hostname` as a positional argument: nothing is interpolated into the script.
    const script = 'hostname "$1" && shift && exec "$@"';
    return run('unshare', ['--uts', '--', '/bin/sh', '-c', script, 'sh', hostname, 'ip', ...cmd], timeoutMs);
  };

  const withConfigFile = async <T>(configText: string, fn: (path: string) => Promise<T>): Promise<T> => {
    if (tmp === undefined) throw new Error(`FRR instance ${ns} is stopped`);
    const path = join(tmp, `candidate-${randomBytes(4).toString('hex')}.conf`);
    await writeFile(path, configText.endsWith('\n') ? configText : `${configText}\n`, { mode: 0o644 });
    try {
      return await fn(path);
    } finally {
      await rm(path, { force: true });
    }
  };

  const readPids = async (): Promise<number[]> => {
    const pids: number[] = [];
    for (const d of ALL_DAEMONS) {
      try {
        const n = Number((await readFile(join(runDir, `${d}.pid`), 'utf8')).trim());
        if (Number.isInteger(n) && n > 1) pids.push(n);
      } catch {
        // not started
      }
    }
    return pids;
  };

  const daemonLogs = async (maxLines = 30): Promise<string> => {
    const parts: string[] = [];
    for (const d of daemons) {
      try {
        const lines = (await readFile(join(runDir, `${d}.log`), 'utf8')).trimEnd().split('\n');
        parts.push(
          `--- ${d}.log (last ${Math.min(maxLines, lines.length)} lines)\n${lines.slice(-maxLines).join('\n')}`,
        );
      } catch {
        parts.push(`--- ${d}.log: missing`);
      }
    }
    return parts.join('\n');
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const pids = await readPids();
      for (const pid of pids) tryKill(pid, 'SIGTERM');
      const deadline = Date.now() + 5_000;
      let alive = pids;
      while (alive.length > 0 && Date.now() < deadline) {
        await sleep(50);
        const next: number[] = [];
        for (const pid of alive) if (!(await processGone(pid))) next.push(pid);
        alive = next;
      }
      for (const pid of alive) tryKill(pid, 'SIGKILL');
      if (netnsCreated) {
        await run('ip', ['netns', 'del', ns], 10_000).catch(() => undefined);
      }
      await rm(runDir, { recursive: true, force: true });
      await rm(netnsEtc, { recursive: true, force: true });
      if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
      tmp = undefined;
      tmpDirs.delete(ns);
      live.delete(instance);
    })();
    return stopping;
  };

  const vtysh = (...commands: string[]): Promise<string> =>
    serial(async () => {
      const r = await inNs(VTYSH, ['-N', ns, ...commands.flatMap((c) => ['-c', c])], 30_000);
      if (r.code !== 0) {
        throw new Error(
          `vtysh ${commands.map((c) => `-c '${c}'`).join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`,
        );
      }
      return r.stdout;
    });

  const instance: FrrInstance = {
    ns,
    hostname: hostname ?? osHostname(),
    confDir,
    runDir,
    vtysh,
    runningConfig: () => vtysh('show running-config'),
    reload: (configText) =>
      serial(() =>
        withConfigFile(configText, async (path) => {
          const r = await inNs(FRR_RELOAD, ['-N', ns, '--stdout', '--reload', path], 120_000);
          return { ok: r.code === 0, output: stripVTControlCharacters(r.stdout + r.stderr) };
        }),
      ),
    pendingChanges: (configText) =>
      serial(() =>
        withConfigFile(configText, async (path) => {
          const r = await inNs(FRR_RELOAD, ['-N', ns, '--stdout', '--test', path], 120_000);
          const raw = stripVTControlCharacters(r.stdout + r.stderr);
          if (r.code !== 0) throw new Error(`frr-reload.py --test exited ${r.code}:\n${raw}`);
          return { ...parseReloadTest(r.stdout), raw };
        }),
      ),
    syntaxCheck: (configText) =>
      serial(() =>
        withConfigFile(configText, async (path) => {
          const r = await inNs(VTYSH, ['-N', ns, '-C', '-f', path], 30_000);
          return { ok: r.code === 0, output: stripVTControlCharacters(r.stdout + r.stderr) };
        }),
      ),
    daemonLogs,
    stop,
  };
  live.add(instance);
  if (!emergencyHooked) {
    emergencyHooked = true;
    process.once('exit', emergencyCleanup);
  }

  try {
    const uid = await lookupId('/etc/passwd', 'frr');
    const gid = await lookupId('/etc/group', 'frr');
    tmp = await mkdtemp(join(tmpdir(), `${ns}-`));
    tmpDirs.set(ns, tmp);
    await mkdir(confDir, { recursive: true });
    await mkdir(runDir, { recursive: true });
    await writeFile(join(confDir, 'vtysh.conf'), 'service integrated-vtysh-config\n');
    await writeFile(join(confDir, 'frr.conf'), '');
    for (const p of [
      privateEtcFrr,
      confDir,
      join(confDir, 'vtysh.conf'),
      join(confDir, 'frr.conf'),
      runDir,
    ]) {
      await chown(p, uid, gid);
    }
    await runOk('ip', ['netns', 'add', ns], 10_000);
    netnsCreated = true;
    await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], 10_000);

    const startDaemon = async (d: FrrDaemon): Promise<void> => {
      const args = ['-d', '-N', ns, '-P', '0', '-u', 'frr', '-g', 'frr'];
      args.push('-i', join(runDir, `${d}.pid`), '--log', `file:${join(runDir, `${d}.log`)}`);
      if (d === 'bfdd') args.push('--bfdctl', join(runDir, 'bfdd.sock'));
      const r = await inNs(join(FRR_BIN, d), args, 15_000);
      if (r.code !== 0) throw new Error(`starting ${d} exited ${r.code}:\n${r.stdout}${r.stderr}`);
    };
    // zebra first: the other daemons connect to its zserv socket.
    await startDaemon('zebra');
    await Promise.all(daemons.filter((d) => d !== 'zebra').map(startDaemon));

    const deadline = Date.now() + startTimeoutMs;
    let last = '';
    for (;;) {
      const r = await inNs(VTYSH, ['-N', ns, '-c', 'show daemons'], 10_000);
      last = r.stdout + r.stderr;
      const up = r.code === 0 ? r.stdout.trim().split(/\s+/) : [];
      if (daemons.every((d) => up.includes(d))) break;
      if (Date.now() > deadline) {
        throw new Error(
          `FRR in ${ns} did not answer for ${daemons.join(',')} within ${startTimeoutMs} ms; vtysh said:\n${last}\n${await daemonLogs()}`,
        );
      }
      await sleep(50);
    }
    return instance;
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The repository root (the nearest ancestor directory holding package.json), from this file's location. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export interface AcceptanceReport {
  /** Empty when FRR accepted the config and a re-reload would change nothing. */
  problems: string[];
  /** Running config after the first reload. */
  runningConfig: string;
  /** Milliseconds per step. */
  timings: Record<'start' | 'syntax' | 'reload1' | 'pending' | 'reload2' | 'stop' | 'total', number>;
}

/** Lines of frr-reload.py/vtysh output that say what went wrong (its INFO chatter left out). */
export function reloadErrors(output: string): string[] {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const picked = lines.filter(
    (l) =>
      /^line \d+:/.test(l) ||
      /^%/.test(l) ||
      /^Error (type|description)/.test(l) ||
      /^- {1,2}\S/.test(l) ||
      /(ERROR|WARNING|CRITICAL)/.test(l) ||
      /exited with status/.test(l),
  );
  return picked.length > 0 ? picked : lines.slice(-30);
}

/** Line multiset difference a − b, order kept. */
function linesMissing(a: string[], b: string[]): string[] {
  const counts = new Map<string, number>();
  for (const l of b) counts.set(l, (counts.get(l) ?? 0) + 1);
  const out: string[] = [];
  for (const l of a) {
    const n = counts.get(l) ?? 0;
    if (n > 0) counts.set(l, n - 1);
    else out.push(l);
  }
  return out;
}

/**
 * The FRR acceptance check of one configuration, in a fresh instance: (a) `vtysh -C` syntax check,
 * (b) the first frr-reload.py --reload succeeds, (c) frr-reload.py --test right after finds nothing to
 * add or delete, (d) a second --reload succeeds and leaves `show running-config` unchanged.
 * The instance's system hostname is the config's `hostname` line, if any (see the file header).
 */
export async function acceptFrrConfig(
  configText: string,
  opts: Omit<StartFrrOptions, 'hostname'> = {},
): Promise<AcceptanceReport> {
  const timings: AcceptanceReport['timings'] = {
    start: 0,
    syntax: 0,
    reload1: 0,
    pending: 0,
    reload2: 0,
    stop: 0,
    total: 0,
  };
  const t0 = Date.now();
  let t = t0;
  const lap = (k: keyof AcceptanceReport['timings']): void => {
    const now = Date.now();
    timings[k] = now - t;
    t = now;
  };
  const problems: string[] = [];
  const host = /^hostname\s+(\S+)\s*$/m.exec(configText)?.[1];
  const frr = await startFrr({ ...opts, ...(host !== undefined ? { hostname: host } : {}) });
  lap('start');
  let runningConfig = '';
  try {
    const syntax = await frr.syntaxCheck(configText);
    lap('syntax');
    if (!syntax.ok) {
      problems.push(`(a) syntax check (vtysh -C -f) failed:\n${syntax.output.trimEnd()}`);
      return { problems, runningConfig, timings };
    }
    const first = await frr.reload(configText);
    lap('reload1');
    if (!first.ok) {
      problems.push(`(b) first reload failed:\n${reloadErrors(first.output).join('\n')}`);
    }
    runningConfig = await frr.runningConfig();
    const pending = await frr.pendingChanges(configText);
    lap('pending');
    for (const l of pending.toDelete) problems.push(`(c) a re-reload would delete: ${l}`);
    for (const l of pending.toAdd) problems.push(`(c) a re-reload would add: ${l}`);
    const second = await frr.reload(configText);
    lap('reload2');
    if (!second.ok) {
      problems.push(`(d) second reload failed:\n${reloadErrors(second.output).join('\n')}`);
    }
    const after = await frr.runningConfig();
    if (after !== runningConfig) {
      const before = runningConfig.split('\n');
      const now = after.split('\n');
      const gone = linesMissing(before, now).map((l) => `  - ${l}`);
      const added = linesMissing(now, before).map((l) => `  + ${l}`);
      const detail =
        gone.length + added.length > 0 ? [...gone, ...added].join('\n') : '  (same lines, new order)';
      problems.push(`(d) the second reload changed show running-config:\n${detail}`);
    }
    return { problems, runningConfig, timings };
  } finally {
    t = Date.now();
    await frr.stop();
    lap('stop');
    timings.total = Date.now() - t0;
  }
}
