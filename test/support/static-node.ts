// A whole static-mode node for tests, with real processes: FRR (all four daemons) in a throwaway
// router namespace (started by frr-instance.ts, as openperouter-frr.service would), `openperouter
// reloader` pointed at it with --pathspace/--netns, and `openperouter static` with --host-namespace /
// --router-namespace, both as child processes of the CLI in dist/ (./bin/openperouter).
//
// Cleanup: every child process, namespace and directory is registered the moment it exists and is
// removed by stop()/stopAllStaticNodes(), or, when the test process dies with them still around (a
// crashed test, SIGINT/SIGTERM from the runner), by a synchronous 'exit' handler.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { waitFor } from './eventually.js';
import { type FrrDaemon, type FrrInstance, repoRoot, startFrr } from './frr-instance.js';

// ---------------------------------------------------------------------------------------------------
// emergency cleanup

const liveChildren = new Set<ChildProcess>();
const liveNetns = new Set<string>();
const liveDirs = new Set<string>();
let hooked = false;

function emergencyCleanup(): void {
  for (const c of liveChildren) {
    try {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  liveChildren.clear();
  for (const ns of liveNetns) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5_000 });
    } catch {
      // gone
    }
  }
  liveNetns.clear();
  for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  liveDirs.clear();
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', emergencyCleanup);
  // A runner that times the file out sends a signal: turn it into an exit so the handlers run
  // (frr-instance.ts hooks 'exit' too and stops its FRR daemons).
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143));
  }
}

/** A temporary directory removed at cleanup. */
export function tempDir(label: string): string {
  hook();
  const d = mkdtempSync(join(tmpdir(), `oprs-${label}-`));
  liveDirs.add(d);
  return d;
}

export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  liveDirs.delete(d);
}

