// Node facts read from the machine before a reconcile pass (the reconciler itself stays pure: it gets
// them as data). Today: the system hostname FRR reports, and the MTU of the underlay NICs.
//
// Underlay MTU: the NICs named by the Underlay(s) that select this node are either still in the host
// namespace (first start) or already in the router namespace (moved there by an earlier pass; a move
// keeps the MTU). The smallest MTU found is the node's underlay MTU: the VXLAN devices and the veths
// get it minus the VXLAN overhead. A NIC found nowhere yet (not created, renamed) is left out; when
// none is found the fact stays unset (the renderer then assumes 1500) and the reason says why.
import { hostname } from 'node:os';
import { selectForNode } from '../api/node-rules.js';
import type { ApiSnapshot } from '../api/types.js';
import { ipNamespaceArgs, runProcess } from '../kernel/exec.js';
import { namespaceExists } from '../kernel/read.js';
import type { NodeFacts } from '../render/model.js';

export interface UnderlayMtuLookup {
  /** Smallest MTU among the underlay NICs found; undefined when none was found. */
  mtu?: number;
  /** The NICs found, where, and their MTU. */
  found: { name: string; namespace: 'host' | 'router'; mtu: number }[];
  /** Underlay NICs named by the Underlay(s) but found in neither namespace. */
  missing: string[];
  /** Why `mtu` is unset, when it is. */
  reason?: string;
}

/** A link as `ip -json link show` reports it (only what the lookup needs). */
export interface LinkMtu {
  ifname: string;
  mtu: number;
}

/** The NIC names of the Underlay(s) that select this node (sorted, unique). CNI devices have none. */
export function underlayInterfaceNames(snapshot: ApiSnapshot, labels: Record<string, string>): string[] {
  const names = new Set<string>();
  for (const u of selectForNode(snapshot, labels).underlays) {
    for (const i of u.spec.interfaces) {
      const name = i.networkDevice?.interfaceName;
      if (name !== undefined && name !== '') names.add(name);
    }
  }
  return [...names].sort();
}

/** Pure part of the lookup: the smallest MTU of `names` among the links of the two namespaces. */
export function smallestUnderlayMtu(
  names: readonly string[],
  hostLinks: readonly LinkMtu[],
  routerLinks: readonly LinkMtu[],
): UnderlayMtuLookup {
  const found: UnderlayMtuLookup['found'] = [];
  const missing: string[] = [];
  for (const name of names) {
    // The router namespace first: once moved, a host link of the same name is someone else's.
    const r = routerLinks.find((l) => l.ifname === name);
    const h = r === undefined ? hostLinks.find((l) => l.ifname === name) : undefined;
    const l = r ?? h;
    if (l === undefined || !Number.isInteger(l.mtu) || l.mtu <= 0) missing.push(name);
    else found.push({ name, namespace: r !== undefined ? 'router' : 'host', mtu: l.mtu });
  }
  if (names.length === 0)
    return { found, missing, reason: 'no Underlay with a network device selects this node' };
  if (found.length === 0) {
    return {
      found,
      missing,
      reason: `underlay interface(s) ${missing.join(', ')} found neither in the host nor in the router namespace`,
    };
  }
  return { mtu: Math.min(...found.map((f) => f.mtu)), found, missing };
}

function parseLinks(json: string): LinkMtu[] {
  const v: unknown = JSON.parse(json);
  if (!Array.isArray(v)) return [];
  return v.flatMap((l: unknown) => {
    if (typeof l !== 'object' || l === null) return [];
    const { ifname, mtu } = l as { ifname?: unknown; mtu?: unknown };
    return typeof ifname === 'string' && typeof mtu === 'number' ? [{ ifname, mtu }] : [];
  });
}

/** `ip -json link show` of a namespace (undefined = this process's own); [] when it cannot be read. */
async function readLinks(namespace: string | undefined): Promise<{ links: LinkMtu[]; error?: string }> {
  const r = await runProcess('ip', [...ipNamespaceArgs(namespace), '-json', 'link', 'show']);
  if (r.code !== 0) return { links: [], error: r.stderr.trim() || `ip exited ${r.code}` };
  try {
    return { links: parseLinks(r.stdout) };
  } catch (err) {
    return { links: [], error: `unreadable ip -json output: ${(err as Error).message}` };
  }
}

export interface FactsLookupOptions {
  /** Namespace playing the host (labs and tests); undefined = this process's own. */
  hostNamespace?: string;
  /** Named namespace FRR runs in. */
  routerNamespace: string;
}

/** Reads the MTU of the underlay NICs of this node (at most two `ip` processes, in parallel). */
export async function lookupUnderlayMtu(
  snapshot: ApiSnapshot,
  labels: Record<string, string>,
  opts: FactsLookupOptions,
): Promise<UnderlayMtuLookup> {
  const names = underlayInterfaceNames(snapshot, labels);
  if (names.length === 0) return smallestUnderlayMtu(names, [], []);
  const [host, router] = await Promise.all([
    readLinks(opts.hostNamespace),
    namespaceExists(opts.routerNamespace)
      ? readLinks(opts.routerNamespace)
      : Promise.resolve<{ links: LinkMtu[]; error?: string }>({ links: [] }),
  ]);
  const r = smallestUnderlayMtu(names, host.links, router.links);
  const errors = [host.error, router.error].filter((e): e is string => e !== undefined);
  if (r.mtu === undefined && errors.length > 0) return { ...r, reason: `${r.reason}: ${errors.join('; ')}` };
  return r;
}

/**
 * The node facts of one pass: the static ones (node file) plus what is read from the machine. FRR 8.4
 * prints the system hostname in `show running-config` whatever `hostname X` says, so the config must
 * carry the hostname of the machine FRR runs on (here: the agent's), or no reload would ever converge.
 */
export async function nodeFactsForPass(
  base: NodeFacts,
  snapshot: ApiSnapshot,
  opts: FactsLookupOptions & {
    /** The hostname FRR's tools (the reloader's vtysh) run under; default: this machine's. */
    systemHostname?: string;
  },
): Promise<{ facts: NodeFacts; underlay: UnderlayMtuLookup }> {
  const underlay = await lookupUnderlayMtu(snapshot, base.labels, opts);
  const facts: NodeFacts = {
    ...base,
    hostname: base.hostname ?? opts.systemHostname ?? hostname(),
    ...(underlay.mtu !== undefined ? { underlayMtu: underlay.mtu } : {}),
  };
  return { facts, underlay };
}
