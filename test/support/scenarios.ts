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

export function scenarioNames(): string[] {
  return readdirSync(scenariosDir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.replace(/\.yaml$/, ''))
    .sort();
}

export function loadScenario(name: string): Scenario {
  const file = resolve(scenariosDir, `${name}.yaml`);
  const loaded = loadText(readFileSync(file, 'utf8'), file, {
    isExtra: (d) => nodeFactsFromNode(d) !== undefined,
  });
  const nodes = loaded.extras.map((d) => nodeFactsFromNode(d)!);
  if (nodes.length !== 1)
    throw new Error(`${file}: expected exactly one v1 Node object, found ${nodes.length}`);
  const node = nodes[0]!;
  return { name, node, issues: loaded.issues, result: resolveNode(toSnapshot(loaded.objects), node) };
}
