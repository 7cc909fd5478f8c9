// The node agent's reconcile pass in a process of its own (run by guest-kernel.ts inside UML): the
// real reconciler (src/node/reconciler.ts) with the real kernel applier and the real reloader client.
//   1. a first pass at N (cold: FRR config pushed, kernel built)
//   2. no-op passes at N: time, kernel writes, FRR applies
//   3. one VNI added (N -> N+1) and removed again, alternating: time, kernel operations
// then its RSS (VmRSS and the peak VmHWM from /proc/self/status; in the JSON only: this harness holds
// two appliers and two inputs, the RSS rows of the table are the real processes, guest-agents.ts).
import { toSnapshot } from '../src/api/load.js';
import { applyFrrConfig } from '../src/frr/reloader-client.js';
import { createKernelApplier } from '../src/kernel/apply.js';
import { KERNEL_TRUST_MS } from '../src/node/agent.js';
import { reconcileOnce } from '../src/node/reconciler.js';
import { RenderMemo } from '../src/node/render-memo.js';
import { statusKb } from './guest-common.js';
import { emit, median, runScript } from './lib.js';
import { FACTS, toObjects, workloadManifests } from './workload.js';

interface Input {
  n: number;
  noopReps: number;
  addReps: number;
  socket: string;
  hostNamespace: string;
  nic: string;
}

async function main(a: Input): Promise<void> {
  let frrApplies = 0;
  let retried = 0;
  const frr = {
    apply: async (config: string) => {
      const r = await applyFrrConfig(a.socket, config, { retries: 1 });
      if (r.applied) frrApplies++;
      if (r.attempts > 1) retried++;
      return r;
    },
  };
  // As the agents run it (src/node/agent.ts): a verified state is trusted for KERNEL_TRUST_MS.
  const kernel = createKernelApplier({ hostNamespace: a.hostNamespace, trustVerifiedMs: KERNEL_TRUST_MS });
  // Every pass reads and verifies: what a resync pass, or the first pass of a new process, costs.
  const verifying = createKernelApplier({ hostNamespace: a.hostNamespace });
  const inputsFor = (n: number) => ({
    snapshot: toSnapshot(toObjects(workloadManifests(n, { nic: a.nic }))),
    facts: FACTS,
  });
  const base = inputsFor(a.n);
  // As the agents run it: the last render is remembered (src/node/render-memo.ts).
  const memo = new RenderMemo();
  const pass = async (
    inputs: ReturnType<typeof inputsFor>,
    applier = kernel,
    m: RenderMemo | undefined = memo,
  ) => {
    const before = frrApplies;
    const r = await reconcileOnce(inputs, frr, applier, m);
    if (r.outcome.kind !== 'applied') throw new Error(`reconcile: ${JSON.stringify(r.outcome)}`);
    return {
      ms: r.durationMs,
      kernelOperations: r.kernelOperations,
      frrApplies: frrApplies - before,
      kernelChanges: r.kernelChanges ?? [],
    };
  };
  const first = await pass(base);
  emit({ section: 'agent-first', n: a.n, ms: first.ms, kernelOperations: first.kernelOperations });
  const noop = [];
  for (let i = 0; i < a.noopReps; i++) noop.push(await pass(base));
  emit({
    section: 'noop',
    n: a.n,
    ms: median(noop.map((x) => x.ms)),
    all: noop.map((x) => x.ms),
    kernelOperations: Math.max(...noop.map((x) => x.kernelOperations)),
    frrApplies: noop.reduce((s, x) => s + x.frrApplies, 0),
  });
  const verified = [];
  for (let i = 0; i < a.noopReps; i++) verified.push(await pass(base, verifying, undefined));
  emit({
    section: 'noop-verify',
    n: a.n,
    ms: median(verified.map((x) => x.ms)),
    all: verified.map((x) => x.ms),
    kernelOperations: Math.max(...verified.map((x) => x.kernelOperations)),
    frrApplies: verified.reduce((s, x) => s + x.frrApplies, 0),
  });
  // Steady state of an agent at N: one snapshot, its remembered render, the applier's verified plan.
  emit({ section: 'rss-steady', n: a.n, rssKb: statusKb('self', 'VmRSS') });
  const plus = inputsFor(a.n + 1);
  const add = [];
  const remove = [];
  for (let i = 0; i < a.addReps; i++) {
    add.push(await pass(plus));
    remove.push(await pass(base));
  }
  if (a.addReps > 0)
    emit({
      section: 'add-one',
      n: a.n,
      ms: median(add.map((x) => x.ms)),
      all: add.map((x) => x.ms),
      kernelOperations: median(add.map((x) => x.kernelOperations)),
      removeKernelOperations: median(remove.map((x) => x.kernelOperations)),
      addChanges: add[0]?.kernelChanges ?? [],
      removeChanges: remove[0]?.kernelChanges ?? [],
    });
  // Both after the passes: the resident set now, and the peak over the process's life.
  emit({
    section: 'rss',
    n: a.n,
    rssKb: statusKb('self', 'VmRSS'),
    hwmKb: statusKb('self', 'VmHWM'),
    frrPostsRetried: retried,
  });
}

runScript(main);
