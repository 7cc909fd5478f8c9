// The offline CLI as a user runs it: ./bin/openperouter with files and directories.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './support/scenarios.js';

const bin = join(repoRoot, 'bin', 'openperouter');
function run(...args: string[]) {
  const r = spawnSync(bin, args, { encoding: 'utf8', cwd: repoRoot });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const work = mkdtempSync(join(tmpdir(), 'opr-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

const bad = `apiVersion: network.openperouter.io/v1alpha1
kind: L2VNI
metadata: {name: orphan-gw, namespace: ns1}
spec:
  vni: 4000
  gatewayIPs: [10.40.0.1/24]
---
apiVersion: network.openperouter.io/v1alpha1
kind: Underlay
metadata: {name: u, namespace: ns1}
spec:
  asn: 0
  nics: [eth0]
  interfaces: [{type: NetworkDevice, networkDevice: {interfaceName: eth0}}]
  neighbors: [{asn: 64512, type: External, address: 192.168.11.2}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: stray}
`;

describe('openperouter validate', () => {
  test('a valid directory: exit 0 and a count', () => {
    const r = run('validate', '-f', 'examples/demo');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /5 objects valid/);
  });

  test('every problem of every document is listed, with object, field and reason; exit 1', () => {
    const file = join(work, 'bad.yaml');
    writeFileSync(file, bad);
    const r = run('validate', '-f', file);
    assert.equal(r.code, 1);
    const lines = r.stdout.trim().split('\n');
    assert.ok(
      lines.includes(
        `L2VNI ns1/orphan-gw (${file}, document 1): spec: gatewayIPs cannot be set without routingDomain`,
      ),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => l.startsWith('Underlay ns1/u') && l.includes('spec.nics: unknown field')),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => l.startsWith('Underlay ns1/u') && l.includes('spec.asn: Invalid value: 0')),
      r.stdout,
    );
    assert.ok(
      lines.some(
        (l) =>
          l.startsWith('ConfigMap stray') && l.includes('no matches for kind "ConfigMap" in version "v1"'),
      ),
      r.stdout,
    );
    assert.match(lines.at(-1)!, /^4 problems found$/);
  });

  test('cross-object rules run for the Node objects given with the manifests (X6)', () => {
    const file = join(work, 'x6.yaml');
    writeFileSync(
      file,
      `${readFileSync(join(repoRoot, 'examples/demo/fabric.yaml'), 'utf8')}
---
apiVersion: network.openperouter.io/v1alpha1
kind: Underlay
metadata: {name: underlay-rack-1, namespace: openperouter-system}
spec:
  nodeSelector: {matchLabels: {topology.kubernetes.io/rack: rack-1}}
  asn: 64514
  interfaces: [{type: NetworkDevice, networkDevice: {interfaceName: eth1}}]
  neighbors: [{asn: 64501, address: 192.168.1.254}]
---
apiVersion: v1
kind: Node
metadata: {name: w1, labels: {topology.kubernetes.io/rack: rack-1}}
---
apiVersion: v1
kind: Node
metadata: {name: w2, labels: {topology.kubernetes.io/rack: rack-2}}
`,
    );
    const r = run('validate', '-f', file);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /Underlay openperouter-system\/underlay-rack-1: on node w1: ValidationFailed: can't have more than one underlay per node/,
    );
    assert.doesNotMatch(r.stdout, /on node w2/);
  });
});

describe('openperouter render', () => {
  const scenario = join('test', 'scenarios', 'composite.yaml');
  test('frr: the golden configuration on stdout', () => {
    const r = run('render', 'frr', '-f', scenario, '--node-name', 'worker-1', '--node-index', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, readFileSync(join(repoRoot, 'test/golden/frr/composite.conf'), 'utf8'));
  });

  test('kernel: the golden plan as JSON', () => {
    const r = run('render', 'kernel', '-f', scenario, '--node-name', 'worker-1', '--node-index', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      JSON.parse(r.stdout),
      JSON.parse(readFileSync(join(repoRoot, 'test/golden/kernel/composite.json'), 'utf8')),
    );
  });

  test('node labels select objects; skipped objects are named on stderr with exit 2', () => {
    const file = join(work, 'dup.yaml');
    const dup = `${readFileSync(join(repoRoot, 'examples/demo/fabric.yaml'), 'utf8')}
---
apiVersion: network.openperouter.io/v1alpha1
kind: L3VNI
metadata: {name: red-copy, namespace: openperouter-system}
spec: {vrf: other, vni: 100, nodeSelector: {matchLabels: {zone: a}}}
`;
    writeFileSync(file, dup);
    const plain = run('render', 'frr', '-f', file, '--node-name', 'n', '--node-index', '0');
    assert.equal(plain.code, 0, plain.stderr);
    const zoned = run(
      'render',
      'frr',
      '-f',
      file,
      '--node-name',
      'n',
      '--node-index',
      '0',
      '--node-label',
      'zone=a',
    );
    assert.equal(zoned.code, 2);
    assert.match(
      zoned.stderr,
      /L3VNI openperouter-system\/red-copy: on node n: ValidationFailed: duplicate vni 100:L3VNI\/red/,
    );
    assert.doesNotMatch(zoned.stdout, /vrf other/);
    assert.match(zoned.stdout, /^router bgp 64514 vrf red$/m);
  });

  test('missing node flags are an error', () => {
    const r = run('render', 'frr', '-f', scenario);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--node-name/);
  });
});

test('openperouter crds prints one CRD per kind', () => {
  const r = run('crds');
  assert.equal(r.code, 0, r.stderr);
  const kinds = parseAllDocuments(r.stdout).map(
    (d) => (d.toJS() as { spec: { names: { kind: string } } }).spec.names.kind,
  );
  assert.deepEqual(kinds.sort(), [
    'L2VNI',
    'L3Passthrough',
    'L3VNI',
    'L3VPN',
    'RawFRRConfig',
    'RouterNodeConfigurationStatus',
    'Underlay',
  ]);
});
