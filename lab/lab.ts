// The one-machine EVPN lab: a leaf, external hosts and two nodes running our agent, inside one
// user-mode Linux guest (the host kernel has no VRF). See lab/README.md.
//
//   const lab = await labUp({ onProgress: (p) => console.log(p.message) });
//   try {
//     const st = await lab.status();          // BGP sessions, routes per VRF, pings
//     await lab.exec('node-a', 'ip route');   // any command in a lab namespace
//   } finally {
//     await lab.down();
//   }
//
// The guest lives as long as the process that started it (its control line is a pipe of this
// process): a lab that must outlive a command is served by that process (`openperouter lab up --keep`).
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { evaluate, type LabCheck, pings, summarizeFailing } from './checks.js';
import {
  fabricFrr,
  GUEST_SHARE,
  GUEST_WORK,
  type GuestPaths,
  killFrrScript,
  type LabMode,
  leafFrrConfig,
  type NodeProcess,
  nodePaths,
  q,
  routerFrr,
  speakerFrr,
  speakerFrrConfig,
  splitSections,
  startAgentsScript,
  startClusterScript,
  startFrrScript,
  startProcessScript,
  statusScript,
  stopProcessScript,
  topologyScript,
} from './scripts.js';
import { DEFAULT_TOPOLOGY, findNode, type LabTopology } from './topology.js';
import { type ExecResult, startUml, type Uml, umlUnavailableReason } from './uml/uml.js';

/** The checkout (the nearest ancestor of this file holding package.json), from lab/ or dist/lab/. */
export const REPO_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (dir !== '/' && !existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

export interface LabProgress {
  elapsedMs: number;
  stage:
    | 'boot'
    | 'topology'
    | 'frr'
    | 'cluster'
    | 'agents'
    | 'speakers'
    | 'waiting'
    | 'converged'
    | 'timeout';
  message: string;
  /** While waiting: the checks that do not pass yet. */
  failing?: LabCheck[];
}

export interface LabOptions {
  topology?: LabTopology;
  /** Host directory for logs, status files and FRR configs (default: a fresh temporary directory). */
  stateDir?: string;
  /** Remove the state directory on down() (default: true when labUp created it). */
  removeStateDir?: boolean;
  /** Guest memory, MiB (default 1024, 1536 in Kubernetes mode; only touched pages cost host memory). */
  memMB?: number;
  /** Wait until every check passes (default true). */
  waitConverged?: boolean;
  /** Give up waiting after this long (default 300 s); the lab stays up, `converged` says false. */
  convergeTimeoutMs?: number;
  onProgress?: (p: LabProgress) => void;
  /**
   * static (default): each node runs `openperouter static` on its own manifest directory. kubernetes:
   * the objects live in an API server stand-in inside the guest (fed from one shared directory, which
   * editManifests changes, through the admission webhooks), the nodemarker indexes the nodes and serves
   * the webhooks, and each node runs `openperouter controller`.
   */
  mode?: LabMode;
}

export interface LabTimings {
  bootMs: number;
  topologyMs: number;
  frrMs: number;
  agentsMs: number;
  /** Starting the host speakers (after the agents' first reconcile). */
  speakersMs: number;
  /** From the agents' start until every check passed (or the timeout). */
  convergeMs: number;
  /** From labUp() until converged. */
  totalMs: number;
}

export interface LabStatus {
  at: string;
  /** How long gathering the status took. */
  ms: number;
  ok: boolean;
  checks: LabCheck[];
  /** Raw outputs per source (vtysh JSON, ip -json, probe lines), for debugging. */
  sections: Record<string, string>;
}

export interface AgentLogEntry {
  time?: string;
  level?: string;
  msg?: string;
  [key: string]: unknown;
}

export interface MemoryReport {
  /** Resident memory of linux.uml on the host (main process, and summed over its processes). */
  hostMainMB: number;
  hostTotalMB: number;
  /** Guest's own view (`free`): used and total. */
  guestUsedMB: number;
  guestTotalMB: number;
  /** Resident memory inside the guest per program (FRR daemons, Node processes…), MiB. */
  byProgram: Record<string, number>;
}

export class LabError extends Error {
  override name = 'LabError';
}

/** Why the lab cannot run on this machine, or undefined. */
export function labUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) {
    return (
      'the lab needs root: the UML guest boots on the host root filesystem, and inside it the lab ' +
      'chowns FRR directories to frr, runs FRR daemons as frr and links the UML kernel modules into /lib/modules'
    );
  }
  const uml = umlUnavailableReason();
  if (uml !== undefined) return uml;
  for (const f of [
    '/usr/lib/frr/zebra',
    '/usr/lib/frr/bgpd',
    '/usr/lib/frr/bfdd',
    '/usr/lib/frr/frr-reload.py',
    '/usr/bin/vtysh',
  ]) {
    if (!existsSync(f)) return `needs FRR (${f} missing; run scripts/install-system-deps.sh as root)`;
  }
  if (!existsSync(join(REPO_ROOT, 'dist/src/cli/main.js')))
    return `needs a build of the agent (${join(REPO_ROOT, 'dist')} missing; run make build)`;
  return undefined;
}

