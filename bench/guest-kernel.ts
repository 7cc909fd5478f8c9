// Runs INSIDE the user-mode Linux guest (the host kernel has no VRF): the kernel side of the benchmark.
//   cold apply of N VNIs with our applier (read -> diff -> one `ip -batch` per step -> verify) against
//   the raw `ip -batch` of exactly the same operations, run from this same process (the floor);
//   then a child process playing the node agent (bench/agent.ts) runs reconcile passes (no-op, one
//   VNI added) against the kernel state left behind and reports its RSS.
// Input: JSON on stdin ({ cold: number[], reps: number, agent: {...} }); output: one JSON line per result.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type AppliedBatch, applyKernelPlan, sysctlScript } from '../src/kernel/apply.js';
import type { KernelPlan } from '../src/kernel/model.js';
import { NAMESPACE_DUMP_LINES, sysctlReadCommand } from '../src/kernel/read.js';
import { emptyNodeRssKb, launcherNodeFlags, setupHostNamespace, startStubReloader } from './guest-common.js';
import { emit, median, run, runOk, runScript, sleep } from './lib.js';
import { renderWorkload } from './workload.js';

export const HOST_NS = 'bhost';
export const NIC = 'toswitch';

interface Input {
  cold: number[];
  reps: number;
  agent?: { n: number; noopReps: number; addReps: number; socket: string }[];
}

async function clean(plan: KernelPlan): Promise<void> {
  await run('ip', ['netns', 'del', plan.routerNamespace]);
  await run('ip', ['netns', 'del', HOST_NS]);
  // Devices of a deleted namespace go away asynchronously: let the kernel finish before timing again.
  for (let i = 0; i < 600; i++) {
    const r = await run('sh', ['-c', 'cat /proc/net/dev | wc -l']);
    if (Number(r.stdout.trim()) <= 4) break;
    await sleep(100);
  }
  await sleep(300);
}

/** The same write operations, as bare processes: namespace, sysctls, one `ip -batch` per step. */
async function rawReplay(batches: readonly AppliedBatch[], plan: KernelPlan): Promise<number> {
  const t0 = performance.now();
  for (const b of batches) {
    if (b.kind === 'netns') await runOk('ip', ['netns', 'add', plan.routerNamespace]);
    else if (b.kind === 'sysctl')
      await runOk('ip', ['netns', 'exec', b.namespace, 'sh', '-c', sysctlScript(b.lines)]);
    else await runOk('ip', ['-n', b.namespace, '-batch', '-'], `${b.lines.join('\n')}\n`);
  }
  return performance.now() - t0;
}

async function cold(n: number, reps: number): Promise<void> {
  const { kernel: plan } = renderWorkload(n, undefined, { nic: NIC });
  const ours: number[] = [];
  const raw: number[] = [];
  let batches: AppliedBatch[] = [];
  let operations = 0;
  let processes = {};
  for (let r = 0; r < reps; r++) {
    await clean(plan);
    await setupHostNamespace(HOST_NS, NIC);
    const res = await applyKernelPlan(plan, { hostNamespace: HOST_NS });
    ours.push(res.durationMs);
    if (res.attempts !== 1) throw new Error(`cold apply took ${res.attempts} write rounds`);
    batches = res.batches;
    operations = res.operations;
    processes = res.processes;
    await clean(plan);
    await setupHostNamespace(HOST_NS, NIC);
    raw.push(await rawReplay(batches, plan));
    // The raw replay must have built the same state: our applier finds nothing to do.
    const check = await applyKernelPlan(plan, { hostNamespace: HOST_NS, dryRun: true });
    if (check.operations !== 0) throw new Error(`raw replay left ${check.operations} operations`);
  }
  emit({
    section: 'cold',
    n,
    reps,
    operations,
    writeProcesses: batches.length,
    processes,
    oursMs: median(ours),
    rawMs: median(raw),
    oursAll: ours,
    rawAll: raw,
  });
}

async function agent(a: NonNullable<Input['agent']>[number]): Promise<void> {
  const { kernel: plan } = renderWorkload(a.n, undefined, { nic: NIC });
  await clean(plan);
  await setupHostNamespace(HOST_NS, NIC);
  const server = await startStubReloader(a.socket);
  try {
    const script = fileURLToPath(new URL('./agent.js', import.meta.url));
    // With the Node.js flags the launcher (bin/openperouter) gives every agent.
    const child = spawn(process.execPath, [...launcherNodeFlags(), script], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stdin.end(JSON.stringify({ ...a, hostNamespace: HOST_NS, nic: NIC }));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    for (const line of out.split('\n').filter((l) => l.startsWith('{'))) emit(JSON.parse(line));
    if (code !== 0) throw new Error(`agent exited ${code}`);
    // Floors, same guest, same kernel state: the state reads alone (the 3 reader processes the
    // applier runs, in parallel, without parsing or diffing), and the RSS of an empty Node process.
    const reads: number[] = [];
    const dump = `${NAMESPACE_DUMP_LINES.join('\n')}\n`;
    for (let i = 0; i < a.noopReps; i++) {
      const t0 = performance.now();
      await Promise.all([
        run('ip', ['-n', plan.routerNamespace, '-d', '-json', '-batch', '-'], dump),
        run('ip', ['-n', HOST_NS, '-d', '-json', '-batch', '-'], dump),
        run('ip', [
          'netns',
          'exec',
          plan.routerNamespace,
          ...sysctlReadCommand(Object.keys(plan.routerSysctls)),
        ]),
      ]);
      reads.push(performance.now() - t0);
    }
    emit({
      section: 'floors',
      n: a.n,
      rawReadsMs: median(reads),
      emptyNodeRssKb: await emptyNodeRssKb(),
    });
  } finally {
    await server.close();
  }
}

async function main(input: Input): Promise<void> {
  for (const n of input.cold) await cold(n, input.reps);
  for (const a of input.agent ?? []) await agent(a);
  emit({ section: 'done' });
}

runScript(main);
