import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIssue } from '../src/api/issues.js';
import { API_VERSION } from '../src/api/kinds.js';
import { type LabelSelector, selectorMatches, selectorProblems } from '../src/api/label-selector.js';
import { selectForNode } from '../src/api/node-rules.js';
import { emptySnapshot } from '../src/api/types.js';
import { validateObject } from '../src/api/validate-object.js';

const RACK1 = { 'topology.kubernetes.io/rack': 'rack-1', 'kubernetes.io/hostname': 'worker-1' };
const RACK2_STORAGE = {
  'topology.kubernetes.io/rack': 'rack-2',
  'kubernetes.io/hostname': 'worker-2',
  'example.com/storage': 'true',
};
const CONTROL_PLANE = {
  'topology.kubernetes.io/rack': 'rack-1',
  'kubernetes.io/hostname': 'cp',
  'node-role.kubernetes.io/control-plane': '',
};
const NODES = { worker1: RACK1, worker2: RACK2_STORAGE, cp: CONTROL_PLANE, bare: {} };

/** Names of the nodes of NODES that the selector matches. */
function matching(sel: LabelSelector | undefined): string[] {
  return Object.entries(NODES)
    .filter(([, labels]) => selectorMatches(sel, labels))
    .map(([name]) => name);
}

describe('selectorMatches', () => {
  const cases: [string, LabelSelector | undefined, string[]][] = [
    ['absent selector matches every node', undefined, ['worker1', 'worker2', 'cp', 'bare']],
    ['empty selector {} matches every node', {}, ['worker1', 'worker2', 'cp', 'bare']],
    [
      'empty lists match every node',
      { matchLabels: {}, matchExpressions: [] },
      ['worker1', 'worker2', 'cp', 'bare'],
    ],
    [
      'matchLabels: one label',
      { matchLabels: { 'topology.kubernetes.io/rack': 'rack-1' } },
      ['worker1', 'cp'],
    ],
    [
      'matchLabels: every label must match (AND)',
      { matchLabels: { 'topology.kubernetes.io/rack': 'rack-1', 'kubernetes.io/hostname': 'cp' } },
      ['cp'],
    ],
    ['matchLabels: value compared exactly', { matchLabels: { 'topology.kubernetes.io/rack': 'Rack-1' } }, []],
    [
      'matchLabels: empty value matches an empty label only',
      { matchLabels: { 'node-role.kubernetes.io/control-plane': '' } },
      ['cp'],
    ],
    [
      'In: the key must exist with one of the values',
      {
        matchExpressions: [
          { key: 'topology.kubernetes.io/rack', operator: 'In', values: ['rack-2', 'rack-3'] },
        ],
      },
      ['worker2'],
    ],
    [
      'NotIn: matches other values and nodes without the key',
      { matchExpressions: [{ key: 'topology.kubernetes.io/rack', operator: 'NotIn', values: ['rack-1'] }] },
      ['worker2', 'bare'],
    ],
    [
      'NotIn on a key no node has matches every node',
      { matchExpressions: [{ key: 'example.com/absent', operator: 'NotIn', values: ['x'] }] },
      ['worker1', 'worker2', 'cp', 'bare'],
    ],
    [
      'Exists: matches an empty value too',
      { matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }] },
      ['cp'],
    ],
    [
      'DoesNotExist: the V9 "every non-control-plane node" selector',
      { matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist' }] },
      ['worker1', 'worker2', 'bare'],
    ],
    [
      'matchLabels AND matchExpressions',
      {
        matchLabels: { 'topology.kubernetes.io/rack': 'rack-1' },
        matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist' }],
      },
      ['worker1'],
    ],
    [
      'several expressions are ANDed',
      {
        matchExpressions: [
          { key: 'topology.kubernetes.io/rack', operator: 'In', values: ['rack-1', 'rack-2'] },
          { key: 'example.com/storage', operator: 'Exists' },
        ],
      },
      ['worker2'],
    ],
    [
      'a key that only looks like an Object.prototype member is not present',
      { matchExpressions: [{ key: 'constructor', operator: 'Exists' }] },
      [],
    ],
    [
      'NotIn: prototype-named key is absent, so it matches',
      { matchExpressions: [{ key: 'toString', operator: 'NotIn', values: ['x'] }] },
      ['worker1', 'worker2', 'cp', 'bare'],
    ],
  ];
  for (const [title, sel, expected] of cases) {
    it(title, () => assert.deepEqual(matching(sel), expected));
  }

  it('an invalid operator throws (callers must validate first)', () => {
    assert.throws(
      () =>
        selectorMatches({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['b'] }] }, { a: 'b' }),
      { message: 'label selector operator "Equals" is not valid' },
    );
  });

  it('matchLabels short-circuits before an invalid expression is reached', () => {
    const sel = { matchLabels: { a: 'x' }, matchExpressions: [{ key: 'a', operator: 'in', values: ['b'] }] };
    assert.equal(selectorMatches(sel, { a: 'b' }), false);
  });
});