export class Lab {
  readonly paths: GuestPaths;
  converged = false;
  lastStatus: LabStatus | undefined;
  /** Host speakers restarted because their zebra missed an address (see waitConverged). */
  readonly speakerRestarts: { node: string; at: string; reason: string }[] = [];
  readonly timings: LabTimings = {
    bootMs: 0,
    topologyMs: 0,
    frrMs: 0,
    agentsMs: 0,
    speakersMs: 0,
    convergeMs: 0,
    totalMs: 0,
  };
  private downing: Promise<void> | undefined;

  /** @internal use labUp() */
  constructor(
    readonly uml: Uml,
    readonly topology: LabTopology,
    readonly stateDir: string,
    private readonly removeStateDir: boolean,
    readonly mode: LabMode = 'static',
  ) {
    this.paths = { repo: REPO_ROOT, share: GUEST_SHARE, work: GUEST_WORK, mode };
  }

  /** Kubernetes mode: each node's `openpe.io/nodeindex` as the nodemarker set it (null: none yet). */
  nodeIndexes(): Record<string, string | null> {
    try {
      return JSON.parse(readFileSync(this.hostPath('cluster', 'nodes.json'), 'utf8')) as Record<
        string,
        string | null
      >;
    } catch {
      return {};
    }
  }

  /** Kubernetes mode: what the user-side mirror did with each object (created, replaced, rejected...). */
  applyLog(): AgentLogEntry[] {
    return readJsonLines(this.hostPath('cluster', 'apiserver.log'));
  }

  /** Host path of a file the guest writes to its share (logs, status files). */
  hostPath(...parts: string[]): string {
    return join(this.stateDir, 'guest', ...parts);
  }

  /** Runs a bash command in a lab namespace (null: the guest's own namespace). */
  exec(
    ns: string | null,
    cmd: string,
    opts: { timeoutMs?: number; stdin?: string } = {},
  ): Promise<ExecResult> {
    const script = ns === null ? cmd : `ip netns exec ${q(ns)} bash -c ${q(cmd)}`;
    return this.uml.exec(script, {
      timeoutMs: opts.timeoutMs ?? 60_000,
      ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
    });
  }

  /** Like exec, but rejects on a non-zero exit; resolves to stdout. */
  async run(
    ns: string | null,
    cmd: string,
    opts: { timeoutMs?: number; stdin?: string } = {},
  ): Promise<string> {
    const r = await this.exec(ns, cmd, opts);
    if (r.exitCode !== 0) {
      throw new LabError(`${ns ?? 'guest'}: ${cmd}: exit ${r.exitCode}\n${r.stdout}${r.stderr}`);
    }
    return r.stdout;
  }

