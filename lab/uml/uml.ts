// Run work inside user-mode Linux (UML): a real 6.1 kernel run as an ordinary process, booted on the
// host's root filesystem through hostfs. The host kernel has no VRF and no dummy devices; UML has both.
// See lab/uml/README.md for how it works, measurements and pitfalls.
//
// Channels between host and guest:
//   con0 = linux.uml's stdin/stdout: the kernel console (boot log, kernel messages), kept as a tail
//          for error messages only.
//   con1 = a socketpair on the host (fd 3), /dev/tty1 in the guest (raw, no echo): the control line.
//          Host -> guest: `x <id> <flags>` (run command <id>), `q` (power off).
//          Guest -> host: `<token> R ...` ready, `<token> F <msg>` setup failed, `<token> S <id> <pid>`
//          started, `<token> D <id> <rc>` done. The random token makes the lines unambiguous.
//   con2 = fd 4, /dev/tty2 in the guest: read by a small killer loop, `<SIGNAL> <pgid>` lines; this is
//          how the host enforces per-command timeouts without a watchdog process per command.
//   hostfs = the run directory (host: a private tmp dir; guest: /run/uml): command scripts go in as
//          <id>.sh, their stdout/stderr come back as <id>.out/<id>.err. hostfs writes are write-through
//          to the host, and the host reads them only after the `D` line, before any power off.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { Duplex, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const UML_KERNEL = '/usr/bin/linux.uml';
export const UML_MODULES_ROOT = '/usr/lib/uml/modules';
/** Kernel modules loaded at boot unless `modules` says otherwise. */
export const DEFAULT_MODULES: readonly string[] = ['ipv6', 'vrf', 'dummy', 'veth', 'bridge', 'vxlan'];
/**
 * Directories that get a fresh tmpfs inside the guest, because the guest's root filesystem is the host's,
 * read-write. Ownership and mode are copied from the host directory when it exists.
 */
export const DEFAULT_TMPFS: readonly string[] = ['/tmp', '/var/tmp', '/etc/frr', '/var/log/frr'];

/** The checkout this file belongs to (lab/uml/ -> repository root), from src or from dist. */
const PROJECT_ROOT = (() => {
  let dir = posix.dirname(fileURLToPath(import.meta.url));
  while (dir !== '/' && !existsSync(posix.join(dir, 'package.json'))) dir = posix.dirname(dir);
  return dir;
})();

/** Where the run directory appears inside the guest. */
const GUEST_RUN = '/run/uml';

export interface HostDir {
  /** Absolute host path. */
  host: string;
  /**
   * Absolute guest path to mount it on (hostfs). Must lie inside one of the guest's tmpfs mounts
   * (then it is created) or already exist on the host (the guest's root is the host's root).
   */
  guest: string;
}

export interface UmlOptions {
  /** Guest memory (default 512). Only touched pages cost host memory. */
  memMB?: number;
  /** Environment of the init script and so of every command (keys: shell identifiers). */
  env?: Record<string, string>;
  /** Host directories to mount inside the guest. */
  hostDirs?: HostDir[];
  /** Extra guest directories to cover with tmpfs, in addition to DEFAULT_TMPFS and /run. */
  tmpfs?: string[];
  /** Kernel modules to load at boot (default DEFAULT_MODULES). */
  modules?: readonly string[];
  /** Guest hostname (default 'uml'). */
  hostname?: string;
  /** Give up booting after this long (default 60 s). */
  bootTimeoutMs?: number;
  /** Default timeout of exec() (default 60 s). */
  execTimeoutMs?: number;
  /** Kernel binary (default /usr/bin/linux.uml). */
  kernel?: string;
  /** Prefix of the umid (default 'ts'). */
  name?: string;
}

export interface ExecOptions {
  /** Kill the command's process group (SIGTERM, then SIGKILL after 2 s) after this long. */
  timeoutMs?: number;
  /** Data on the command's stdin (default: /dev/null). */
  stdin?: string;
  /** Extra environment for this command. */
  env?: Record<string, string>;
  /** Send stderr into stdout, interleaved as written (then `stderr` is ''). */
  mergeStderr?: boolean;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Host-side wall time of the exec, ms. */
  ms: number;
}

