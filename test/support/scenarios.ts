// Golden scenarios: test/scenarios/<name>.yaml holds the manifests plus one v1 Node object (name,
// labels, openpe.io/nodeindex annotation); the rendered outputs live in test/golden/.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ValidationIssue } from '../../src/api/issues.js';
import { loadText, toSnapshot } from '../../src/api/load.js';
import { nodeFactsFromNode } from '../../src/cli/node-facts.js';
import type { NodeFacts } from '../../src/render/model.js';
import { type NodeResult, resolveNode } from '../../src/render/resolve.js';

/** Repository root, whether running from src (ts) or dist (compiled js). */
export const repoRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!readdirSync(dir).includes('package.json')) dir = dirname(dir);
  return dir;
})();

export const scenariosDir = join(repoRoot, 'test', 'scenarios');
export const goldenDir = join(repoRoot, 'test', 'golden');

export interface Scenario {
  name: string;
  node: NodeFacts;
  issues: ValidationIssue[];
  result: NodeResult;
}

/**
 * api.md §7's valid examples that use only supported features also render and go through real FRR.
 * They carry no Node object: they render for EXAMPLE_NODE (V9's selectors pick rack-1 and storage).
 */
export const SUPPORTED_API_EXAMPLES = [
  'v01-minimal-evpn',
  'v02-l2vni-linux-bridge-gateway',
  'v05-l3passthrough',
  'v06-dual-stack',
  'v07-ipv6-vtep',
  'v08-session-tuning-rawfrrconfig',
  'v09-node-selectors',
];
const EXAMPLE_NODE: NodeFacts = {
  name: 'worker-1',
  index: 1,
  labels: {
    'kubernetes.io/hostname': 'worker-1',
    'topology.kubernetes.io/rack': 'rack-1',
    'example.com/storage': 'true',
  },
};

export function scenarioNames(): string[] {
  return [
    ...readdirSync(scenariosDir)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.replace(/\.yaml$/, '')),
    ...SUPPORTED_API_EXAMPLES.map((e) => `api-${e}`),
  ].sort();
}

export function loadScenario(name: string): Scenario {
  const example = name.startsWith('api-');
  const file = example
    ? resolve(repoRoot, 'examples', 'api', `${name.slice(4)}.yaml`)
    : resolve(scenariosDir, `${name}.yaml`);
  const loaded = loadText(readFileSync(file, 'utf8'), file, {
    isExtra: (d) => nodeFactsFromNode(d) !== undefined,
  });
  const nodes = example ? [EXAMPLE_NODE] : loaded.extras.map((d) => nodeFactsFromNode(d)!);
  if (nodes.length !== 1)
    throw new Error(`${file}: expected exactly one v1 Node object, found ${nodes.length}`);
  const node = nodes[0]!;
  return { name, node, issues: loaded.issues, result: resolveNode(toSnapshot(loaded.objects), node) };
}
