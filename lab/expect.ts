// What a lab node should look like for a set of manifests, and how it actually looks: the end-to-end
// tests render the node's manifests with the project's own renderer (as the agent does), read the
// node's namespaces and FRR, and compare. A stale interface, address or FRR line shows up as a
// difference.
import { loadText, toSnapshot } from '../src/api/load.js';
import type { RoutingObject } from '../src/api/types.js';
import type { KernelPlan, LinkSpec } from '../src/kernel/model.js';
import { renderFrr } from '../src/render/frr.js';
import { renderKernel } from '../src/render/kernel.js';
import { resolveNode } from '../src/render/resolve.js';
import type { Lab } from './lab.js';
import { q } from './scripts.js';
import { findNode, type LabNode } from './topology.js';

export interface Expected {
  plan: KernelPlan;
  frr: string;
  /** Objects the resolver skipped, and manifest problems (empty for a valid set). */
  problems: string[];
}

/** Renders what `node` should run for these manifests (file name → YAML), as its agent would. */
export function expectedFor(node: LabNode, manifests: Map<string, string>): Expected {
  const objects: RoutingObject[] = [];
  const problems: string[] = [];
  for (const [file, text] of manifests) {
    const r = loadText(text, file);
    objects.push(...r.objects);
    problems.push(...r.issues.map((i) => `${i.kind} ${i.name}: ${i.field} ${i.message}`));
  }
  const result = resolveNode(toSnapshot(objects), {
    name: node.name,
    index: node.index,
    labels: {},
    hostname: node.name,
    underlayMtu: 1500,
  });
  problems.push(
    ...result.failures.map((f) => `${f.object.kind} ${f.object.metadata.name}: ${f.reason}: ${f.message}`),
  );
  if (!result.config) throw new Error(`the manifests of ${node.name} do not render: ${problems.join('; ')}`);
  const plan = { ...renderKernel(result.config), routerNamespace: node.routerNamespace };
  return { plan, frr: renderFrr(result.config), problems };
}

/** One link as read from the kernel (only what the comparison looks at). */
export interface LinkState {
  name: string;
  kind: string;
  master?: string;
  alias?: string;
  /** Global addresses, `addr/len`, sorted (link-local ones change with every new MAC: left out). */
  addresses: string[];
}

export interface NodeState {
  host: LinkState[];
  router: LinkState[];
  /** `show running-config` of the node's router FRR, under the node's hostname. */
  runningConfig: string;
}

function parseLinks(linksJson: string, addrsJson: string): LinkState[] {
  const links = JSON.parse(linksJson) as {
    ifname: string;
    master?: string;
    ifalias?: string;
    linkinfo?: { info_kind?: string };
  }[];
  const addrs = JSON.parse(addrsJson) as {
    ifname: string;
    addr_info?: { local: string; prefixlen: number; scope: string }[];
  }[];
  return links.map((l) => ({
    name: l.ifname,
    kind: l.linkinfo?.info_kind ?? '',
    ...(l.master !== undefined ? { master: l.master } : {}),
    ...(l.ifalias !== undefined ? { alias: l.ifalias } : {}),
    addresses: (addrs.find((a) => a.ifname === l.ifname)?.addr_info ?? [])
      .filter((a) => a.scope !== 'link')
      .map((a) => `${a.local}/${a.prefixlen}`)
      .sort(),
  }));
}