describe('selectorProblems', () => {
  const cases: [string, LabelSelector | undefined, { field: string; message: string }[]][] = [
    ['absent selector', undefined, []],
    ['empty selector', {}, []],
    [
      'valid expressions',
      {
        matchExpressions: [
          { key: 'a', operator: 'In', values: ['1'] },
          { key: 'b', operator: 'NotIn', values: ['1', '2'] },
          { key: 'c', operator: 'Exists' },
          { key: 'd', operator: 'DoesNotExist', values: [] },
        ],
      },
      [],
    ],
    [
      'unknown operator (operators are case-sensitive)',
      { matchExpressions: [{ key: 'a', operator: 'in', values: ['1'] }] },
      [
        {
          field: 'matchExpressions[0].operator',
          message: 'Unsupported value: "in": supported values: "In", "NotIn", "Exists", "DoesNotExist"',
        },
      ],
    ],
    [
      'In / NotIn without values',
      {
        matchExpressions: [
          { key: 'a', operator: 'In' },
          { key: 'b', operator: 'NotIn', values: [] },
        ],
      },
      [
        {
          field: 'matchExpressions[0].values',
          message: 'Required value: must be specified when operator is In',
        },
        {
          field: 'matchExpressions[1].values',
          message: 'Required value: must be specified when operator is NotIn',
        },
      ],
    ],
    [
      'Exists / DoesNotExist with values',
      {
        matchExpressions: [
          { key: 'a', operator: 'Exists', values: ['x'] },
          { key: 'b', operator: 'DoesNotExist', values: ['y'] },
        ],
      },
      [
        {
          field: 'matchExpressions[0].values',
          message: 'Forbidden: may not be specified when operator is Exists',
        },
        {
          field: 'matchExpressions[1].values',
          message: 'Forbidden: may not be specified when operator is DoesNotExist',
        },
      ],
    ],
  ];
  for (const [title, sel, expected] of cases) {
    it(title, () => assert.deepEqual(selectorProblems(sel), expected));
  }
});

describe('node selectors through validateObject and selectForNode', () => {
  const l3vni = (name: string, nodeSelector?: unknown) =>
    validateObject({
      apiVersion: API_VERSION,
      kind: 'L3VNI',
      metadata: { name, namespace: 'openperouter-system' },
      spec: { vrf: name, vni: 100, ...(nodeSelector === undefined ? {} : { nodeSelector }) },
    });

  it('an invalid operator passes the schema but is rejected per object, with the field path', () => {
    const v = l3vni('bad', { matchExpressions: [{ key: 'rack', operator: 'Equals', values: ['rack-1'] }] });
    assert.equal(v.object, undefined);
    assert.deepEqual(v.issues.map(formatIssue), [
      'L3VNI openperouter-system/bad: spec.nodeSelector.matchExpressions[0].operator: Unsupported value: "Equals": supported values: "In", "NotIn", "Exists", "DoesNotExist"',
    ]);
  });

  it('a missing key is a schema error', () => {
    const v = l3vni('bad', { matchExpressions: [{ operator: 'Exists' }] });
    assert.deepEqual(v.issues.map(formatIssue), [
      'L3VNI openperouter-system/bad: spec.nodeSelector.matchExpressions[0].key: Required value',
    ]);
  });

  it('selectForNode keeps the objects whose selector matches the node labels', () => {
    const snap = emptySnapshot();
    const objects = [
      l3vni('all'),
      l3vni('empty', {}),
      l3vni('rack1', { matchLabels: { 'topology.kubernetes.io/rack': 'rack-1' } }),
      l3vni('workers', {
        matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist' }],
      }),
      l3vni('storage', {
        matchExpressions: [{ key: 'example.com/storage', operator: 'In', values: ['true'] }],
      }),
    ];
    for (const v of objects) {
      assert.ok(v.object?.kind === 'L3VNI');
      snap.l3vnis.push(v.object);
    }
    const names = (labels: Record<string, string>) =>
      selectForNode(snap, labels).l3vnis.map((o) => o.metadata.name);
    assert.deepEqual(names(RACK1), ['all', 'empty', 'rack1', 'workers']);
    assert.deepEqual(names(RACK2_STORAGE), ['all', 'empty', 'workers', 'storage']);
    assert.deepEqual(names(CONTROL_PLANE), ['all', 'empty', 'rack1']);
    assert.deepEqual(names({}), ['all', 'empty', 'workers']);
  });
});