export interface BootTimings {
  /** spawn of linux.uml until the guest reported ready, ms (host clock). */
  bootMs: number;
  /** Guest uptime once init had mounted /proc (its first step), ms: the kernel's boot. */
  kernelMs: number;
  /** Loading kernel modules, ms (guest clock). */
  modulesMs: number;
  /** Whole init setup (mounts, modules, lo up), ms (guest clock). */
  setupMs: number;
  /** How modules were loaded: 'modprobe' or 'perl' (finit_module, when kmod is not installed). */
  moduleLoader: string;
}

export class UmlError extends Error {
  constructor(
    message: string,
    /** Last part of the kernel console, for diagnosis. */
    readonly consoleTail: string,
  ) {
    super(consoleTail === '' ? message : `${message}\n--- UML console (tail) ---\n${consoleTail}`);
    this.name = 'UmlError';
  }
}

export class UmlExecTimeoutError extends Error {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
    readonly result: ExecResult,
  ) {
    super(
      `command timed out after ${timeoutMs} ms inside UML and was killed (exit ${result.exitCode})\n` +
        `--- command ---\n${truncate(command, 2000)}\n--- stdout ---\n${truncate(result.stdout, 4000)}` +
        `\n--- stderr ---\n${truncate(result.stderr, 4000)}`,
    );
    this.name = 'UmlExecTimeoutError';
  }
}

