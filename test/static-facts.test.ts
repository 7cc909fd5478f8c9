// Static mode's per-pass node facts (underlay MTU, hostname) and the status of input problems.
// The lookup against real namespaces runs when root; the pure parts always.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { after, describe, test } from 'node:test';
import type { ValidationIssue } from '../src/api/issues.js';
import { loadText, toSnapshot } from '../src/api/load.js';
import {
  lookupUnderlayMtu,
  nodeFactsForPass,
  smallestUnderlayMtu,
  underlayInterfaceNames,
} from '../src/node/facts.js';
import { reconcileOnce } from '../src/node/reconciler.js';
import { issueAsFailedResource, nodeStatus } from '../src/node/status.js';
import { gate, hasIproute2, isRoot } from './support/prereq.js';

const underlay = (name: string, nics: string[], selector = '') => `---
apiVersion: network.openperouter.io/v1alpha1
kind: Underlay
metadata: {name: ${name}, namespace: ns}
spec:
  asn: 64514
${selector}  interfaces: [${nics.map((n) => `{type: NetworkDevice, networkDevice: {interfaceName: ${n}}}`).join(', ')}]
  neighbors: [{asn: 64512, address: 192.168.11.2}]
`;
const snapshot = (text: string) => {
  const r = loadText(text, 'inline.yaml');
  assert.deepEqual(r.issues, []);
  return toSnapshot(r.objects);
};
const facts = { name: 'worker-1', index: 1, labels: { 'kubernetes.io/hostname': 'worker-1', rack: 'r1' } };

describe('underlay MTU (pure part)', () => {
  test('the NICs of the Underlays that select this node', () => {
    const s = snapshot(
      underlay('a', ['eth1', 'eth0']) +
        underlay('b', ['eth9'], '  nodeSelector: {matchLabels: {rack: r2}}\n') +
        underlay('c', ['eth0', 'eth2'], '  nodeSelector: {matchLabels: {rack: r1}}\n'),
    );
    assert.deepEqual(underlayInterfaceNames(s, facts.labels), ['eth0', 'eth1', 'eth2']);
  });

  test('smallest MTU, router namespace first, missing NICs left out', () => {
    const r = smallestUnderlayMtu(
      ['eth0', 'eth1', 'eth2'],
      [
        { ifname: 'eth0', mtu: 1500 },
        { ifname: 'eth1', mtu: 9000 },
      ],
      [{ ifname: 'eth0', mtu: 9100 }],
    );
    assert.deepEqual(r, {
      mtu: 9000,
      found: [
        { name: 'eth0', namespace: 'router', mtu: 9100 },
        { name: 'eth1', namespace: 'host', mtu: 9000 },
      ],
      missing: ['eth2'],
    });
  });

  test('unset, with the reason, when no NIC is found or no Underlay names one', () => {
    const none = smallestUnderlayMtu(['eth0'], [{ ifname: 'lo', mtu: 65536 }], []);
    assert.equal(none.mtu, undefined);
    assert.match(
      none.reason ?? '',
      /underlay interface\(s\) eth0 found neither in the host nor in the router namespace/,
    );
    assert.match(
      smallestUnderlayMtu([], [], []).reason ?? '',
      /no Underlay with a network device selects this node/,
    );
  });
});