/** A named network namespace (lo up) deleted at cleanup. */
export function addNetns(label: string): string {
  hook();
  const ns = `oprs-${label}-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  liveNetns.add(ns);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

export function deleteNetns(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // gone
  }
  liveNetns.delete(ns);
}

// ---------------------------------------------------------------------------------------------------
// commands

/** `ip ARGS` (throws with stderr on failure). */
export function ip(...args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? '';
    throw new Error(`ip ${args.join(' ')}: ${stderr.trim() || (e as Error).message}`);
  }
}

/** `ip -n NS -batch -` of the lines. */
export function ipBatch(ns: string, lines: string[]): void {
  try {
    execFileSync('ip', ['-n', ns, '-batch', '-'], {
      input: `${lines.join('\n')}\n`,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (e) {
    const stderr = String((e as { stderr?: unknown }).stderr ?? '');
    throw new Error(`ip -n ${ns} -batch: ${stderr.trim() || (e as Error).message}`);
  }
}

export interface LinkJson {
  ifname: string;
  mtu: number;
  master?: string;
  flags: string[];
  operstate?: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

/** Links of a namespace with their addresses (`ip -d -json addr show`), by name. */
export function linksOf(ns: string): Map<string, LinkJson> {
  const list = JSON.parse(ip('-n', ns, '-d', '-json', 'addr', 'show')) as LinkJson[];
  return new Map(list.map((l) => [l.ifname, l]));
}

/** Global addresses of a link, `a.b.c.d/len`. */
export function globalAddresses(l: LinkJson | undefined): string[] {
  return (l?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
}

/**
 * ICMP echo in Python (this machine has no `ping`; /usr/bin/python3 comes with frr-pythontools, whose
 * frr-reload.py needs it): one echo request to argv[1], exit 0 when the matching reply arrives within
 * argv[2] seconds.
 */
const PING_PY = `
import os, socket, struct, sys, time
dst, timeout = sys.argv[1], float(sys.argv[2])
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
ident = os.getpid() & 0xffff
payload = b'openperouter-static-test'
hdr = struct.pack('!BBHHH', 8, 0, 0, ident, 1)
pkt = struct.pack('!BBHHH', 8, 0, csum(hdr + payload), ident, 1) + payload
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(pkt, (dst, 0))
end = time.time() + timeout
while True:
    left = end - time.time()
    if left <= 0: sys.exit(1)
    s.settimeout(left)
    try:
        data, addr = s.recvfrom(2048)
    except socket.timeout:
        sys.exit(1)
    ihl = (data[0] & 0x0f) * 4
    t, _, _, i, _ = struct.unpack('!BBHHH', data[ihl:ihl + 8])
    if addr[0] == dst and t == 0 and i == ident: sys.exit(0)
`;

/** One ICMP echo from inside a namespace; true when it was answered. */
export function pingOnce(ns: string, address: string, timeoutS = 1): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      'ip',
      ['netns', 'exec', ns, '/usr/bin/python3', '-c', PING_PY, address, String(timeoutS)],
      { timeout: (timeoutS + 5) * 1000 },
      (err) => resolve(err === null),
    );
  });
}

// ---------------------------------------------------------------------------------------------------
// child processes of the CLI

export type LogRecord = Record<string, unknown> & { msg?: string; level?: string; time?: string };

/** A running `openperouter <subcommand>`: its JSON log lines (stderr), its exit. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly records: LogRecord[] = [];
  /** Everything it printed, stdout and stderr interleaved, also appended to `logFile`. */
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private partial = '';

  constructor(
    readonly name: string,
    args: string[],
    readonly logFile: string,
  ) {
    hook();
    const bin = join(repoRoot(), 'bin', 'openperouter');
    this.child = spawn(bin, args, { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(this.child);
    appendFileSync(logFile, `--- ${new Date().toISOString()} ${name}: openperouter ${args.join(' ')}\n`);
    const onData = (d: Buffer): void => {
      const text = d.toString();
      this.output += text;
      appendFileSync(logFile, text);
      this.partial += text;
      const lines = this.partial.split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          this.records.push(JSON.parse(line) as LogRecord);
        } catch {
          // not a log line
        }
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        liveChildren.delete(this.child);
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Log records with this message, from index `from` on. */
  find(msg: string, from = 0): LogRecord[] {
    return this.records.slice(from).filter((r) => r.msg === msg);
  }

  /** Waits for a log record matching `pred` (from index `from` on). */
  waitForRecord(
    what: string,
    pred: (r: LogRecord) => boolean,
    timeoutMs = 30_000,
    from = 0,
  ): Promise<LogRecord> {
    return waitFor(
      `${this.name}: ${what}`,
      () => {
        if (!this.running && !this.records.slice(from).some(pred)) {
          throw new Error(`${this.name} exited; output:\n${this.output.slice(-4000)}`);
        }
        return this.records.slice(from).find(pred);
      },
      timeoutMs,
      50,
    );
  }

  /** Sends a signal and waits for the exit (SIGKILL after `graceMs`). */
  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
    graceMs = 10_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal);
    const t = setTimeout(() => {
      if (this.running) this.child.kill('SIGKILL');
    }, graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(t);
    }
  }
}

/** Runs `openperouter ARGS` to completion (e.g. `static --once`). */
export async function runCli(
  args: string[],
  logFile: string,
  timeoutMs = 120_000,
): Promise<{ code: number | null; output: string; records: LogRecord[] }> {
  const p = new CliProcess('cli', args, logFile);
  const t = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  try {
    const { code } = await p.exited;
    // the streams may still hold the last lines
    await new Promise((r) => setImmediate(r));
    return { code, output: p.output, records: p.records };
  } finally {
    clearTimeout(t);
  }
}

// ---------------------------------------------------------------------------------------------------
// FRR daemons

/** Pid of a daemon of the instance, from its pid file. */
export async function daemonPid(frr: FrrInstance, d: FrrDaemon): Promise<number> {
  return Number((await readFile(join(frr.runDir, `${d}.pid`), 'utf8')).trim());
}

function processGone(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/** SIGKILLs daemons of the instance and waits until they are gone (zombies count as gone). */
export async function killFrrDaemons(frr: FrrInstance, daemons: readonly FrrDaemon[]): Promise<void> {
  const pids = await Promise.all(daemons.map((d) => daemonPid(frr, d)));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await waitFor('FRR daemons to die', () => (pids.every(processGone) ? true : undefined), 10_000, 50);
}

/** Starts daemons of the instance again, exactly as startFrr does (nothing loads frr.conf: FRR comes up empty). */
export async function startFrrDaemons(frr: FrrInstance, daemons: readonly FrrDaemon[]): Promise<void> {
  const one = (d: FrrDaemon): Promise<void> =>
    new Promise((resolve, reject) => {
      const args = ['netns', 'exec', frr.ns, `/usr/lib/frr/${d}`, '-d', '-N', frr.ns, '-P', '0'];
      args.push('-u', 'frr', '-g', 'frr', '-i', join(frr.runDir, `${d}.pid`));
      args.push('--log', `file:${join(frr.runDir, `${d}.log`)}`);
      if (d === 'bfdd') args.push('--bfdctl', join(frr.runDir, 'bfdd.sock'));
      execFile('ip', args, { timeout: 15_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`starting ${d}: ${err.message}\n${stdout}${stderr}`)) : resolve(),
      );
    });
  if (daemons.includes('zebra')) await one('zebra');
  await Promise.all(daemons.filter((d) => d !== 'zebra').map(one));
}

// ---------------------------------------------------------------------------------------------------
// the static node

export interface StaticNodeOptions {
  /** Namespace playing the node's host namespace (must exist). */
  hostNamespace: string;
  /** Node file contents (YAML). */
  nodeFile: string;
  /** Manifests written to the config directory before the agent starts: file name -> YAML. */
  manifests?: Record<string, string>;
  /** Extra flags of `openperouter static` (default: --debounce-ms 200). */
  staticArgs?: string[];
  /** Restart check interval of the reloader, ms (default 500). */
  restartCheckIntervalMs?: number;
}

export interface StaticNode {
  /** The FRR instance of the router namespace; `router.ns` is the router namespace. */
  readonly router: FrrInstance;
  readonly routerNamespace: string;
  readonly hostNamespace: string;
  readonly dir: string;
  readonly configDir: string;
  readonly nodeFile: string;
  readonly statusFile: string;
  readonly socket: string;
  readonly reloaderStateFile: string;
  /** The agent's saved last good objects (--state-file). */
  readonly staticStateFile: string;
  /** Where the children's output goes (kept while the test runs, printed on failure). */
  readonly logFile: string;
  reloader: CliProcess;
  /** The running agent (undefined until startAgent, or after stopAgent). */
  agent: CliProcess | undefined;
  /** The `openperouter static` arguments (without --once). */
  staticArgs(): string[];
  /** Starts `openperouter static` (again). */
  startAgent(): CliProcess;
  /** Writes a manifest atomically (temp file + rename: the agent never reads half a file). */
  writeManifest(name: string, yaml: string): void;
  removeManifest(name: string): void;
  /** Parsed status file, undefined while there is none. */
  status(): StatusFile | undefined;
  /** Kills the processes, stops FRR, deletes the router namespace and the directory. Never rejects. */
  stop(): Promise<void>;
}

export interface StatusFile {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  status: {
    conditions?: {
      type: string;
      status: string;
      reason: string;
      message: string;
      lastTransitionTime: string;
    }[];
    failedResources?: { kind: string; name: string; reason: string; message: string }[];
  };
}

const liveNodes = new Set<StaticNode>();

export async function stopAllStaticNodes(): Promise<void> {
  await Promise.all([...liveNodes].map((n) => n.stop()));
}

export async function startStaticNode(opts: StaticNodeOptions): Promise<StaticNode> {
  hook();
  const dir = tempDir('node');
  const configDir = join(dir, 'configs');
  const nodeFile = join(dir, 'node.yaml');
  const statusFile = join(dir, 'status.yaml');
  const socket = join(dir, 'run', 'reloader.sock');
  const reloaderStateFile = join(dir, 'state', 'frr-last-good.conf');
  const logFile = join(dir, 'processes.log');
  const staticStateFile = join(dir, 'state', 'static-last-good.json');
  execFileSync('mkdir', ['-p', configDir]);
  writeFileSync(nodeFile, opts.nodeFile);
  for (const [name, yaml] of Object.entries(opts.manifests ?? {})) writeFileSync(join(configDir, name), yaml);
  writeFileSync(logFile, '');

  let router: FrrInstance | undefined;
  let reloader: CliProcess | undefined;
  try {
    router = await startFrr({ name: 'router' });
    const r = router;
    reloader = new CliProcess(
      'reloader',
      [
        'reloader',
        '--socket',
        socket,
        '--state-file',
        reloaderStateFile,
        '--pathspace',
        r.ns,
        '--netns',
        r.ns,
        '--restart-check-interval',
        String(opts.restartCheckIntervalMs ?? 500),
      ],
      logFile,
    );
    await waitFor('the reloader socket', () => (existsSync(socket) ? true : undefined), 20_000, 50);
    let stopping: Promise<void> | undefined;
    const staticArgs = (): string[] => [
      'static',
      '--host-namespace',
      opts.hostNamespace,
      '--router-namespace',
      r.ns,
      '--config-dir',
      configDir,
      '--node-file',
      nodeFile,
      '--status-file',
      statusFile,
      '--reloader-socket',
      socket,
      '--state-file',
      staticStateFile,
      ...(opts.staticArgs ?? ['--debounce-ms', '200']),
    ];
    const node: StaticNode = {
      router: r,
      routerNamespace: r.ns,
      hostNamespace: opts.hostNamespace,
      dir,
      configDir,
      nodeFile,
      statusFile,
      socket,
      reloaderStateFile,
      staticStateFile,
      logFile,
      reloader,
      agent: undefined,
      staticArgs,
      startAgent() {
        if (node.agent?.running) throw new Error('the agent is already running');
        node.agent = new CliProcess('static', staticArgs(), logFile);
        return node.agent;
      },
      writeManifest(name, yaml) {
        const tmp = join(configDir, `.${name}.tmp`);
        writeFileSync(tmp, yaml);
        execFileSync('mv', ['-f', tmp, join(configDir, name)]);
      },
      removeManifest(name) {
        rmSync(join(configDir, name), { force: true });
      },
      status() {
        if (!existsSync(statusFile)) return undefined;
        return parse(readFileSync(statusFile, 'utf8')) as StatusFile;
      },
      stop() {
        stopping ??= (async () => {
          await Promise.all([node.agent?.stop('SIGKILL'), node.reloader.stop('SIGKILL')]);
          await r.stop();
          removeTempDir(dir);
          liveNodes.delete(node);
        })().catch(() => undefined);
        return stopping;
      },
    };
    liveNodes.add(node);
    return node;
  } catch (e) {
    await reloader?.stop('SIGKILL');
    await router?.stop();
    removeTempDir(dir);
    throw e;
  }
}