export class UmlCommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: ExecResult,
  ) {
    super(
      `command failed inside UML with exit ${result.exitCode}\n--- command ---\n${truncate(command, 2000)}` +
        `\n--- stdout ---\n${truncate(result.stdout, 4000)}\n--- stderr ---\n${truncate(result.stderr, 4000)}`,
    );
    this.name = 'UmlCommandError';
  }
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length - max} more chars)`;
}

/** Quotes a string for bash. */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The kernel release of the UML modules directory, e.g. '6.1.176', or undefined. */
export function umlKernelRelease(): string | undefined {
  try {
    const dirs = readdirSync(UML_MODULES_ROOT).filter((d) =>
      existsSync(join(UML_MODULES_ROOT, d, 'modules.dep')),
    );
    return dirs.sort().at(-1);
  } catch {
    return undefined;
  }
}

/** Returns why UML cannot run here, or undefined when it can. */
export function umlUnavailableReason(kernel = UML_KERNEL): string | undefined {
  if (process.platform !== 'linux') return 'user-mode Linux needs a Linux host';
  if (!existsSync(kernel))
    return `needs user-mode Linux (${kernel} missing; apt-get install user-mode-linux)`;
  const rel = umlKernelRelease();
  if (rel === undefined) return `needs the UML kernel modules (${UML_MODULES_ROOT}/<release>)`;
  if (!existsSync(`/lib/modules/${rel}`) && process.getuid?.() !== 0) {
    return `needs root once, to link /lib/modules/${rel} to ${UML_MODULES_ROOT}/${rel}`;
  }
  if (!existsSync('/bin/bash')) return 'needs /bin/bash (the guest init is a bash script)';
  if (!['/usr/bin/perl', '/usr/sbin/modprobe', '/sbin/modprobe'].some((f) => existsSync(f))) {
    return 'needs perl or modprobe in the guest (the root filesystem is the host one) to load modules';
  }
  return undefined;
}

/**
 * Makes /lib/modules/<release> point at the UML modules (the guest's root is the host's, so the guest's
 * modprobe looks there). Idempotent and safe against concurrent callers; never replaces an existing entry.
 */
export function ensureModulesLink(): string {
  const rel = umlKernelRelease();
  if (rel === undefined) throw new Error(`no UML kernel modules under ${UML_MODULES_ROOT}`);
  const target = join(UML_MODULES_ROOT, rel);
  const link = join('/lib/modules', rel);
  if (!existsSync(link)) {
    mkdirSync('/lib/modules', { recursive: true });
    try {
      symlinkSync(target, link);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  if (!existsSync(join(link, 'modules.dep'))) {
    const what = lstatSync(link).isSymbolicLink() ? 'a symlink' : 'not a symlink';
    throw new Error(`${link} exists (${what}) but has no modules.dep; expected it to point to ${target}`);
  }
  return rel;
}

// A minimal `modprobe -a` for hosts without kmod: resolves modules.dep and loads each module with
// finit_module(2) from one Perl process (Perl is part of every Debian system).
const MODLOAD_PL = String.raw`use strict; use warnings; use Config;
$Config{archname} =~ /^x86_64/ or die "modload: only x86_64 is supported (finit_module = 313)\n";
open(my $r, '<', '/proc/sys/kernel/osrelease') or die "modload: osrelease: $!\n";
chomp(my $rel = <$r>);
my $dir = "/lib/modules/$rel";
sub nm { my $p = shift; $p =~ s{.*/}{}; $p =~ s{\.ko(?:\.\w+)?$}{}; $p =~ tr/-/_/; return $p; }
my (%path, %deps, %builtin, %loaded);
open(my $d, '<', "$dir/modules.dep") or die "modload: $dir/modules.dep: $!\n";
while (my $l = <$d>) {
  chomp $l; my ($m, $rest) = split(/:\s*/, $l, 2); next unless defined $m && length $m;
  my $n = nm($m); $path{$n} = $m; $deps{$n} = [ map { nm($_) } split(' ', $rest // '') ];
}
if (open(my $b, '<', "$dir/modules.builtin")) { while (my $l = <$b>) { chomp $l; $builtin{nm($l)} = 1; } }
if (open(my $p, '<', '/proc/modules')) { while (my $l = <$p>) { $loaded{(split(' ', $l))[0]} = 1; } }
sub load1 {
  my $n = shift; return if $loaded{$n} || $builtin{$n};
  my $f = "$dir/$path{$n}";
  $f =~ /\.ko$/ or die "modload: $f: compressed modules are not supported\n";
  open(my $fh, '<', $f) or die "modload: $f: $!\n";
  my $params = "";  # syscall() needs a writable string
  my $rc = syscall(313, fileno($fh), $params, 0);
  die "modload: loading $n: $!\n" if $rc != 0 && !$!{EEXIST};
  $loaded{$n} = 1;
}
for my $w (@ARGV) {
  my $n = nm($w); next if $builtin{$n} || $loaded{$n};
  exists $path{$n} or die "modload: module $w not found in $dir\n";
  load1($_) for reverse @{$deps{$n}};
  load1($n);
}
`;

interface DirSpec {
  path: string;
  opts: string;
}

function tmpfsSpec(path: string): DirSpec {
  // Same owner and mode as the host's directory, so daemons find what they expect (e.g. /etc/frr frr:frr).
  try {
    const st = statSync(path);
    if (st.isDirectory()) {
      return { path, opts: `mode=${(st.mode & 0o7777).toString(8)},uid=${st.uid},gid=${st.gid}` };
    }
  } catch {
    // not on the host: a root-owned 755 tmpfs (the mount point is created inside the guest's /run or /tmp)
  }
  return { path, opts: 'mode=755' };
}

function userIds(name: string): { uid: number; gid: number } | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f[2] !== undefined && f[3] !== undefined)
        return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // no passwd: no frr user
  }
  return undefined;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function envLines(env: Record<string, string> | undefined): string {
  let s = '';
  for (const [k, v] of Object.entries(env ?? {})) {
    if (!IDENT.test(k)) throw new Error(`environment key ${JSON.stringify(k)} is not a shell identifier`);
    s += `export ${k}=${shellQuote(v)}\n`;
  }
  return s;
}

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

function memoryDir(memMB: number): string {
  // UML backs guest memory with an unlinked file in $TMPDIR: prefer a tmpfs with room for all of it.
  try {
    const st = statfsSync('/dev/shm');
    if (st.bavail * st.bsize >= memMB * 1024 * 1024 * 1.25) return '/dev/shm';
  } catch {
    // no /dev/shm
  }
  return tmpdir();
}

interface InitParams {
  token: string;
  runDir: string;
  tmpfs: DirSpec[];
  hostDirs: HostDir[];
  modules: readonly string[];
  hostname: string;
  env: Record<string, string> | undefined;
  frr: { uid: number; gid: number } | undefined;
}

/**
 * The guest's mounts as an fstab for one `mount -a -T` (one process instead of one per mount: starting a
 * process costs ~30 ms in UML). `X-mount.mkdir` creates mount points; startUml() checked that they lie
 * inside a guest tmpfs or exist already, so nothing is created on the host.
 */
function fstab(p: InitParams): string {
  const lines = [
    'proc /proc proc defaults 0 0',
    'sysfs /sys sysfs defaults 0 0',
    'tmpfs /run tmpfs mode=755 0 0',
    `hostfs ${GUEST_RUN} hostfs ${p.runDir},X-mount.mkdir 0 0`,
  ];
  if (p.frr !== undefined)
    lines.push(`tmpfs /run/frr tmpfs mode=755,uid=${p.frr.uid},gid=${p.frr.gid},X-mount.mkdir 0 0`);
  for (const t of p.tmpfs) lines.push(`tmpfs ${t.path} tmpfs ${t.opts},X-mount.mkdir 0 0`);
  for (const h of p.hostDirs) lines.push(`hostfs ${h.guest} hostfs ${h.host},X-mount.mkdir 0 0`);
  return `${lines.join('\n')}\n`;
}

function initScript(p: InitParams): string {
  const q = shellQuote;
  const mods = p.modules.map(q).join(' ');
  return `#!/bin/bash
# Generated by lab/uml/uml.ts: init (PID 1) of a user-mode Linux guest.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 TERM=dumb
T=${q(p.token)}
G=${GUEST_RUN}
t0=$EPOCHREALTIME
off() { poweroff -f >/dev/null 2>&1; echo o >/proc/sysrq-trigger; sleep 5; }
if ! exec {CH}<>/dev/tty1; then echo "$T F cannot open /dev/tty1 (con1)"; off; fi
fail() { printf '%s F %s\\n' "$T" "$*" >&$CH; printf '%s F %s\\n' "$T" "$*"; off; }
exec {KC}</dev/tty2 || fail "cannot open /dev/tty2 (con2)"
mount -a -T ${q(join(p.runDir, 'fstab'))} || fail "mount -a -T ${join(p.runDir, 'fstab')} (see the console)"
read -r up _ </proc/uptime
stty raw -echo <&$CH || fail "stty on /dev/tty1"
echo ${q(p.hostname)} >/proc/sys/kernel/hostname
m0=$EPOCHREALTIME
if [ -n ${q(mods)} ]; then
  if command -v modprobe >/dev/null; then loader=modprobe; modprobe -a ${mods} || fail "modprobe -a ${mods}"
  else loader=perl; perl $G/modload.pl ${mods} || fail "loading modules ${mods}"; fi
else loader=none; fi
m1=$EPOCHREALTIME
ip link set lo up || fail "ip link set lo up"
${envLines(p.env)}
cd /
set -m
# The killer: signals process groups on the host's request (timeouts). When con2 hangs up (the host
# process died), nobody can stop this guest any more: power off.
( trap '' INT; while read -r sig pg; do kill -s "$sig" -- "-$pg"; done; off ) <&$KC >/dev/null 2>&1 &
exec {KC}<&-
t1=$EPOCHREALTIME
printf '%s R %s %s %s %s\\n' "$T" "$up" $(( (10#\${m1/./} - 10#\${m0/./}) / 1000 )) $(( (10#\${t1/./} - 10#\${t0/./}) / 1000 )) "$loader" >&$CH
while IFS=' ' read -r op id fl <&$CH; do
  case $op in
  x)
    in=/dev/null; [[ $fl == *i* ]] && in=$G/$id.in
    if [[ $fl == *m* ]]; then
      ( exec {CH}<&-; source "$G/$id.sh" ) <"$in" >"$G/$id.out" 2>&1 &
    else
      ( exec {CH}<&-; source "$G/$id.sh" ) <"$in" >"$G/$id.out" 2>"$G/$id.err" &
    fi
    pid=$!
    printf '%s S %s %s\\n' "$T" "$id" "$pid" >&$CH
    wait "$pid"; rc=$?
    printf '%s D %s %s\\n' "$T" "$id" "$rc" >&$CH
    ;;
  q) break ;;
  esac
done
off
`;
}

/** Tail of a growing text, bounded. */
class Tail {
  private buf = '';
  constructor(private readonly max: number) {}
  push(s: string): void {
    this.buf += s;
    if (this.buf.length > this.max * 2) this.buf = this.buf.slice(-this.max);
  }
  text(lines = 60): string {
    const all = this.buf.slice(-this.max).split('\n');
    return all.slice(-lines).join('\n').trimEnd();
  }
}

interface Pending {
  id: number;
  pid?: number;
  /** Called when the guest reports the command's process group. */
  onStart?: (pid: number) => void;
  resolve: (rc: number) => void;
  reject: (e: Error) => void;
}

const live = new Set<Uml>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when the test process exits without stop(): kill every UML process group we started.
  // (If the Node process is SIGKILLed, the guest sees its control line hang up and powers off.)
  process.on('exit', () => {
    for (const u of live) u.killNow();
  });
}

/** A running UML guest. Create with startUml(). */
export class Uml {
  readonly umid: string;
  readonly runDir: string;
  timings: BootTimings = { bootMs: 0, kernelMs: 0, modulesMs: 0, setupMs: 0, moduleLoader: '' };
  private readonly proc: ChildProcess;
  private readonly control: Writable;
  private readonly killer: Writable;
  private readonly consoleTail = new Tail(64 * 1024);
  private lineBuf = '';
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private pending: Pending | undefined;
  private exited = false;
  private groupGone = false;
  private exitInfo = '';
  private dead: Error | undefined;
  private readyWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private readonly exitWaiters: (() => void)[] = [];
  private readonly execTimeoutMs: number;
  private readonly startedAt: number;

  /** @internal use startUml() */
  constructor(
    private readonly token: string,
    runDir: string,
    umid: string,
    args: string[],
    kernel: string,
    memDir: string,
    execTimeoutMs: number,
  ) {
    this.runDir = runDir;
    this.umid = umid;
    this.execTimeoutMs = execTimeoutMs;
    this.startedAt = performance.now();
    this.proc = spawn(kernel, args, {
      // fd 0/1: console; 2: kernel's own stderr; 3: con1 (control, a socketpair); 4: con2 (killer)
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, TMPDIR: memDir },
    });
    const control = this.proc.stdio[3];
    const killer = this.proc.stdio[4];
    if (control === null || control === undefined || killer === null || killer === undefined) {
      throw new Error('spawn of linux.uml did not create the extra stdio pipes');
    }
    this.control = control as Duplex;
    this.killer = killer as Duplex;
    live.add(this);
    installExitHook();
    this.proc.stdout?.setEncoding('utf8');
    this.proc.stderr?.setEncoding('utf8');
    this.proc.stdout?.on('data', (s: string) => this.consoleTail.push(s));
    this.proc.stderr?.on('data', (s: string) => this.consoleTail.push(s));
    const ctl = control as Duplex;
    ctl.setEncoding('utf8');
    ctl.on('data', (s: string) => this.onControl(s));
    // con2's output (the guest tty's echo) is of no interest
    (killer as Duplex).resume();
    for (const s of [this.control, this.killer, this.proc.stdin]) s?.on('error', () => {});
    this.proc.on('error', (e) => this.onExit(`spawn failed: ${e.message}`));
    this.proc.on('exit', (code, sig) => {
      // Kill helpers left in our process group, and let the last console output arrive before reporting.
      // After this the group id may be reused one day: never signal it again.
      this.killGroup();
      this.groupGone = true;
      setTimeout(() => this.onExit(sig !== null ? `signal ${sig}` : `exit code ${code}`), 50);
    });
  }

  /** PID of the main linux.uml process (also its process group). */
  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return !this.exited && this.dead === undefined;
  }

  /** The last lines of the kernel console. */
  console(lines = 60): string {
    return this.consoleTail.text(lines);
  }

  /** @internal */
  waitReady(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiter = undefined;
        reject(this.fail(`UML ${this.umid} did not become ready within ${timeoutMs} ms`));
      }, timeoutMs);
      this.readyWaiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  private onControl(s: string): void {
    this.lineBuf += s;
    let nl = this.lineBuf.indexOf('\n');
    while (nl >= 0) {
      const line = this.lineBuf.slice(0, nl).replace(/\r$/, '');
      this.lineBuf = this.lineBuf.slice(nl + 1);
      this.onLine(line);
      nl = this.lineBuf.indexOf('\n');
    }
  }

  private onLine(line: string): void {
    const prefix = `${this.token} `;
    const at = line.indexOf(prefix);
    if (at < 0) return;
    const f = line.slice(at + prefix.length).split(' ');
    const kind = f[0];
    if (kind === 'R') {
      this.timings = {
        bootMs: Math.round(performance.now() - this.startedAt),
        kernelMs: Math.round(Number(f[1]) * 1000),
        modulesMs: Number(f[2]),
        setupMs: Number(f[3]),
        moduleLoader: f[4] ?? '',
      };
      this.readyWaiter?.resolve();
      this.readyWaiter = undefined;
    } else if (kind === 'F') {
      const e = this.fail(`UML ${this.umid} init failed: ${f.slice(1).join(' ')}`);
      this.readyWaiter?.reject(e);
      this.readyWaiter = undefined;
    } else if (kind === 'S' || kind === 'D') {
      const p = this.pending;
      if (p === undefined || Number(f[1]) !== p.id) return;
      if (kind === 'S') {
        p.pid = Number(f[2]);
        p.onStart?.(p.pid);
      } else p.resolve(Number(f[2]));
    }
  }

  private onExit(info: string): void {
    if (this.exited) return;
    this.exited = true;
    this.exitInfo = info;
    const e = this.fail(`UML ${this.umid} exited (${info})`);
    this.readyWaiter?.reject(e);
    this.readyWaiter = undefined;
    for (const w of this.exitWaiters.splice(0)) w();
  }

  /** Marks the instance dead (first reason wins), fails the running command, returns the error. */
  private fail(msg: string): Error {
    if (this.dead === undefined) {
      this.dead = new UmlError(msg, this.console(40));
      this.pending?.reject(this.dead);
      this.pending = undefined;
      if (!this.exited) this.killGroup();
    }
    return this.dead;
  }

  private killGroup(): void {
    const pid = this.proc.pid;
    if (pid === undefined || this.groupGone) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** @internal synchronous kill + cleanup, for the process exit hook. */
  killNow(): void {
    this.killGroup();
    try {
      rmSync(this.runDir, { recursive: true, force: true });
    } catch {
      // best effort
    }
    live.delete(this);
  }

  /**
   * Runs a bash script inside the guest (sourced in a subshell of init, cwd /, stdin /dev/null unless
   * `stdin` is given) and returns its exit status and output. Commands run one at a time, in call order.
   * Rejects when the guest dies, or with UmlExecTimeoutError after killing the command on timeout.
   */
  exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const run = this.queue.then(() => this.execNow(script, opts));
    this.queue = run.catch(() => {});
    return run;
  }

  /** Like exec(), but rejects with UmlCommandError on a non-zero exit; resolves to stdout. */
  async run(script: string, opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(script, opts);
    if (r.exitCode !== 0) throw new UmlCommandError(script, r);
    return r.stdout;
  }

  private async execNow(script: string, opts: ExecOptions): Promise<ExecResult> {
    if (this.dead !== undefined) throw this.dead;
    const t0 = performance.now();
    const id = ++this.seq;
    const base = join(this.runDir, String(id));
    const files = [`${base}.sh`, `${base}.out`, `${base}.err`, `${base}.in`];
    writeFileSync(`${base}.sh`, envLines(opts.env) + script + '\n');
    let flags = '-';
    if (opts.stdin !== undefined) {
      writeFileSync(`${base}.in`, opts.stdin);
      flags += 'i';
    }
    if (opts.mergeStderr === true) flags += 'm';
    const timeoutMs = opts.timeoutMs ?? this.execTimeoutMs;
    let timedOut = false;
    const timers: NodeJS.Timeout[] = [];
    try {
      const rc = await new Promise<number>((resolve, reject) => {
        const p: Pending = { id, resolve, reject };
        this.pending = p;
        timers.push(
          setTimeout(() => {
            timedOut = true;
            const kill = (pid: number): void => {
              this.killer.write(`TERM ${pid}\n`);
              timers.push(setTimeout(() => this.killer.write(`KILL ${pid}\n`), 2000));
            };
            if (p.pid !== undefined) kill(p.pid);
            else p.onStart = kill;
            timers.push(
              setTimeout(
                () => reject(this.fail(`UML ${this.umid}: command ${id} did not end after it was killed`)),
                10_000,
              ),
            );
          }, timeoutMs),
        );
        this.control.write(`x ${id} ${flags}\n`);
      });
      const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');
      const result: ExecResult = {
        exitCode: rc,
        stdout: read(`${base}.out`),
        stderr: read(`${base}.err`),
        ms: Math.round((performance.now() - t0) * 10) / 10,
      };
      if (timedOut) throw new UmlExecTimeoutError(script, timeoutMs, result);
      return result;
    } finally {
      for (const t of timers) clearTimeout(t);
      this.pending = undefined;
      for (const f of files) {
        try {
          unlinkSync(f);
        } catch {
          // not created
        }
      }
    }
  }

  /** Powers the guest off (after the running command), kills what is left, removes the run directory. */
  async stop(): Promise<void> {
    if (!this.exited) {
      if (this.dead === undefined) {
        await this.queue;
        this.control.write('q\n');
      }
      await this.waitExit(10_000);
    }
    this.cleanup();
  }

  /** Kills the guest at once (whatever it is running) and removes the run directory. */
  async kill(): Promise<void> {
    this.fail(`UML ${this.umid} was killed`);
    this.killGroup();
    await this.waitExit(5000);
    this.cleanup();
  }

  private waitExit(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      const t = setTimeout(() => {
        this.killGroup();
        resolve();
      }, ms);
      this.exitWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private cleanup(): void {
    rmSync(this.runDir, { recursive: true, force: true });
    live.delete(this);
  }

  /** Host memory of the UML processes (resident KiB summed over the process group; shared pages count once per process). */
  hostRssKB(): { mainKB: number; totalKB: number; processes: number } {
    const pgid = this.proc.pid;
    let mainKB = 0;
    let totalKB = 0;
    let processes = 0;
    if (pgid === undefined) return { mainKB, totalKB, processes };
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(rest[2]) !== pgid) continue;
        const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d}/status`, 'utf8'));
        const kb = m?.[1] !== undefined ? Number(m[1]) : 0;
        processes++;
        totalKB += kb;
        if (Number(d) === pgid) mainKB = kb;
      } catch {
        // raced with exit
      }
    }
    return { mainKB, totalKB, processes };
  }

  /** How linux.uml ended ('' while running). */
  get exitStatus(): string {
    return this.exitInfo;
  }
}

