// The checked-in CRDs are exactly what the schemas generate, and they are structural.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { evaluateRule } from '../src/api/cel.js';
import { crdFiles } from '../src/api/crd.js';
import { repoRoot } from './support/scenarios.js';

const dir = join(repoRoot, 'deploy', 'crds');

test('deploy/crds matches the schemas (run `make crds` after changing a schema)', () => {
  const generated = crdFiles();
  const onDisk = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  assert.deepEqual(onDisk, [...generated.keys()].sort(), 'one file per kind, no stale files');
  for (const [name, text] of generated) {
    assert.equal(readFileSync(join(dir, name), 'utf8'), text, `deploy/crds/${name} is stale: run make crds`);
  }
});

type Node = Record<string, unknown>;

const KNOWN_FUNCTIONS = new Set([
  'isIP',
  'ip',
  'isCIDR',
  'cidr',
  'family',
  'containsIP',
  'isLinkLocalUnicast',
  'prefixLength',
  'matches',
  'size',
]);

/** Structural schema rules of apiextensions.k8s.io/v1 that our generator could break. */
function structuralProblems(s: Node, path: string): string[] {
  const out: string[] = [];
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  if (typeof s['type'] !== 'string' && !preserve) out.push(`${path}: no type`);
  for (const k of ['anyOf', 'oneOf', 'allOf', 'not', 'patternProperties', '$ref', 'definitions']) {
    if (k in s) out.push(`${path}: ${k} is not allowed here`);
  }
  if (s['type'] === 'object' && 'properties' in s && 'additionalProperties' in s) {
    out.push(`${path}: properties and additionalProperties together`);
  }
  for (const [k, v] of Object.entries((s['properties'] as Record<string, Node> | undefined) ?? {})) {
    out.push(...structuralProblems(v, `${path}.${k}`));
  }
  if (s['items']) out.push(...structuralProblems(s['items'] as Node, `${path}[]`));
  if (typeof s['additionalProperties'] === 'object') {
    out.push(...structuralProblems(s['additionalProperties'] as Node, `${path}{}`));
  }
  return out;
}

function rules(s: Node): string[] {
  const own = ((s['x-kubernetes-validations'] as { rule: string }[] | undefined) ?? []).map((r) => r.rule);
  const kids = [
    ...Object.values((s['properties'] as Record<string, Node> | undefined) ?? {}),
    ...(s['items'] ? [s['items'] as Node] : []),
  ];
  return [...own, ...kids.flatMap(rules)];
}

test('every CRD schema is structural and every CEL rule compiles', () => {
  let ruleCount = 0;
  for (const [name, text] of crdFiles()) {
    const crd = parse(text) as Node;
    const version = ((crd['spec'] as Node)['versions'] as Node[])[0]!;
    const schema = (version['schema'] as Node)['openAPIV3Schema'] as Node;
    assert.deepEqual(structuralProblems(schema, name), []);
    for (const rule of rules(schema)) {
      ruleCount++;
      // Evaluating against an empty object either returns a boolean or fails on a missing key or on a
      // known function applied to the wrong type; a syntax error or an unknown function fails here.
      // (test/validate-object.test.ts proves what each rule accepts and rejects.)
      try {
        evaluateRule(rule, {}, {});
      } catch (err) {
        const message = (err as Error).message.split('\n')[0]!;
        const overload = /found no matching overload for '([\w.]+)\(/.exec(message)?.[1];
        const known = overload === undefined || KNOWN_FUNCTIONS.has(overload.split('.').pop()!);
        assert.ok(
          /No such key/.test(message) || (overload !== undefined && known),
          `${name}: ${rule}: ${message}`,
        );
      }
    }
  }
  assert.ok(ruleCount > 40, `only ${ruleCount} rules found`);
});
