// The reconciler's ordering, failure handling and status, with recording appliers standing in for
// the real FRR and kernel appliers (those are tested against real FRR and real namespaces elsewhere).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadText, toSnapshot } from '../src/api/load.js';
import type { KernelPlan } from '../src/kernel/model.js';
import {
  type FrrApplier,
  type KernelApplier,
  ReconcileLoop,
  type ReconcileReport,
  reconcileOnce,
} from '../src/node/reconciler.js';
import { nodeStatus } from '../src/node/status.js';

const facts = { name: 'worker-1', index: 1, labels: { 'kubernetes.io/hostname': 'worker-1' } };
const underlay = `apiVersion: network.openperouter.io/v1alpha1
kind: Underlay
metadata: {name: underlay, namespace: ns}
spec:
  asn: 64514
  interfaces: [{type: NetworkDevice, networkDevice: {interfaceName: toswitch}}]
  neighbors: [{asn: 64512, address: 192.168.11.2}]
  tunnelEndpoint: {cidrs: [100.65.0.0/24]}
`;
const l3vni = (name: string, vni: number) => `---
apiVersion: network.openperouter.io/v1alpha1
kind: L3VNI
metadata: {name: ${name}, namespace: ns}
spec: {vrf: ${name}, vni: ${vni}}
`;
const snapshot = (text: string) => {
  const r = loadText(text, 'inline.yaml');
  assert.deepEqual(r.issues, []);
  return toSnapshot(r.objects);
};

class RecordingAppliers {
  calls: string[] = [];
  frrFails = false;
  kernelFails = false;
  frr: FrrApplier = {
    apply: async (config) => {
      this.calls.push(`frr:${config.match(/^router bgp \d+ vrf \S+$/gm)?.join(',') ?? ''}`);
      if (this.frrFails) throw new Error('line 12: % Unknown command');
      return { applied: true };
    },
  };
  kernel: KernelApplier = {
    apply: async (plan: KernelPlan) => {
      this.calls.push(`kernel:${plan.routerLinks.map((l) => l.name).join(',')}`);
      if (this.kernelFails) throw new Error('RTNETLINK answers: File exists');
      return { operations: plan.routerLinks.length };
    },
  };
}

describe('reconcileOnce', () => {
  test('applies FRR first, then the kernel', async () => {
    const a = new RecordingAppliers();
    const r = await reconcileOnce(
      { snapshot: snapshot(underlay + l3vni('red', 100)), facts },
      a.frr,
      a.kernel,
    );
    assert.equal(r.outcome.kind, 'applied');
    assert.deepEqual(a.calls, ['frr:router bgp 64514 vrf red', 'kernel:red,br-pe-100,vni100']);
    assert.equal(r.kernelOperations, 3);
  });

  test("an FRR failure leaves the kernel untouched and is reported with FRR's message", async () => {
    const a = new RecordingAppliers();
    a.frrFails = true;
    const r = await reconcileOnce({ snapshot: snapshot(underlay), facts }, a.frr, a.kernel);
    assert.deepEqual(a.calls, ['frr:']);
    assert.equal(r.outcome.kind, 'error');
    assert.match(
      r.outcome.kind === 'error' ? r.outcome.message : '',
      /FRR configuration failed: line 12: % Unknown command/,
    );
  });

  test('an invalid Underlay applies nothing at all', async () => {
    const a = new RecordingAppliers();
    const two = underlay + underlay.replace('name: underlay', 'name: underlay-2').replace(/^/, '---\n');
    const r = await reconcileOnce({ snapshot: snapshot(two), facts }, a.frr, a.kernel);
    assert.deepEqual(a.calls, []);
    assert.equal(r.outcome.kind, 'underlayFailed');
    const status = nodeStatus(r.outcome, undefined, new Date('2026-01-01T00:00:00Z'));
    assert.deepEqual(
      status.conditions?.map((c) => [c.type, c.status, c.reason]),
      [
        ['Ready', 'False', 'UnderlayFailed'],
        ['Degraded', 'True', 'UnderlayFailed'],
      ],
    );
    assert.deepEqual(
      status.failedResources?.map((f) => [f.kind, f.name, f.reason]),
      [
        ['Underlay', 'underlay', 'ValidationFailed'],
        ['Underlay', 'underlay-2', 'ValidationFailed'],
      ],
    );
  });

  test('a skipped object is reported and the rest is applied', async () => {
    const a = new RecordingAppliers();
    const r = await reconcileOnce(
      { snapshot: snapshot(underlay + l3vni('red', 100) + l3vni('blue', 100)), facts },
      a.frr,
      a.kernel,
    );
    assert.equal(r.outcome.kind, 'applied');
    // namespace/name order: ns/blue comes first and wins VNI 100.
    assert.deepEqual(a.calls, ['frr:router bgp 64514 vrf blue', 'kernel:blue,br-pe-100,vni100']);
    const status = nodeStatus(r.outcome, undefined);
    assert.equal(status.conditions?.[0]?.reason, 'ConfigurationFailed');
    assert.deepEqual(status.failedResources, [
      { kind: 'L3VNI', name: 'red', reason: 'ValidationFailed', message: 'duplicate vni 100:L3VNI/blue' },
    ]);
  });
});