  /**
   * `vtysh -N <pathspace> -c ...`. For a node's router the command runs under the node's hostname, as
   * the reloader does (FRR 8.4 prints the caller's hostname in `show running-config`).
   */
  vtysh(pathspace: string, ...commands: string[]): Promise<string> {
    const node = this.topology.nodes.find((n) => n.routerNamespace === pathspace);
    const cmd = `vtysh -N ${q(pathspace)} ${commands.map((c) => `-c ${q(c)}`).join(' ')}`;
    return this.run(null, node ? `unshare --uts sh -c ${q(`hostname ${node.name} && exec ${cmd}`)}` : cmd);
  }

  /** Gathers BGP sessions, routes and pings in one guest command, and evaluates them. */
  async status(opts: { probeTimeoutS?: number } = {}): Promise<LabStatus> {
    const t0 = performance.now();
    const script = statusScript(this.topology, this.paths, pings(this.topology), opts.probeTimeoutS ?? 3);
    const r = await this.uml.exec(script, { timeoutMs: 90_000 });
    const sections = splitSections(r.stdout);
    const checks = [...this.agentChecks(), ...evaluate(this.topology, sections)];
    const st: LabStatus = {
      at: new Date().toISOString(),
      ms: Math.round(performance.now() - t0),
      ok: checks.every((c) => c.ok || c.advisory === true),
      checks,
      sections: Object.fromEntries(sections),
    };
    this.lastStatus = st;
    return st;
  }

  /** The agents' own verdict, from their status files (read on the host, through the share). */
  private agentChecks(): LabCheck[] {
    return this.topology.nodes.map((n) => {
      const s = this.agentStatus(n.name);
      const ready = s?.status?.conditions?.find((c) => c.type === 'Ready');
      const failed = s?.status?.failedResources ?? [];
      return {
        id: `agent:${n.name}`,
        group: 'agent' as const,
        node: n.name,
        subject: `${n.name} agent`,
        ok: ready?.status === 'True',
        detail: ready
          ? `Ready=${ready.status} ${ready.reason ?? ''}${failed.length > 0 ? `; ${failed.length} failed resource(s)` : ''}`
          : 'no status yet (starting)',
      };
    });
  }

  /** The node's status file (RouterNodeConfigurationStatus), or undefined before the first pass. */
  agentStatus(node: string): AgentStatusFile | undefined {
    try {
      return parseYaml(readFileSync(this.hostPath(node, 'status.yaml'), 'utf8')) as AgentStatusFile;
    } catch {
      return undefined;
    }
  }

  /** The agent's JSON log lines (all runs of it). */
  agentLog(node: string): AgentLogEntry[] {
    return readJsonLines(this.hostPath(node, 'agent.log'));
  }

  reloaderLog(node: string): AgentLogEntry[] {
    return readJsonLines(this.hostPath(node, 'reloader.log'));
  }

