// Static mode's inputs: the manifest directory (last good versions) and the node file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseNodeFile } from '../src/sources/node-file.js';
import { StaticManifestDir } from '../src/sources/static-dir.js';

const dir = mkdtempSync(join(tmpdir(), 'opr-static-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const l3vni = (vni: number | string) => `apiVersion: network.openperouter.io/v1alpha1
kind: L3VNI
metadata: {name: red, namespace: ns}
spec: {vrf: red, vni: ${vni}}
`;

describe('StaticManifestDir', () => {
  test('reads standard manifests; an object turned invalid keeps its last good version', () => {
    const src = new StaticManifestDir(dir);
    writeFileSync(join(dir, 'red.yaml'), l3vni(100));
    writeFileSync(join(dir, 'notes.txt'), 'ignored: not a manifest');
    let r = src.read();
    assert.deepEqual(r.issues, []);
    assert.deepEqual(
      r.snapshot.l3vnis.map((v) => v.spec.vni),
      [100],
    );

    writeFileSync(join(dir, 'red.yaml'), l3vni(0));
    r = src.read();
    assert.deepEqual(
      r.snapshot.l3vnis.map((v) => v.spec.vni),
      [100],
    );
    assert.equal(r.issues.length, 1);
    assert.match(r.issues[0]!.message, /must be greater than or equal to 1; keeping its last good version$/);

    writeFileSync(join(dir, 'red.yaml'), 'kind: [unclosed');
    r = src.read();
    assert.deepEqual(
      r.snapshot.l3vnis.map((v) => v.spec.vni),
      [100],
    );
    assert.match(r.issues[0]!.message, /keeping the 1 object\(s\) this file had$/);

    writeFileSync(join(dir, 'red.yaml'), l3vni(200));
    r = src.read();
    assert.deepEqual(r.issues, []);
    assert.deepEqual(
      r.snapshot.l3vnis.map((v) => v.spec.vni),
      [200],
    );

    unlinkSync(join(dir, 'red.yaml'));
    r = src.read();
    assert.deepEqual(r.snapshot.l3vnis, [], 'a deleted file removes its objects');
  });

  test('a never-valid object is skipped and reported; duplicates across files are reported', () => {
    const src = new StaticManifestDir(dir);
    writeFileSync(join(dir, 'a.yaml'), l3vni(100));
    writeFileSync(join(dir, 'b.yaml'), `${l3vni(300)}---\n${l3vni('x').replace('name: red', 'name: bad')}`);
    const r = src.read();
    assert.deepEqual(
      r.snapshot.l3vnis.map((v) => v.spec.vni),
      [100],
    );
    assert.deepEqual(
      r.issues.map((i) => `${i.kind} ${i.name}: ${i.message}`.replace(/Invalid value.*$/, 'Invalid value')),
      [
        'L3VNI bad: Invalid value',
        `L3VNI red: defined twice (again in ${join(dir, 'b.yaml')}); the first definition is used`,
      ],
    );
    unlinkSync(join(dir, 'a.yaml'));
    unlinkSync(join(dir, 'b.yaml'));
  });
});

describe('node file', () => {
  const noAddrs = () => [];
  test('name, index, labels and log level', () => {
    const n = parseNodeFile(
      'nodeName: w1\nnodeIndex: {index: 3}\nlabels: {rack: r1}\nlogLevel: debug\n',
      'node.yaml',
      noAddrs,
    );
    assert.deepEqual(n, {
      name: 'w1',
      index: 3,
      labels: { 'kubernetes.io/hostname': 'w1', rack: 'r1' },
      logLevel: 'debugging',
    });
  });

  test('index from the host part of an interface address inside a CIDR', () => {
    const addrs = () => ['10.0.0.9', '192.168.122.17', '2001:db8::5'];
    const n = parseNodeFile(
      'nodeName: w1\nnodeIndex: {interfaceName: eth0, cidr: 192.168.122.0/24}\n',
      'node.yaml',
      addrs,
    );
    assert.equal(n.index, 17);
    const v6 = parseNodeFile(
      'nodeName: w1\nnodeIndex: {interfaceName: eth0, cidr: "2001:db8::/64"}\n',
      'node.yaml',
      addrs,
    );
    assert.equal(v6.index, 5);
  });

  test("upstream's errors", () => {
    assert.throws(
      () => parseNodeFile('nodeIndex: {index: 2, interfaceName: eth0}\n', 'n.yaml', noAddrs),
      /index and interfaceName are mutually exclusive, got index 2 and interface "eth0"/,
    );
    assert.throws(
      () => parseNodeFile('nodeIndex: {cidr: 10.0.0.0/8}\n', 'n.yaml', noAddrs),
      /cidr "10.0.0.0\/8" requires interfaceName to be set/,
    );
    assert.throws(
      () => parseNodeFile('nodeIndex: {interfaceName: eth0}\n', 'n.yaml', noAddrs),
      /eth0 has no address/,
    );
    assert.throws(
      () => parseNodeFile('nodeName: x\n', 'n.yaml', noAddrs),
      /nodeIndex: set index, or interfaceName/,
    );
    assert.throws(
      () => parseNodeFile('nodeIndex: {index: 1}\nlogLevel: loud\n', 'n.yaml', noAddrs),
      /logLevel "loud"/,
    );
  });
});

describe('StaticManifestDir saved state', () => {
  test('a new process restored from the saved state keeps the last good version of a broken object', () => {
    const d = mkdtempSync(join(tmpdir(), 'opr-static-state-'));
    try {
      writeFileSync(join(d, 'red.yaml'), l3vni(100));
      writeFileSync(join(d, 'blue.yaml'), l3vni(200).replaceAll('red', 'blue'));
      const first = new StaticManifestDir(d);
      first.read();
      const saved = JSON.parse(JSON.stringify(first.saveState())) as unknown;

      // The next process starts while red.yaml has an invalid object and blue.yaml does not parse.
      writeFileSync(join(d, 'red.yaml'), l3vni(0));
      writeFileSync(join(d, 'blue.yaml'), 'kind: [unclosed');
      const fresh = new StaticManifestDir(d);
      assert.deepEqual(fresh.read().snapshot.l3vnis, [], 'without the state both are lost');
      const second = new StaticManifestDir(d);
      assert.deepEqual(second.restoreState(saved), []);
      const r = second.read();
      assert.deepEqual(r.snapshot.l3vnis.map((v) => `${v.metadata.name}=${v.spec.vni}`).sort(), [
        'blue=200',
        'red=100',
      ]);
      assert.match(r.issues.find((i) => i.name === 'red')?.message ?? '', /keeping its last good version$/);

      // A deleted file takes its objects along, saved or not.
      unlinkSync(join(d, 'blue.yaml'));
      assert.deepEqual(
        second.read().snapshot.l3vnis.map((v) => v.metadata.name),
        ['red'],
      );
      assert.deepEqual(Object.keys(second.saveState().files), [join(d, 'red.yaml')]);

      // A state of another directory, or garbage, is ignored.
      assert.match(new StaticManifestDir(dir).restoreState(saved)[0] ?? '', /saved for another directory/);
      assert.match(new StaticManifestDir(d).restoreState({ x: 1 })[0] ?? '', /not a saved static-mode state/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