/** Reads a node's two namespaces and its FRR configuration in one guest command. */
export async function readNodeState(lab: Lab, nodeName: string): Promise<NodeState> {
  const n = findNode(lab.topology, nodeName);
  const vtysh = `unshare --uts sh -c ${q(`hostname ${n.name} && exec vtysh -N ${n.routerNamespace} -c 'show running-config'`)}`;
  const out = await lab.run(
    null,
    [
      `echo '### hl'; ip -n ${q(n.hostNamespace)} -j -d link show`,
      `echo '### ha'; ip -n ${q(n.hostNamespace)} -j addr show`,
      `echo '### rl'; ip -n ${q(n.routerNamespace)} -j -d link show`,
      `echo '### ra'; ip -n ${q(n.routerNamespace)} -j addr show`,
      `echo '### frr'; ${vtysh}`,
    ].join('\n'),
  );
  const s = new Map<string, string>();
  for (const part of out.split(/^### /m).slice(1)) {
    const nl = part.indexOf('\n');
    s.set(part.slice(0, nl), part.slice(nl + 1));
  }
  return {
    host: parseLinks(s.get('hl') ?? '[]', s.get('ha') ?? '[]'),
    router: parseLinks(s.get('rl') ?? '[]', s.get('ra') ?? '[]'),
    runningConfig: s.get('frr') ?? '',
  };
}

function describeLink(l: { name: string; kind: string; master?: string; addresses: string[] }): string {
  return `${l.name} (${l.kind}${l.master ? `, master ${l.master}` : ''}${l.addresses.length ? `, ${l.addresses.join(' ')}` : ''})`;
}

function planLink(l: LinkSpec): { name: string; kind: string; master?: string; addresses: string[] } {
  return {
    name: l.name,
    kind: l.type,
    ...(l.master ? { master: l.master } : {}),
    addresses: [...l.addresses].sort(),
  };
}

/**
 * Differences between the kernel plan and what the node's namespaces hold: in the router namespace
 * every link but `lo` and the underlay NICs is the agent's; in the host namespace the agent's links
 * carry the alias `openperouter`. Empty when they match exactly.
 */
export function kernelDifferences(plan: KernelPlan, state: NodeState): string[] {
  const problems: string[] = [];
  const compare = (where: string, want: LinkSpec[], have: LinkState[]) => {
    for (const w of want.map(planLink)) {
      const h = have.find((x) => x.name === w.name);
      if (h === undefined) {
        problems.push(`${where}: missing ${describeLink(w)}`);
        continue;
      }
      const hh = {
        name: h.name,
        kind: h.kind,
        ...(h.master ? { master: h.master } : {}),
        addresses: h.addresses,
      };
      if (describeLink(hh) !== describeLink(w))
        problems.push(`${where}: ${describeLink(hh)}, want ${describeLink(w)}`);
    }
    for (const h of have.filter((x) => !want.some((w) => w.name === x.name))) {
      problems.push(`${where}: stale ${describeLink(h)}`);
    }
  };
  const routerOwned = state.router.filter(
    (l) => l.name !== 'lo' && !plan.underlayInterfaces.includes(l.name),
  );
  compare('router', plan.routerLinks, routerOwned);
  compare(
    'host',
    plan.hostLinks,
    state.host.filter((l) => l.alias === 'openperouter'),
  );
  const lo = state.router.find((l) => l.name === 'lo');
  for (const a of plan.loopbackAddresses) {
    if (!lo?.addresses.includes(a)) problems.push(`router: lo lacks ${a}`);
  }
  for (const a of lo?.addresses ?? []) {
    if (!plan.loopbackAddresses.includes(a) && !/^(127\.0\.0\.1\/8|::1\/128)$/.test(a))
      problems.push(`router: stale address ${a} on lo`);
  }
  for (const nic of plan.underlayInterfaces) {
    if (!state.router.some((l) => l.name === nic)) problems.push(`router: underlay NIC ${nic} missing`);
  }
  return problems;
}

const IGNORED =
  /^(!|exit|exit-vrf|exit-address-family|end|frr version .*|Building configuration\.\.\.|Current configuration:|service integrated-vtysh-config)$/;

/**
 * An FRR configuration as a sorted list of `context > … > line` strings (from the indentation, as FRR
 * prints it), without separators, `exit`s and the header lines FRR adds on its own.
 */
export function configLines(text: string): string[] {
  const out: string[] = [];
  const stack: { indent: number; line: string }[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    const indent = raw.length - raw.trimStart().length;
    const line = raw.trim();
    while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? 0) >= indent) stack.pop();
    if (!IGNORED.test(line)) out.push([...stack.map((s) => s.line), line].join(' > '));
    stack.push({ indent, line });
  }
  return out.sort();
}

/** Lines only one of the two configurations has (`- ` want only, `+ ` running only). Empty when equal. */
export function frrDifferences(want: string, running: string): string[] {
  const a = configLines(want);
  const b = configLines(running);
  const minus = (x: string[], y: string[]) => {
    const rest = [...y];
    return x.filter((l) => {
      const i = rest.indexOf(l);
      if (i < 0) return true;
      rest.splice(i, 1);
      return false;
    });
  };
  return [...minus(a, b).map((l) => `- ${l}`), ...minus(b, a).map((l) => `+ ${l}`)];
}