const OWNER_FILE = 'owner';

function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Removes run directories left behind by test processes that died without stop() (a SIGKILLed Node
 * cannot clean up; its guests power off by themselves when their control line hangs up).
 */
export function sweepStaleRunDirs(dir = tmpdir()): number {
  let removed = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((e) => e.startsWith('uml-'));
  } catch {
    return 0;
  }
  for (const e of entries) {
    const runDir = join(dir, e);
    try {
      const owner = Number(readFileSync(join(runDir, OWNER_FILE), 'utf8').trim());
      if (!Number.isInteger(owner) || owner <= 0 || processAlive(owner)) continue;
      // The owner is gone: make sure its kernel is gone too (UML writes its pid under uml_dir/umid/pid).
      for (const umid of readdirSync(join(runDir, 'uml'))) {
        const pid = Number(readFileSync(join(runDir, 'uml', umid, 'pid'), 'utf8').trim());
        if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          if (cmdline.includes(runDir)) process.kill(-pid, 'SIGKILL');
        }
      }
      rmSync(runDir, { recursive: true, force: true });
      removed++;
    } catch {
      // not ours, or raced with its owner: leave it
    }
  }
  return removed;
}

/** Boots a UML guest and resolves once its init is ready to run commands. */
export async function startUml(opts: UmlOptions = {}): Promise<Uml> {
  const kernel = opts.kernel ?? UML_KERNEL;
  const why = umlUnavailableReason(kernel);
  if (why !== undefined) throw new Error(why);
  ensureModulesLink();
  const memMB = opts.memMB ?? 512;
  // parents before children
  const tmpfsPaths = [...new Set([...DEFAULT_TMPFS, ...(opts.tmpfs ?? [])])].sort(
    (a, b) => a.length - b.length,
  );
  // The checkout must stay visible at its own path inside the guest (tests run our compiled code
  // there), also when it lives under a directory the guest covers with tmpfs, e.g. a clone in /tmp.
  const checkoutHidden = ['/run', ...tmpfsPaths].some((c) => under(PROJECT_ROOT, c));
  const hostDirs = [
    ...(checkoutHidden && !(opts.hostDirs ?? []).some((h) => h.guest === PROJECT_ROOT)
      ? [{ host: PROJECT_ROOT, guest: PROJECT_ROOT }]
      : []),
    ...(opts.hostDirs ?? []),
  ];
  for (const p of [...tmpfsPaths, ...hostDirs.map((h) => h.guest), ...hostDirs.map((h) => h.host)]) {
    if (!posix.isAbsolute(p) || /[\s,]/.test(p))
      throw new Error(`path ${JSON.stringify(p)} must be absolute, without spaces or commas`);
  }
  const covered = ['/run', ...tmpfsPaths];
  for (const t of tmpfsPaths) {
    if (!existsSync(t) && !covered.some((c) => c !== t && under(t, c))) {
      throw new Error(
        `tmpfs mount point ${t} does not exist on the host and is not inside another guest tmpfs`,
      );
    }
  }
  for (const h of hostDirs) {
    if (!existsSync(h.host)) throw new Error(`host directory ${h.host} does not exist`);
    if (!existsSync(h.guest) && !covered.some((c) => under(h.guest, c))) {
      throw new Error(
        `guest mount point ${h.guest} must exist on the host or lie inside a guest tmpfs (${covered.join(' ')})`,
      );
    }
  }
  sweepStaleRunDirs();
  const runDir = mkdtempSync(join(tmpdir(), 'uml-'));
  writeFileSync(join(runDir, OWNER_FILE), `${process.pid}\n`);
  if (/[\s,]/.test(runDir)) {
    rmSync(runDir, { recursive: true, force: true });
    throw new Error(`temporary directory ${runDir} must not contain spaces or commas`);
  }
  const token = randomBytes(12).toString('hex');
  const umid = `${opts.name ?? 'ts'}-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    mkdirSync(join(runDir, 'uml'));
    writeFileSync(join(runDir, 'modload.pl'), MODLOAD_PL);
    const init = join(runDir, 'init');
    const params: InitParams = {
      token,
      runDir,
      tmpfs: tmpfsPaths.map(tmpfsSpec),
      hostDirs,
      modules: opts.modules ?? DEFAULT_MODULES,
      hostname: opts.hostname ?? 'uml',
      env: opts.env,
      frr: userIds('frr'),
    };
    writeFileSync(join(runDir, 'fstab'), fstab(params));
    writeFileSync(init, initScript(params), { mode: 0o755 });
    const args = [
      `mem=${memMB}M`,
      'root=/dev/root',
      'rootfstype=hostfs',
      'rootflags=/',
      'rw',
      `uml_dir=${join(runDir, 'uml')}`,
      `umid=${umid}`,
      'con=null',
      'ssl=null',
      'con0=fd:0,fd:1',
      'con1=fd:3',
      'con2=fd:4',
      `init=${init}`,
    ];
    const uml = new Uml(token, runDir, umid, args, kernel, memoryDir(memMB), opts.execTimeoutMs ?? 60_000);
    try {
      await uml.waitReady(opts.bootTimeoutMs ?? 60_000);
    } catch (e) {
      await uml.stop();
      throw e;
    }
    return uml;
  } catch (e) {
    rmSync(runDir, { recursive: true, force: true });
    throw e;
  }
}

export interface RunInUmlOptions extends UmlOptions {
  /** bash script to run; stdout and stderr are captured together. */
  script: string;
  /**
   * Budget for boot + script (default 120 s). Past it the script's process group is killed (exec
   * timeout), then the whole guest; the promise rejects with UmlExecTimeoutError (or UmlError when the
   * boot itself did not finish in time).
   */
  timeoutMs?: number;
}

export interface RunInUmlResult {
  exitCode: number;
  /** stdout and stderr of the script, interleaved. */
  output: string;
  bootMs: number;
  totalMs: number;
}

/** Boots a guest, runs one bash script, powers off. */
export async function runInUml(opts: RunInUmlOptions): Promise<RunInUmlResult> {
  const t0 = performance.now();
  const budget = opts.timeoutMs ?? 120_000;
  const uml = await startUml({ ...opts, bootTimeoutMs: Math.min(opts.bootTimeoutMs ?? budget, budget) });
  let r: ExecResult;
  try {
    const left = Math.max(1000, budget - (performance.now() - t0));
    r = await uml.exec(opts.script, { timeoutMs: left, mergeStderr: true });
  } catch (e) {
    await uml.kill();
    throw e;
  }
  await uml.stop();
  return {
    exitCode: r.exitCode,
    output: r.stdout,
    bootMs: uml.timings.bootMs,
    totalMs: Math.round(performance.now() - t0),
  };
}
