// The offline subcommands: validate, render frr|kernel, crds. They read manifests exactly as a user
// would `kubectl apply -f` them and run the same validation and rendering code as the node agent.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { crdFiles } from '../api/crd.js';
import { formatIssue } from '../api/issues.js';
import { loadManifests, toSnapshot } from '../api/load.js';
import { renderFrr } from '../render/frr.js';
import { renderKernel } from '../render/kernel.js';
import type { FrrLogLevel, NodeFacts } from '../render/model.js';
import { type NodeResult, resolveNode } from '../render/resolve.js';
import { nodeFactsFromNode, parseIndex, parseLabel } from './node-facts.js';

const collect = (v: string, acc: string[]) => [...acc, v];

interface NodeFlags {
  file: string[];
  nodeName?: string;
  nodeIndex?: number;
  nodeLabel: Record<string, string>;
  hostname?: string;
  underlayMtu?: number;
  logLevel?: FrrLogLevel;
  operatorNamespace?: string;
}

function withNodeFlags(cmd: Command, nodeRequired: boolean): Command {
  const name = '--node-name <name>';
  const index = '--node-index <index>';
  nodeRequired ? cmd.requiredOption(name, 'node name') : cmd.option(name, 'node name');
  nodeRequired
    ? cmd.requiredOption(index, 'node index (annotation openpe.io/nodeindex)', parseIndex)
    : cmd.option(index, 'node index', parseIndex);
  return cmd
    .requiredOption('-f, --file <path>', 'manifest file or directory (repeatable)', collect, [])
    .option('--node-label <key=value>', 'node label, for nodeSelector matching (repeatable)', parseLabel, {})
    .option('--hostname <name>', 'hostname FRR runs under (default: the node name)')
    .option('--underlay-mtu <mtu>', 'MTU of the underlay NIC (default 1500)', (s) => Number(s))
    .option('--log-level <level>', 'FRR log level: debugging|informational|notifications|warnings|errors')
    .option('--operator-namespace <ns>', 'honour RawFRRConfig objects only in this namespace');
}

function factsOf(o: NodeFlags): NodeFacts {
  return {
    name: o.nodeName!,
    index: o.nodeIndex!,
    labels: { 'kubernetes.io/hostname': o.nodeName!, ...o.nodeLabel },
    ...(o.hostname ? { hostname: o.hostname } : {}),
    ...(o.underlayMtu ? { underlayMtu: o.underlayMtu } : {}),
    ...(o.logLevel ? { logLevel: o.logLevel } : {}),
  };
}

function failureLines(nodeName: string, result: NodeResult): string[] {
  return result.failures.map((f) => {
    const m = f.object.metadata;
    return `${f.object.kind} ${m.namespace ? `${m.namespace}/` : ''}${m.name}: on node ${nodeName}: ${f.reason}: ${f.message}`;
  });
}

/**
 * Loads, validates and resolves for one node. Exit codes: 0 = everything applies; 2 = some objects
 * are skipped (the output is what the node would run without them); 1 = invalid input or an invalid
 * Underlay (nothing would be applied, nothing is printed).
 */
function renderCommand(o: NodeFlags, emit: (r: NodeResult) => string): void {
  const loaded = loadManifests(o.file, { isExtra: (d) => nodeFactsFromNode(d) !== undefined });
  for (const i of loaded.issues) process.stderr.write(`${formatIssue(i)}\n`);
  // A Node object of the same name among the manifests contributes its labels (flags win).
  const node = loaded.extras.map((d) => nodeFactsFromNode(d)!).find((n) => n.name === o.nodeName);
  if (node) o = { ...o, nodeLabel: { ...node.labels, ...o.nodeLabel } };
  const result = resolveNode(
    toSnapshot(loaded.objects),
    factsOf(o),
    o.operatorNamespace ? { operatorNamespace: o.operatorNamespace } : {},
  );
  for (const l of failureLines(o.nodeName!, result)) process.stderr.write(`${l}\n`);
  if (!result.config) {
    process.stderr.write('openperouter: the Underlay is invalid on this node; nothing would be applied\n');
    process.exitCode = 1;
    return;
  }
  process.stdout.write(emit(result));
  if (loaded.issues.length > 0 || result.failures.length > 0) process.exitCode = 2;
}

export function registerOfflineCommands(program: Command): void {
  withNodeFlags(
    program
      .command('validate')
      .description(
        'Check manifests: schema and CEL rules of every object, then the per-node rules (one Underlay per node, unique VNIs, overlapping pools, references, ...) for every Node object found among the manifests, for the node given with --node-name, or else for one node without labels. Exit 0 when valid, 1 with every problem listed otherwise.',
      ),
    false,
  ).action((o: NodeFlags) => {
    const loaded = loadManifests(o.file, { isExtra: (d) => nodeFactsFromNode(d) !== undefined });
    const problems = loaded.issues.map(formatIssue);
    const nodes: NodeFacts[] = loaded.extras.map((d) => nodeFactsFromNode(d)!);
    if (o.nodeName) nodes.push(factsOf({ ...o, nodeIndex: o.nodeIndex ?? 0 }));
    if (nodes.length === 0) nodes.push({ name: '(any node)', index: o.nodeIndex ?? 0, labels: {} });
    const snapshot = toSnapshot(loaded.objects);
    const seen = new Set<string>();
    for (const node of nodes) {
      const result = resolveNode(
        snapshot,
        node,
        o.operatorNamespace ? { operatorNamespace: o.operatorNamespace } : {},
      );
      for (const line of failureLines(node.name, result)) {
        if (!seen.has(line)) problems.push(line);
        seen.add(line);
      }
    }
    for (const p of problems) process.stdout.write(`${p}\n`);
    const count = loaded.objects.length;
    if (problems.length === 0) {
      process.stdout.write(
        `${count} object${count === 1 ? '' : 's'} valid (checked for ${nodes.map((n) => n.name).join(', ')})\n`,
      );
    } else {
      process.stdout.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} found\n`);
      process.exitCode = 1;
    }
  });

  const render = program.command('render').description('Print what a node would run (nothing is applied)');
  withNodeFlags(render.command('frr').description('the complete FRR configuration of the node'), true).action(
    (o: NodeFlags) => renderCommand(o, (r) => renderFrr(r.config!)),
  );
  withNodeFlags(
    render.command('kernel').description('the desired kernel state of the node, as JSON'),
    true,
  ).action((o: NodeFlags) =>
    renderCommand(o, (r) => `${JSON.stringify(renderKernel(r.config!), null, 2)}\n`),
  );

  program
    .command('crds')
    .description('Print the CustomResourceDefinitions (or write one file per kind with --out)')
    .option('--out <dir>', 'write <plural>.<group>.yaml files into this directory')
    .action((o: { out?: string }) => {
      const files = crdFiles();
      if (o.out) {
        mkdirSync(o.out, { recursive: true });
        for (const [name, text] of files) writeFileSync(join(o.out, name), text);
        process.stderr.write(`wrote ${files.size} CRDs to ${o.out}\n`);
      } else {
        process.stdout.write([...files.values()].join('---\n'));
      }
    });
}