  /**
   * Waits for the agent of `node` to log a `reconciled` line after the first `after` lines of its log
   * (that pass must match `until`, default any), and returns it.
   */
  async waitReconciled(
    node: string,
    after: number,
    opts: { timeoutMs?: number; until?: (e: AgentLogEntry) => boolean } = {},
  ): Promise<AgentLogEntry> {
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    for (;;) {
      const hit = this.agentLog(node)
        .slice(after)
        .filter((e) => e.msg === 'reconciled')
        .find((e) => opts.until?.(e) ?? true);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) {
        const tail = this.agentLog(node).slice(after).slice(-10);
        throw new LabError(
          `${node}: no matching reconcile within the timeout; agent log since:\n${tail.map((e) => JSON.stringify(e)).join('\n')}`,
        );
      }
      await sleep(200);
    }
  }

  /**
   * Changes the node's watched manifest directory in one step (one guest command, so that the agent
   * sees one change): `write` file name → YAML (each written to a dot file, which the agent ignores,
   * then renamed), `remove` file names. Returns the length of the agent's log before the change, for
   * waitReconciled().
   */
  async editManifests(
    node: string,
    change: { write?: Record<string, string>; remove?: string[] },
  ): Promise<number> {
    const dir = nodePaths(this.paths, findNode(this.topology, node)).configDir;
    const writes = Object.entries(change.write ?? {});
    const script: string[] = ['set -e'];
    writes.forEach(([file, text], i) => {
      script.push(
        `cat >${q(`${dir}/.${file}.tmp`)} <<'LAB_EOF_${i}'\n${text.endsWith('\n') ? text : `${text}\n`}LAB_EOF_${i}`,
      );
    });
    for (const [file] of writes) script.push(`mv ${q(`${dir}/.${file}.tmp`)} ${q(`${dir}/${file}`)}`);
    for (const file of change.remove ?? []) script.push(`rm -f ${q(`${dir}/${file}`)}`);
    const before = this.agentLog(node).length;
    await this.run(null, script.join('\n'));
    return before;
  }

  /** The manifests in the node's watched directory: file name → text. */
  async manifests(node: string): Promise<Map<string, string>> {
    const dir = nodePaths(this.paths, findNode(this.topology, node)).configDir;
    const out = await this.run(
      null,
      `cd ${q(dir)} && for f in *; do printf '### %s\\n' "$f"; cat "$f"; done`,
    );
    return splitSections(out);
  }

  /** Kills the node's FRR (SIGKILL, like a crash), then starts it again empty, as a supervisor would. */
  async restartFrr(node: string, opts: { downMs?: number } = {}): Promise<void> {
    const i = routerFrr(findNode(this.topology, node));
    await this.run(null, killFrrScript(i));
    if (opts.downMs) await sleep(opts.downMs);
    await this.run(null, startFrrScript([i]), { timeoutMs: 120_000 });
  }

  /** Stops (SIGTERM) and starts the node's agent or reloader. */
  async restartProcess(node: string, which: NodeProcess): Promise<void> {
    const n = findNode(this.topology, node);
    await this.run(null, stopProcessScript(this.paths, n, which), { timeoutMs: 60_000 });
    await this.run(null, startProcessScript(this.paths, n, which));
  }

  async stopProcess(node: string, which: NodeProcess): Promise<void> {
    await this.run(null, stopProcessScript(this.paths, findNode(this.topology, node), which), {
      timeoutMs: 60_000,
    });
  }

  async startProcess(node: string, which: NodeProcess): Promise<void> {
    await this.run(null, startProcessScript(this.paths, findNode(this.topology, node), which));
  }

  /** Waits until every agent's status file says Ready=True (host-side file reads, no guest command). */
  async waitAgentsReady(
    opts: { timeoutMs?: number; onProgress?: (p: LabProgress) => void; t0?: number } = {},
  ): Promise<void> {
    const t0 = opts.t0 ?? performance.now();
    const deadline = performance.now() + (opts.timeoutMs ?? 300_000);
    let lastReport = 0;
    for (;;) {
      const checks = this.agentChecks();
      const failing = checks.filter((c) => !c.ok);
      if (failing.length === 0) return;
      if (performance.now() > deadline) {
        throw new LabError(
          `the agents did not get Ready: ${summarizeFailing(failing)}\n${await this.logs(20)}`,
        );
      }
      const elapsedMs = Math.round(performance.now() - t0);
      if (elapsedMs - lastReport >= 5000) {
        lastReport = elapsedMs;
        opts.onProgress?.({
          elapsedMs,
          stage: 'waiting',
          message: `waiting for the agents' first reconcile: ${summarizeFailing(failing)}`,
          failing,
        });
      }
      await sleep(250);
    }
  }

  /**
   * Polls status() until every check passes (or the timeout), reporting what it waits for. A host
   * speaker whose zebra misses a kernel address on two polls in a row (an FRR 8.4 race, see
   * speakerFrr) is restarted: it is lab scaffolding, and its sessions could never come up otherwise.
   * Each restart is recorded in `speakerRestarts`.
   */
  async waitConverged(
    opts: { timeoutMs?: number; onProgress?: (p: LabProgress) => void; t0?: number } = {},
  ): Promise<LabStatus> {
    const t0 = opts.t0 ?? performance.now();
    const deadline = performance.now() + (opts.timeoutMs ?? 300_000);
    const strikes = new Map<string, number>();
    for (;;) {
      const st = await this.status();
      const elapsedMs = Math.round(performance.now() - t0);
      if (st.ok) {
        this.converged = true;
        opts.onProgress?.({
          elapsedMs,
          stage: 'converged',
          message: `converged: ${st.checks.length} checks pass`,
        });
        return st;
      }
      const failing = st.checks.filter((c) => !c.ok && c.advisory !== true);
      if (performance.now() > deadline) {
        this.converged = false;
        opts.onProgress?.({
          elapsedMs,
          stage: 'timeout',
          message: `gave up waiting; still failing: ${summarizeFailing(failing)}`,
          failing,
        });
        return st;
      }
      for (const n of this.topology.nodes) {
        const c = st.checks.find((x) => x.id === `zebra-view:${n.name}:host`);
        const k = (strikes.get(n.name) ?? 0) + 1;
        strikes.set(n.name, c !== undefined && !c.ok ? k : 0);
        if (c !== undefined && !c.ok && k >= 2) {
          opts.onProgress?.({
            elapsedMs,
            stage: 'waiting',
            message: `restarting the host speaker of ${n.name}: ${c.detail}`,
          });
          this.speakerRestarts.push({ node: n.name, at: new Date().toISOString(), reason: c.detail });
          await this.restartSpeaker(n.name);
          strikes.set(n.name, 0);
        }
      }
      opts.onProgress?.({
        elapsedMs,
        stage: 'waiting',
        message: `waiting for ${summarizeFailing(failing, 3)}`,
        failing,
      });
      await sleep(1000);
    }
  }

  /** Restarts a node's host speaker FRR (kill, start, load its config). */
  async restartSpeaker(node: string): Promise<void> {
    const n = findNode(this.topology, node);
    const i = speakerFrr(this.topology, this.paths).find((x) => x.pathspace === n.hostNamespace);
    if (i === undefined) throw new LabError(`no speaker for ${node}`);
    await this.run(null, killFrrScript(i));
    await this.run(null, startFrrScript([i]), { timeoutMs: 120_000 });
  }

  /** Memory of the running lab, on the host and inside the guest. */
  async memory(): Promise<MemoryReport> {
    const host = this.uml.hostRssKB();
    const out = await this.run(
      null,
      "free -k | awk '/^Mem:/ {print $2, $3}'; ps -eo rss=,comm= 2>/dev/null || true",
    );
    const [first = '', ...rest] = out.trim().split('\n');
    const [total = '0', used = '0'] = first.trim().split(/\s+/);
    const byProgram: Record<string, number> = {};
    for (const line of rest) {
      const m = /^\s*(\d+)\s+(\S+)/.exec(line);
      if (m?.[1] === undefined || m[2] === undefined) continue;
      byProgram[m[2]] = Math.round(((byProgram[m[2]] ?? 0) + Number(m[1]) / 1024) * 10) / 10;
    }
    return {
      hostMainMB: Math.round(host.mainKB / 1024),
      hostTotalMB: Math.round(host.totalKB / 1024),
      guestUsedMB: Math.round(Number(used) / 1024),
      guestTotalMB: Math.round(Number(total) / 1024),
      byProgram,
    };
  }

  /** Tails of every log of the lab (agents, reloaders, FRR daemons), for failure reports. */
  async logs(lines = 40): Promise<string> {
    const parts: string[] = [];
    if (this.mode === 'kubernetes') {
      for (const f of ['apiserver.log', 'nodemarker.log']) {
        try {
          const all = readFileSync(this.hostPath('cluster', f), 'utf8').trimEnd().split('\n');
          parts.push(`--- cluster/${f}\n${all.slice(-lines).join('\n')}`);
        } catch {
          parts.push(`--- cluster/${f}: missing`);
        }
      }
    }
    for (const n of this.topology.nodes) {
      for (const f of ['agent.log', 'reloader.log']) {
        try {
          const all = readFileSync(this.hostPath(n.name, f), 'utf8').trimEnd().split('\n');
          parts.push(`--- ${n.name}/${f}\n${all.slice(-lines).join('\n')}`);
        } catch {
          parts.push(`--- ${n.name}/${f}: missing`);
        }
      }
    }
    if (this.uml.running) {
      const r = await this.uml
        .exec(`for f in /var/run/frr/*/*.log; do echo "--- $f"; tail -n ${lines} "$f"; done`, {
          timeoutMs: 20_000,
        })
        .catch(() => undefined);
      if (r !== undefined) parts.push(r.stdout);
    }
    return parts.join('\n');
  }

  /** Copies FRR's logs to the state dir, powers the guest off, removes the state dir (if labUp made it). */
  down(): Promise<void> {
    this.downing ??= (async () => {
      if (this.uml.running && !this.removeStateDir) {
        await this.uml
          .exec(
            `mkdir -p ${GUEST_SHARE}/frr-logs && for d in /var/run/frr/*/; do n=$(basename "$d"); mkdir -p ${GUEST_SHARE}/frr-logs/$n; cp "$d"*.log ${GUEST_SHARE}/frr-logs/$n/ 2>/dev/null; done; true`,
            { timeoutMs: 20_000 },
          )
          .catch(() => undefined);
      }
      await this.uml.stop().catch(async () => {
        await this.uml.kill();
      });
      if (this.removeStateDir) rmSync(this.stateDir, { recursive: true, force: true });
      else rmSync(join(this.stateDir, 'owner'), { force: true });
    })();
    return this.downing;
  }
}