describe('underlay MTU from real namespaces', gate(isRoot, hasIproute2), () => {
  const tag = randomBytes(3).toString('hex');
  const host = `oprf-host-${tag}`;
  const router = `oprf-router-${tag}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  after(() => {
    for (const ns of [host, router]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // never created
      }
    }
  });

  test('reads the NIC where it is: host namespace, then router namespace; unset while missing', async () => {
    ip('netns', 'add', host);
    const s = snapshot(underlay('u', ['uplink0', 'uplink1']));
    const opts = { hostNamespace: host, routerNamespace: router };
    // No router namespace yet, no NIC yet.
    const missing = await lookupUnderlayMtu(s, facts.labels, opts);
    assert.equal(missing.mtu, undefined);
    assert.deepEqual(missing.missing, ['uplink0', 'uplink1']);
    const f0 = await nodeFactsForPass(facts, s, opts);
    assert.equal('underlayMtu' in f0.facts, false, 'left unset: the renderer assumes 1500');

    ip(
      '-n',
      host,
      'link',
      'add',
      'uplink0',
      'mtu',
      '9000',
      'type',
      'veth',
      'peer',
      'name',
      'peer0',
      'mtu',
      '9000',
    );
    ip('-n', host, 'link', 'add', 'uplink1', 'mtu', '4000', 'type', 'veth', 'peer', 'name', 'peer1');
    const inHost = await lookupUnderlayMtu(s, facts.labels, opts);
    assert.equal(inHost.mtu, 4000);
    assert.deepEqual(
      inHost.found.map((f) => `${f.name}@${f.namespace}=${f.mtu}`),
      ['uplink0@host=9000', 'uplink1@host=4000'],
    );

    ip('netns', 'add', router);
    ip('-n', host, 'link', 'set', 'uplink1', 'netns', router);
    const moved = await nodeFactsForPass(facts, s, opts);
    assert.equal(moved.facts.underlayMtu, 4000, 'a move keeps the MTU');
    assert.deepEqual(
      moved.underlay.found.map((f) => `${f.name}@${f.namespace}`),
      ['uplink0@host', 'uplink1@router'],
    );
  });
});

describe('node facts of a pass', () => {
  test('the hostname FRR reports is the system hostname unless the facts say otherwise', async () => {
    const s = snapshot('');
    const opts = { routerNamespace: `oprf-none-${randomBytes(3).toString('hex')}` };
    assert.equal((await nodeFactsForPass(facts, s, opts)).facts.hostname, hostname());
    assert.equal(
      (await nodeFactsForPass({ ...facts, hostname: 'frr-host' }, s, opts)).facts.hostname,
      'frr-host',
    );
    const flag = await nodeFactsForPass(facts, s, { ...opts, systemHostname: 'reloader-uts' });
    assert.equal(flag.facts.hostname, 'reloader-uts', '--frr-hostname');
  });
});

describe('status of input problems', () => {
  const issue: ValidationIssue = {
    kind: 'L2VNI',
    namespace: 'ns',
    name: 'east-west',
    field: 'spec.vni',
    message: 'Invalid value: 0: must be greater than or equal to 1; keeping its last good version',
    source: { file: '/etc/openperouter/configs/l2.yaml', document: 1 },
  };

  test('an object that did not validate is a failed resource naming field, reason and file', () => {
    assert.deepEqual(issueAsFailedResource(issue), {
      kind: 'L2VNI',
      name: 'east-west',
      reason: 'ValidationFailed',
      message:
        'spec.vni: Invalid value: 0: must be greater than or equal to 1; keeping its last good version (/etc/openperouter/configs/l2.yaml, document 2)',
    });
    assert.equal(issueAsFailedResource({ ...issue, kind: '(file)' }), undefined);
  });

  test('input problems make the node not Ready even when everything else applied', async () => {
    const noop = { apply: async () => ({ applied: false, operations: 0 }) };
    const r = await reconcileOnce(
      { snapshot: snapshot(underlay('u', ['eth0'])), facts, inputIssues: [issue] },
      noop,
      noop,
    );
    assert.equal(r.outcome.kind, 'applied');
    const s = nodeStatus(r.outcome, undefined, new Date('2026-01-01T00:00:00Z'), r.inputIssues);
    assert.deepEqual(
      s.conditions?.map((c) => [c.type, c.status, c.reason]),
      [
        ['Ready', 'False', 'ConfigurationFailed'],
        ['Degraded', 'True', 'ConfigurationFailed'],
      ],
    );
    assert.deepEqual(
      s.failedResources?.map((f) => [f.kind, f.name, f.reason]),
      [['L2VNI', 'east-west', 'ValidationFailed']],
    );

    const broken: ValidationIssue = {
      kind: '(file)',
      name: '/etc/openperouter/configs/x.yaml',
      field: '',
      message: 'YAML: bad indentation; keeping the 2 object(s) this file had',
    };
    const s2 = nodeStatus({ kind: 'applied', failures: [] }, s, new Date('2026-01-01T00:01:00Z'), [broken]);
    assert.deepEqual(s2.failedResources, []);
    assert.equal(s2.conditions?.[0]?.status, 'False');
    assert.match(
      s2.conditions?.[0]?.message ?? '',
      /^Some input could not be read; input problems: \(file\) .*x\.yaml: YAML: bad indentation/,
    );
    assert.equal(
      s2.conditions?.[0]?.lastTransitionTime,
      '2026-01-01T00:00:00Z',
      'still not Ready: no transition',
    );
  });
});
