// Shared by the lab's end-to-end suites (static mode: e2e-lab.test.ts; Kubernetes mode:
// e2e-lab-kubernetes.test.ts): check assertions, "converged to its manifests", waiting for a reconcile,
// and the objects the suites add.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CheckGroup, LabCheck } from '../../lab/checks.js';
import {
  expectedFor,
  frrDifferences,
  kernelDifferences,
  type NodeState,
  readNodeState,
} from '../../lab/expect.js';
import type { AgentLogEntry, Lab, LabProgress, LabStatus } from '../../lab/lab.js';
import { findNode } from '../../lab/topology.js';

export function failing(checks: LabCheck[], pred: (c: LabCheck) => boolean): string {
  const bad = checks.filter((c) => pred(c) && !c.ok);
  return bad.map((c) => `  ${c.id}: ${c.subject} — ${c.detail}`).join('\n');
}

export function assertChecks(st: LabStatus, groups: CheckGroup[], what: string): void {
  const mine = st.checks.filter((c) => groups.includes(c.group));
  assert.ok(mine.length > 0, `no ${groups.join('/')} checks in the status`);
  const bad = failing(mine, () => true);
  assert.equal(bad, '', `${what}: failing checks:\n${bad}`);
}

export const GREEN_L3 = `apiVersion: network.openperouter.io/v1alpha1
kind: L3VNI
metadata:
  name: green
  namespace: openperouter-system
spec:
  vrf: green
  vni: __VNI__
  hostSession:
    asn: 64514
    hostASN: 64515
    localCIDR:
      ipv4: 192.169.12.0/24
`;

export const GREEN_L2 = `apiVersion: network.openperouter.io/v1alpha1
kind: L2VNI
metadata:
  name: green-l2
  namespace: openperouter-system
spec:
  vni: __VNI__
  routingDomain:
    type: L3VNI
    l3vni:
      name: green
  gatewayIPs:
    - 192.171.1.1/24
  hostMaster:
    type: LinuxBridge
    linuxBridge:
      lifecycle: Managed
`;

/** A node's links as comparable text: name, kind, master and addresses per namespace, sorted. */
export function linkKey(st: NodeState): { host: string[]; router: string[] } {
  const text = (links: NodeState['host']) =>
    links.map((l) => `${l.name} ${l.kind} ${l.master ?? ''} ${l.addresses.join(',')}`).sort();
  return { host: text(st.host), router: text(st.router) };
}

/** Progress lines of labUp on stderr (prefixed like node:test diagnostics), the waiting ones left out. */
export function progressToStderr(p: LabProgress): void {
  if (p.stage !== 'waiting')
    process.stderr.write(`# lab [${(p.elapsedMs / 1000).toFixed(1)} s] ${p.message}\n`);
}

/** Waits and convergence checks against the lab `L()` returns (it throws while there is none). */
export function labWaits(L: () => Lab) {
  /** Waits until the node's kernel and FRR match the render of its manifests; returns the state. */
  async function converge(
    node: string,
    timeoutMs = 120_000,
    opts: { valid?: boolean } = {},
  ): Promise<NodeState> {
    const n = findNode(L().topology, node);
    const want = expectedFor(n, await L().manifests(node));
    if (opts.valid !== false) assert.deepEqual(want.problems, [], 'the test manifests should be valid');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await readNodeState(L(), node);
      const problems = [
        ...kernelDifferences(want.plan, state),
        ...frrDifferences(want.frr, state.runningConfig).map((l) => `frr: ${l}`),
      ];
      if (problems.length === 0) return state;
      if (Date.now() > deadline) {
        assert.fail(
          `${node} did not converge to its manifests within ${timeoutMs} ms:\n  ${problems.join('\n  ')}\n${await L().logs(15)}`,
        );
      }
      await sleep(1000);
    }
  }

  async function reconciled(
    node: string,
    since: number,
    until?: (e: AgentLogEntry) => boolean,
  ): Promise<AgentLogEntry> {
    return L().waitReconciled(node, since, { timeoutMs: 120_000, ...(until ? { until } : {}) });
  }

  async function waitAll(what: string, timeoutMs = 150_000): Promise<LabStatus> {
    const st = await L().waitConverged({ timeoutMs });
    assert.ok(st.ok, `${what}: the lab did not converge again:\n${failing(st.checks, () => true)}`);
    return st;
  }

  return { converge, reconciled, waitAll };
}