describe('nodeStatus', () => {
  test('lastTransitionTime moves only when a condition flips', () => {
    const t1 = new Date('2026-01-01T00:00:00Z');
    const t2 = new Date('2026-01-01T01:00:00Z');
    const ok = nodeStatus({ kind: 'applied', failures: [] }, undefined, t1);
    assert.equal(ok.conditions?.[0]?.message, 'All configuration applied successfully');
    const again = nodeStatus({ kind: 'applied', failures: [] }, ok, t2);
    assert.equal(again.conditions?.[0]?.lastTransitionTime, '2026-01-01T00:00:00Z');
    const broken = nodeStatus({ kind: 'error', message: 'boom', failures: [] }, again, t2);
    assert.deepEqual(
      broken.conditions?.map((c) => [c.type, c.status, c.message, c.lastTransitionTime]),
      [
        ['Ready', 'False', 'boom', '2026-01-01T01:00:00Z'],
        ['Degraded', 'True', 'boom', '2026-01-01T01:00:00Z'],
      ],
    );
  });
});

describe('ReconcileLoop', () => {
  const report = (kind: 'applied' | 'error'): ReconcileReport => ({
    outcome: kind === 'applied' ? { kind, failures: [] } : { kind, message: 'x', failures: [] },
    frrApplied: false,
    kernelOperations: 0,
    durationMs: 0,
  });

  test('coalesces a burst of triggers into one pass and never overlaps passes', async () => {
    let passes = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const loop = new ReconcileLoop(
      async () => {
        passes++;
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await new Promise((r) => setTimeout(r, 30));
        concurrent--;
        return report('applied');
      },
      () => {},
      { debounceMs: 20, resyncMs: 0 },
    );
    for (let i = 0; i < 10; i++) loop.trigger();
    await new Promise((r) => setTimeout(r, 25));
    loop.trigger(); // arrives during the pass: exactly one more pass afterwards
    await loop.idle();
    await loop.stop();
    assert.equal(passes, 2);
    assert.equal(maxConcurrent, 1);
  });

  test('retries a failed pass with backoff until it succeeds', async () => {
    const outcomes = ['error', 'error', 'applied'] as const;
    const seen: string[] = [];
    let i = 0;
    const loop = new ReconcileLoop(
      async () => report(outcomes[Math.min(i++, 2)]!),
      (r) => {
        seen.push(r.outcome.kind);
      },
      { debounceMs: 1, resyncMs: 0, backoffInitialMs: 5, backoffMaxMs: 20 },
    );
    loop.trigger();
    const deadline = Date.now() + 2000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await loop.stop();
    assert.deepEqual(seen, ['error', 'error', 'applied']);
  });
});
