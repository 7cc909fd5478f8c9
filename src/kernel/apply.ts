// The kernel applier: read -> diff -> write, until the actual state equals the plan.
// Writes go through one `ip -batch -` process per step (normally one per namespace), without -force:
// iproute2 stops at the first failing line, the applier re-reads, re-diffs and tries again (bounded),
// and the last read doubles as the verification (a diff of zero operations). A reconcile with nothing
// to change spawns only the reader processes (see read.ts), never a writer.
// Fewer processes where the outcome is known: a namespace just created is not read (its content is
// known), and the verification of a namespace (or of the sysctls) is dumped by its last write process,
// after its writes, when no later step can change it; otherwise it is read on its own.
import { createHash } from 'node:crypto';
import {
  type DiffContext,
  diffKernel,
  type KernelDiff,
  type Role,
  routerNamespaceStep,
  type Step,
} from './diff.js';
import { ipNamespaceArgs, newProcessCounts, type ProcessCounts, runProcess } from './exec.js';
import type { KernelPlan } from './model.js';
import {
  type ActualAddress,
  type ActualState,
  freshNamespaceState,
  KernelReadError,
  NAMESPACE_DUMP_LINES,
  NamespaceDumpParser,
  type NamespaceState,
  namespaceExists,
  parseSysctlDump,
  readActualState,
  readNamespace,
  readSysctls,
  sysctlPath,
  sysctlReadCommand,
} from './read.js';

export interface ApplyOptions {
  /** Namespace playing the host: undefined = this process's own (production); a netns name in tests. */
  hostNamespace?: string;
  /** Read and diff only: report what would be written. */
  dryRun?: boolean;
  /** Write rounds before giving up (default 3). */
  maxAttempts?: number;
  /** Test seam: called before every write process (e.g. to change the kernel behind the applier's back). */
  beforeWrite?: (step: Step, attempt: number) => Promise<void> | void;
}

export interface AppliedBatch {
  role: Role;
  /** The namespace written: its name, or `host` for this process's own. */
  namespace: string;
  kind: Step['kind'];
  lines: string[];
  /** Write round (1-based); 0 for the namespace creation. */
  attempt: number;
  /** iproute2's message when the batch stopped at an error. */
  error?: string;
}

export interface KernelApplyResult {
  /** Write operations submitted (batch lines, sysctl writes, namespace creation); 0 = nothing changed. */
  operations: number;
  /** Write processes run (with dryRun: the ones that would run). */
  batches: AppliedBatch[];
  /** Write rounds (a round = one read-diff-write pass); 0 when the state already equalled the plan. */
  attempts: number;
  durationMs: number;
  /** Processes spawned: readers (`ip -json`, sysctl reads) and writers. */
  processes: ProcessCounts;
  warnings: string[];
  /** dryRun only: what the agent could not fix by itself. */
  problems: string[];
  /** The plan equalled the last verified one within the trust window: nothing was read (createKernelApplier). */
  trusted?: boolean;
}

export class KernelApplyError extends Error {
  override name = 'KernelApplyError';
  constructor(
    message: string,
    readonly result: KernelApplyResult,
  ) {
    super(message);
  }
}

