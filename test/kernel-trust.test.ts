// The kernel applier's trust window (createKernelApplier({ trustVerifiedMs })), on real network
// namespaces: an unchanged plan within the window reads and writes nothing; a changed plan, or the first
// pass after the window, reads — and repairs what was changed behind the agent's back.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKernelApplier } from '../src/kernel/apply.js';
import type { KernelPlan, VethLink } from '../src/kernel/model.js';
import { gate, hasIproute2, isRoot } from './support/prereq.js';

const HOST = `oprt-${process.pid}-host`;
const ROUTER = `oprt-${process.pid}-router`;

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const hasLink = (ns: string, name: string) =>
  (JSON.parse(ip('-n', ns, '-json', 'link', 'show')) as { ifname: string }[]).some((l) => l.ifname === name);

function plan(vethNames: string[]): KernelPlan {
  const pair = (name: string): [VethLink, VethLink] => [
    {
      type: 'veth',
      name: `${name}-r`,
      mtu: 1500,
      addresses: ['192.0.2.1/30'],
      peer: { name: `${name}-h`, namespace: 'host' },
    },
    {
      type: 'veth',
      name: `${name}-h`,
      mtu: 1500,
      addresses: [],
      peer: { name: `${name}-r`, namespace: 'router' },
    },
  ];
  const pairs = vethNames.map(pair);
  return {
    routerNamespace: ROUTER,
    routerSysctls: {},
    underlayInterfaces: [],
    loopbackAddresses: ['100.65.0.9/32'],
    routerLinks: pairs.map((p) => p[0]),
    hostLinks: pairs.map((p) => p[1]),
    externalBridgePorts: [],
  };
}

describe('kernel applier trust window', gate(isRoot, hasIproute2), () => {
  before(() => {
    ip('netns', 'add', HOST);
    ip('-n', HOST, 'link', 'set', 'lo', 'up');
  });
  after(() => {
    for (const ns of [ROUTER, HOST]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  });

  test('an unchanged plan inside the window reads nothing; a changed one reads and converges', async () => {
    const applier = createKernelApplier({ hostNamespace: HOST, trustVerifiedMs: 60_000 });
    const first = await applier.apply(plan(['a']));
    assert.ok(first.operations > 0);
    assert.ok(first.processes.readers > 0);
    const again = await applier.apply(plan(['a']));
    assert.equal(again.trusted, true);
    assert.equal(again.operations, 0);
    assert.equal(again.processes.readers + again.processes.writers, 0, 'no process at all');
    const changed = await applier.apply(plan(['a', 'b']));
    assert.equal(changed.trusted, undefined);
    assert.ok(changed.operations > 0);
    assert.ok(hasLink(HOST, 'b-h'));
  });

  test('drift inside the window waits for the window; the first pass after it repairs', async () => {
    const applier = createKernelApplier({ hostNamespace: HOST, trustVerifiedMs: 300 });
    const p = plan(['a', 'b']);
    assert.equal(
      (await applier.apply(p)).operations,
      0,
      'the state is already the plan: verified by reading',
    );
    ip('-n', HOST, 'link', 'del', 'b-h'); // behind the agent's back (takes b-r in the router namespace along)
    assert.equal((await applier.apply(p)).trusted, true);
    assert.equal(hasLink(HOST, 'b-h'), false);
    await sleep(350);
    const repaired = await applier.apply(p);
    assert.equal(repaired.trusted, undefined);
    assert.ok(repaired.operations > 0);
    assert.ok(hasLink(HOST, 'b-h') && hasLink(ROUTER, 'b-r'));
  });

  test('without a window (the default) every pass reads', async () => {
    const applier = createKernelApplier({ hostNamespace: HOST });
    await applier.apply(plan(['a', 'b']));
    const r = await applier.apply(plan(['a', 'b']));
    assert.equal(r.trusted, undefined);
    assert.ok(r.processes.readers > 0);
  });
});
