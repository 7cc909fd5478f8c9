// RenderMemo: the agent's memory of its last render. Same inputs → the same render without resolving
// again; any input that differs (objects, node facts, options, a Secret password) → a fresh render equal
// to what renderNode computes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadText, toSnapshot } from '../src/api/load.js';
import { RenderMemo, renderNode } from '../src/node/render-memo.js';

const facts = { name: 'worker-1', index: 1, labels: {} };
const manifests = (vni: number) => `apiVersion: network.openperouter.io/v1alpha1
kind: Underlay
metadata: {name: underlay, namespace: ns}
spec:
  asn: 64514
  interfaces: [{type: NetworkDevice, networkDevice: {interfaceName: toswitch}}]
  neighbors: [{asn: 64512, address: 192.168.11.2, passwordSecret: tor-password}]
  tunnelEndpoint: {cidrs: [100.65.0.0/24]}
---
apiVersion: network.openperouter.io/v1alpha1
kind: L3VNI
metadata: {name: red, namespace: ns}
spec: {vrf: red, vni: ${vni}}
`;
const snapshot = (vni: number) => {
  const r = loadText(manifests(vni), 'inline.yaml');
  assert.deepEqual(r.issues, []);
  return toSnapshot(r.objects);
};

describe('RenderMemo', () => {
  test('the same inputs are rendered once; equal inputs built anew still hit', () => {
    const memo = new RenderMemo();
    const secrets = new Map([['ns/tor-password', 's3cret']]);
    const opts = { secretPassword: (ns: string | undefined, name: string) => secrets.get(`${ns}/${name}`) };
    const first = memo.render(snapshot(100), facts, opts);
    assert.equal(memo.hits, 0);
    assert.match(first.frr ?? '', /neighbor 192\.168\.11\.2 password s3cret/);
    const again = memo.render(snapshot(100), { ...facts }, opts);
    assert.equal(memo.hits, 1);
    assert.equal(again, first, 'the remembered render itself');
    assert.deepEqual(first, renderNode(snapshot(100), facts, opts));
  });

  test('a changed object, node fact, option or Secret password renders again', () => {
    const memo = new RenderMemo();
    const secrets = new Map([['ns/tor-password', 's3cret']]);
    const opts = { secretPassword: (ns: string | undefined, name: string) => secrets.get(`${ns}/${name}`) };
    memo.render(snapshot(100), facts, opts);
    const vni = memo.render(snapshot(200), facts, opts);
    assert.match(vni.frr ?? '', /vni 200/);
    const index = memo.render(snapshot(200), { ...facts, index: 2 }, opts);
    assert.notDeepEqual(index.kernel?.loopbackAddresses, vni.kernel?.loopbackAddresses);
    const ns = memo.render(snapshot(200), { ...facts, index: 2 }, { ...opts, operatorNamespace: 'other' });
    assert.equal(memo.hits, 0);
    secrets.set('ns/tor-password', 'rotated');
    const rotated = memo.render(
      snapshot(200),
      { ...facts, index: 2 },
      { ...opts, operatorNamespace: 'other' },
    );
    assert.equal(memo.hits, 0, 'a new password is a new input');
    assert.match(rotated.frr ?? '', /password rotated/);
    assert.doesNotMatch(ns.frr ?? '', /password rotated/);
  });
});