function namespaceName(role: Role, plan: KernelPlan, opts: ApplyOptions): string {
  return role === 'router' ? plan.routerNamespace : (opts.hostNamespace ?? 'host');
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/**
 * A shell script writing `key=value` lines to /proc/sys, stopping at the first failure; a key this
 * kernel does not have is skipped (the next read reports it). `readBack`: keys printed afterwards, as
 * readSysctls prints them.
 */
export function sysctlScript(lines: readonly string[], readBack: readonly string[] = []): string {
  const out = ['set -e'];
  for (const line of lines) {
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const path = shellQuote(sysctlPath(key));
    out.push(`[ ! -e ${path} ] || printf '%s\\n' ${shellQuote(value)} > ${path}`);
  }
  if (readBack.length > 0)
    out.push(`${sysctlReadCommand(readBack).map(shellQuote).join(' ')} || [ $? -le 2 ]`);
  return out.join('\n');
}

/** iproute2's message for a failed batch, naming the line that failed when it says which. */
export function batchError(lines: readonly string[], stderr: string): string {
  const text = stderr.trim();
  const m = /Command failed [^:\n]*:(\d+)/.exec(text);
  const message = text
    .split('\n')
    .filter((l) => !/^Command failed /.test(l))
    .join('; ');
  if (m === null) return message || 'ip exited with an error and printed nothing';
  const line = lines[Number(m[1]) - 1];
  return `"${line ?? `line ${m[1]}`}": ${message}`;
}

interface WriteOutcome {
  error?: string;
  /** What the write process dumped after its writes (when asked to). */
  namespace?: NamespaceState;
  sysctls?: Record<string, string | undefined>;
}

/** Runs one step; `dump`: also print the namespace (or the sysctls) after the writes. */
async function write(
  step: Step,
  plan: KernelPlan,
  opts: ApplyOptions,
  counts: ProcessCounts,
  dump = false,
): Promise<WriteOutcome> {
  counts.writers++;
  const namespace = step.role === 'router' ? plan.routerNamespace : opts.hostNamespace;
  if (step.kind === 'netns') {
    const r = await runProcess('ip', ['netns', 'add', plan.routerNamespace]);
    return r.code === 0 ? {} : { error: `"ip netns add ${plan.routerNamespace}": ${r.stderr.trim()}` };
  }
  if (step.kind === 'sysctl') {
    if (namespace === undefined) throw new Error('sysctls are only written in the router namespace');
    const keys = dump ? Object.keys(plan.routerSysctls) : [];
    const r = await runProcess('ip', [
      'netns',
      'exec',
      namespace,
      'sh',
      '-c',
      sysctlScript(step.lines, keys),
    ]);
    if (r.code !== 0) return { error: `sysctl write failed: ${r.stderr.trim()}` };
    return dump ? { sysctls: parseSysctlDump(r.stdout, keys) } : {};
  }
  const input = dump ? [...step.lines, ...NAMESPACE_DUMP_LINES] : step.lines;
  const parser = dump ? new NamespaceDumpParser(`namespace ${namespace ?? 'host'}`) : undefined;
  const r = await runProcess(
    'ip',
    [...ipNamespaceArgs(namespace), ...(dump ? ['-d', '-json'] : []), '-batch', '-'],
    `${input.join('\n')}\n`,
    parser?.feed,
  );
  if (r.code !== 0) return { error: batchError(input, r.stderr) };
  return parser === undefined ? {} : { namespace: parser.finish() };
}

type Part = 'host' | 'router' | 'sysctl';

/** Whether a step can change a part of the state (what the diff compares). */
function changes(step: Step, part: Part): boolean {
  if (part === 'sysctl') return step.kind === 'sysctl';
  if (step.kind === 'sysctl') return false;
  if (step.kind === 'netns') return part === 'router';
  if (step.role === part) return true;
  // Across namespaces only deleting a veth end (its peer goes too), moving a link and creating a veth
  // pair with its other end there. (Bringing a veth end up gives its peer a carrier, and so a
  // link-local address where the peer's mode allows one: nothing the diff compares.)
  return step.lines.some((l) => l.startsWith('link del ') || l.includes(' netns '));
}

/**
 * For each part of the state: the index of the step whose process dumps it after its writes (its last
 * writer, when no later step changes it), -1 when a reader must read it after the round, or undefined
 * when the round does not change it.
 */
export function verificationPlan(steps: readonly Step[]): Record<Part, number | undefined> {
  const out: Record<Part, number | undefined> = { host: undefined, router: undefined, sysctl: undefined };
  for (const part of ['host', 'router', 'sysctl'] as const) {
    const last = steps.findLastIndex((s) => changes(s, part));
    if (last < 0) continue;
    const s = steps[last] as Step;
    const own = part === 'sysctl' ? s.kind === 'sysctl' : s.kind === 'ip' && s.role === part;
    out[part] = own ? last : -1;
  }
  return out;
}

function pendingSummary(diff: KernelDiff, plan: KernelPlan, opts: ApplyOptions): string {
  const lines = diff.steps.flatMap((s) => s.lines.map((l) => `[${namespaceName(s.role, plan, opts)}] ${l}`));
  const shown = lines.slice(0, 5).join(', ');
  return lines.length > 5 ? `${shown} and ${lines.length - 5} more` : shown;
}

/** Converges the kernel to `plan`. Throws KernelApplyError (with the result so far) when it cannot. */
export async function applyKernelPlan(plan: KernelPlan, opts: ApplyOptions = {}): Promise<KernelApplyResult> {
  const started = performance.now();
  const maxAttempts = opts.maxAttempts ?? 3;
  const processes = newProcessCounts();
  const result: KernelApplyResult = {
    operations: 0,
    batches: [],
    attempts: 0,
    durationMs: 0,
    processes,
    warnings: [],
    problems: [],
  };
  const finish = (): KernelApplyResult => {
    result.durationMs = performance.now() - started;
    return result;
  };
  const ctx: DiffContext & { underlayAddresses: Record<string, readonly ActualAddress[]> } = {
    hostNetnsRef: opts.hostNamespace ?? `/proc/${process.pid}/ns/net`,
    underlayAddresses: {},
  };
  let lastFailure: string | undefined;
  /** The state the next diff starts from; undefined = read it. */
  let known: ActualState | undefined;
  if (!opts.dryRun && !namespaceExists(plan.routerNamespace)) {
    // A cold start: the diff would begin with creating the router namespace, and a new namespace is
    // not read (see createRouterNamespace), so create it while the host namespace is read.
    const [host] = await Promise.all([readNamespace(opts.hostNamespace, processes), createRouterNamespace()]);
    known = freshRouterState(host);
  }
  for (;;) {
    const actual =
      known ?? (await readActualState(plan, { hostNamespace: opts.hostNamespace, counts: processes }));
    known = undefined;
    const diff = diffKernel(plan, actual, ctx);
    Object.assign(ctx.underlayAddresses, diff.underlayAddresses);
    result.warnings = diff.warnings;
    if (opts.dryRun) {
      result.operations = diff.operations;
      result.problems = diff.problems;
      result.batches = diff.steps.map((s) => ({
        role: s.role,
        namespace: namespaceName(s.role, plan, opts),
        kind: s.kind,
        lines: s.lines,
        attempt: 1,
      }));
      return finish();
    }
    if (diff.operations === 0) {
      if (diff.problems.length > 0) {
        throw new KernelApplyError(`kernel state incomplete: ${diff.problems.join('; ')}`, finish());
      }
      return finish();
    }
    if (diff.steps.some((s) => s.kind === 'netns')) {
      // The namespace went away since the start (deleted behind our back): create it alone first.
      await createRouterNamespace();
      known = freshRouterState(actual.host);
      continue;
    }
    if (result.attempts >= maxAttempts) {
      const why = lastFailure ?? 'the state read back still differs from the plan';
      throw new KernelApplyError(
        `kernel state did not converge after ${result.attempts} attempts: ${why}; still to do: ${pendingSummary(diff, plan, opts)}`,
        finish(),
      );
    }
    result.attempts++;
    lastFailure = undefined;
    const verify = verificationPlan(diff.steps);
    const dumped: { host?: NamespaceState; router?: NamespaceState; sysctls?: ActualState['routerSysctls'] } =
      {};
    let dumpFailed = false;
    for (const [i, step] of diff.steps.entries()) {
      await opts.beforeWrite?.(step, result.attempts);
      const dump = verify.host === i || verify.router === i || verify.sysctl === i;
      let outcome: WriteOutcome;
      try {
        outcome = await write(step, plan, opts, processes, dump);
      } catch (e) {
        // The writes went through but the dump after them was unreadable: read again.
        if (!(e instanceof KernelReadError)) throw e;
        outcome = {};
        dumpFailed = true;
      }
      const { error } = outcome;
      if (outcome.namespace !== undefined) dumped[step.role] = outcome.namespace;
      if (outcome.sysctls !== undefined) dumped.sysctls = outcome.sysctls;
      result.operations += step.lines.length;
      const namespace = namespaceName(step.role, plan, opts);
      result.batches.push({
        role: step.role,
        namespace,
        kind: step.kind,
        lines: step.lines,
        attempt: result.attempts,
        ...(error === undefined ? {} : { error }),
      });
      if (error !== undefined) {
        lastFailure = `${step.role} namespace ${namespace}: ${error}`;
        break;
      }
    }
    if (lastFailure === undefined && !dumpFailed) known = await verified(actual, verify, dumped);
  }

  /** `ip netns add` of the router namespace, alone (the rest of the diff depends on what it holds). */
  async function createRouterNamespace(): Promise<void> {
    const step = routerNamespaceStep(plan);
    const { error } = await write(step, plan, opts, processes);
    result.operations += step.lines.length;
    result.batches.push({
      role: 'router',
      namespace: plan.routerNamespace,
      kind: 'netns',
      lines: step.lines,
      attempt: 0,
    });
    if (error !== undefined) throw new KernelApplyError(error, finish());
  }

  /**
   * The state right after createRouterNamespace, without reading it: a new namespace holds only `lo`,
   * down; its sysctls are all written (their defaults depend on the kernel), except those it lacks.
   */
  function freshRouterState(host: NamespaceState): ActualState {
    const ipv6 = host.links.find((l) => l.name === 'lo')?.addrGenMode !== undefined;
    return {
      host,
      router: freshNamespaceState(ipv6),
      routerSysctls: Object.fromEntries(Object.keys(plan.routerSysctls).map((k) => [k, ''])),
    };
  }

  /** The state after a successful round: dumped by the writers, else read, else unchanged. */
  async function verified(
    before: ActualState,
    verify: Record<Part, number | undefined>,
    dumped: { host?: NamespaceState; router?: NamespaceState; sysctls?: ActualState['routerSysctls'] },
  ): Promise<ActualState> {
    const keys = Object.keys(plan.routerSysctls);
    const [host, router, routerSysctls] = await Promise.all([
      dumped.host ?? (verify.host === undefined ? before.host : readNamespace(opts.hostNamespace, processes)),
      dumped.router ??
        (verify.router === undefined ? before.router : readNamespace(plan.routerNamespace, processes)),
      dumped.sysctls ??
        (verify.sysctl === undefined
          ? before.routerSysctls
          : readSysctls(plan.routerNamespace, keys, processes)),
    ]);
    return router === undefined ? { host, routerSysctls } : { host, router, routerSysctls };
  }
}

export interface KernelApplierOptions extends Omit<ApplyOptions, 'dryRun'> {
  /**
   * How long a verified state is trusted (ms; default 0 = never): a plan identical to the last one this
   * applier converged and verified less than this long ago is not read again. Passes triggered by events
   * that change nothing for this node (another node's object, a Secret nobody uses, a Node heartbeat)
   * then cost the render only, instead of reading every link and address of the node. Drift made behind
   * the agent's back is still repaired: by the first pass after the window, and at the latest by the
   * periodic resync. A new process always reads (its first pass verifies).
   */
  trustVerifiedMs?: number;
}

/** A pass that trusted the last verification: nothing read, nothing written. */
function trustedResult(): KernelApplyResult {
  return {
    operations: 0,
    batches: [],
    attempts: 0,
    durationMs: 0,
    processes: newProcessCounts(),
    warnings: [],
    problems: [],
    trusted: true,
  };
}

/** The applier the node reconciler uses. */
export function createKernelApplier(opts: KernelApplierOptions = {}): {
  apply(plan: KernelPlan): Promise<KernelApplyResult>;
} {
  const { trustVerifiedMs = 0, ...applyOpts } = opts;
  let verified: { plan: string; at: number } | undefined;
  return {
    apply: async (plan) => {
      const key =
        trustVerifiedMs > 0 ? createHash('sha256').update(JSON.stringify(plan)).digest('base64') : '';
      if (
        verified !== undefined &&
        verified.plan === key &&
        performance.now() - verified.at < trustVerifiedMs
      ) {
        return trustedResult();
      }
      verified = undefined;
      const result = await applyKernelPlan(plan, applyOpts);
      // applyKernelPlan resolves only once a read showed the kernel equal to the plan.
      if (trustVerifiedMs > 0) verified = { plan: key, at: performance.now() };
      return result;
    },
  };
}