export interface AgentStatusFile {
  status?: {
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    failedResources?: Record<string, unknown>[];
  };
}

function readJsonLines(file: string): AgentLogEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: AgentLogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as AgentLogEntry);
    } catch {
      // a line being written
    }
  }
  return out;
}

const STATE_PREFIX = 'openperouter-lab-';

/** Removes temporary state dirs of labs whose process died without down() (SIGKILL). */
function sweepStaleStateDirs(): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((e) => e.startsWith(STATE_PREFIX));
  } catch {
    return;
  }
  for (const e of entries) {
    const dir = join(tmpdir(), e);
    try {
      const owner = Number(readFileSync(join(dir, 'owner'), 'utf8').trim());
      if (!Number.isInteger(owner) || owner <= 0) continue;
      const stat = readFileSync(`/proc/${owner}/stat`, 'utf8');
      if (!/\) [ZX] /.test(stat)) continue;
    } catch (err) {
      // no owner file: not ours; no /proc entry: the owner is gone
      if ((err as NodeJS.ErrnoException).path?.startsWith('/proc/') !== true) continue;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Boots the lab: guest, namespaces and links, FRR everywhere, our reloader and agent per node; then
 * (unless told not to) waits until every check passes. Rejects only when the lab cannot be built (the
 * guest is then already gone); a lab that does not converge resolves with `converged` false.
 */
export async function labUp(opts: LabOptions = {}): Promise<Lab> {
  const why = labUnavailableReason();
  if (why !== undefined) throw new LabError(why);
  const t0 = performance.now();
  const topology = opts.topology ?? DEFAULT_TOPOLOGY;
  const created = opts.stateDir === undefined;
  sweepStaleStateDirs();
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), STATE_PREFIX));
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, 'owner'), `${process.pid}\n`);
  const progress = (stage: LabProgress['stage'], message: string) =>
    opts.onProgress?.({ elapsedMs: Math.round(performance.now() - t0), stage, message });
  const share = join(stateDir, 'guest');
  rmSync(share, { recursive: true, force: true });
  mkdirSync(join(share, 'frr'), { recursive: true });
  writeFileSync(join(share, 'frr', `${topology.leaf.namespace}.conf`), leafFrrConfig(topology));
  for (const n of topology.nodes) {
    mkdirSync(join(share, n.name), { recursive: true });
    writeFileSync(join(share, 'frr', `${n.hostNamespace}.conf`), speakerFrrConfig(n));
  }

  progress('boot', 'booting the user-mode Linux guest');
  let uml: Uml;
  try {
    uml = await startUml({
      // Kubernetes mode runs four more Node.js processes (API server stand-in, nodemarker, controllers).
      memMB: opts.memMB ?? (opts.mode === 'kubernetes' ? 1536 : 1024),
      name: 'lab',
      hostname: 'lab',
      hostDirs: [{ host: share, guest: GUEST_SHARE }],
      execTimeoutMs: 120_000,
    });
  } catch (e) {
    if (created) rmSync(stateDir, { recursive: true, force: true });
    throw e;
  }
  const mode = opts.mode ?? 'static';
  const lab = new Lab(uml, topology, stateDir, opts.removeStateDir ?? created, mode);
  lab.timings.bootMs = uml.timings.bootMs;
  try {
    const stage = async (
      name: 'topology' | 'frr' | 'cluster' | 'agents' | 'speakers',
      what: string,
      script: string,
    ): Promise<number> => {
      progress(name, what);
      const s0 = performance.now();
      const r = await uml.exec(script, { timeoutMs: 180_000 });
      if (r.exitCode !== 0)
        throw new LabError(`lab stage ${name} failed (exit ${r.exitCode}):\n${r.stdout}${r.stderr}`);
      return Math.round(performance.now() - s0);
    };
    lab.timings.topologyMs = await stage(
      'topology',
      `guest up in ${(uml.timings.bootMs / 1000).toFixed(1)} s; creating namespaces, links and addresses`,
      topologyScript(topology),
    );
    const fabric = fabricFrr(topology, lab.paths);
    lab.timings.frrMs = await stage(
      'frr',
      `starting ${fabric.reduce((a, i) => a + i.daemons.length, 0)} FRR daemons: the leaf's and the routers'`,
      startFrrScript(fabric),
    );
    if (mode === 'kubernetes') {
      await stage(
        'cluster',
        'starting the API server stand-in with the lab nodes and objects, and the nodemarker (indexes, webhooks)',
        startClusterScript(topology, lab.paths),
      );
    }
    const tAgents = performance.now();
    lab.timings.agentsMs = await stage(
      'agents',
      `starting the reloader and the ${mode === 'kubernetes' ? 'controller' : 'agent'} of ${topology.nodes.map((n) => n.name).join(', ')} (logs in ${share})`,
      startAgentsScript(topology, lab.paths),
    );
    await lab.waitAgentsReady({
      timeoutMs: opts.convergeTimeoutMs ?? 300_000,
      t0,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    const speakers = speakerFrr(topology, lab.paths);
    lab.timings.speakersMs = await stage(
      'speakers',
      `agents ready; starting the host BGP speakers of ${topology.nodes.map((n) => n.name).join(', ')} (FRR, standing in for MetalLB / FRR-K8s)`,
      startFrrScript(speakers),
    );
    if (opts.waitConverged ?? true) {
      await lab.waitConverged({
        timeoutMs: opts.convergeTimeoutMs ?? 300_000,
        t0,
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
      lab.timings.convergeMs = Math.round(performance.now() - tAgents);
    }
    lab.timings.totalMs = Math.round(performance.now() - t0);
    return lab;
  } catch (e) {
    await lab.down();
    throw e;
  }
}
