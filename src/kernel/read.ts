// Reads the actual kernel state of the namespaces the agent manages, with a fixed, small number of
// processes per reconcile, all run in parallel: one `ip -d -json -batch -` per namespace (`link show`
// and `addr show`), and one `ip netns exec NS grep` for every sysctl of the router namespace (3 in all).
// The same dump can end a write batch (apply.ts), which then needs no reader of its own.
// The parsers are pure and exported for the unit tests.
import { existsSync } from 'node:fs';
import { formatIp, parseIp } from '../ipam/index.js';
import { ipNamespaceArgs, type ProcessCounts, runProcess } from './exec.js';
import { JsonArraySplitter } from './json-stream.js';
import type { KernelPlan } from './model.js';

/** An address on a link, as `ip -json addr show` reports it. */
export interface ActualAddress {
  /** Canonical `address/prefix-length` (IPv6 in RFC 5952 form): the key compared with the plan. */
  cidr: string;
  family: 4 | 6;
  /** `host`, `link`, `global`... */
  scope: string;
  /** Point-to-point peer (`peer` in iproute2), when different from the local address. */
  peer?: string;
  broadcast?: string;
  /** Managed by the kernel (SLAAC, DHCP lifetimes): never removed by the agent. */
  dynamic: boolean;
}

export interface ActualLink {
  index: number;
  name: string;
  /** `linkinfo.info_kind`: vrf, bridge, vxlan, veth...; undefined for a physical device. */
  kind?: string;
  /** Administratively up (`UP` flag). */
  up: boolean;
  mtu: number;
  mac?: string;
  master?: string;
  /** Link group as iproute2 prints it (`default`, `4242`). */
  group: string;
  alias?: string;
  /** `inet6_addr_gen_mode`: eui64, none, stable_secret, random. */
  addrGenMode?: string;
  addresses: ActualAddress[];
  vrfTable?: number;
  vxlan?: { id: number; local?: string; port: number; learning: boolean };
  /** Set when the link is a bridge port. */
  bridgePort?: { neighSuppress: boolean };
  /**
   * The other end of a veth (or the lower device of other kinds): by name when it lives in the same
   * namespace, by ifindex + netnsid when it lives in another one.
   */
  peer?: { name?: string; index?: number; netnsId?: number };
}

export interface NamespaceState {
  links: ActualLink[];
}

export interface ActualState {
  host: NamespaceState;
  /** Undefined when the router namespace does not exist. */
  router?: NamespaceState;
  /** Value of every sysctl key of the plan in the router namespace; undefined = the key does not exist. */
  routerSysctls: Record<string, string | undefined>;
}

export class KernelReadError extends Error {
  override name = 'KernelReadError';
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Json, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

function num(o: Json, key: string): number | undefined {
  const v = o[key];
  return typeof v === 'number' ? v : undefined;
}

function obj(o: Json, key: string): Json | undefined {
  const v = o[key];
  return isObject(v) ? v : undefined;
}

function objects(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

/** Canonical text of an IP address (IPv6 compressed, lower case); the input when it is not an address. */
export function canonicalIp(ip: string): string {
  try {
    const parsed = parseIp(ip);
    return formatIp(parsed.family, parsed.value);
  } catch {
    return ip.toLowerCase();
  }
}

/** Canonical `address/prefix` of a CIDR-with-host-bits such as `fd00:0::1/64`. */
export function canonicalCidr(cidr: string): string {
  const slash = cidr.indexOf('/');
  if (slash < 0) return canonicalIp(cidr);
  return `${canonicalIp(cidr.slice(0, slash))}/${cidr.slice(slash + 1)}`;
}

function parseAddress(a: Json): ActualAddress | undefined {
  const family = str(a, 'family');
  const local = str(a, 'local');
  const prefixlen = num(a, 'prefixlen');
  if ((family !== 'inet' && family !== 'inet6') || local === undefined || prefixlen === undefined) {
    return undefined;
  }
  const peer = str(a, 'address');
  const broadcast = str(a, 'broadcast');
  return {
    cidr: `${canonicalIp(local)}/${prefixlen}`,
    family: family === 'inet' ? 4 : 6,
    scope: str(a, 'scope') ?? 'global',
    ...(peer !== undefined && peer !== local ? { peer } : {}),
    ...(broadcast !== undefined ? { broadcast } : {}),
    dynamic: a['dynamic'] === true,
  };
}

/** A link of `ip -d -json link show`, without its addresses (they come from the address dump). */
function parseLink(l: Json): ActualLink | undefined {
  const index = num(l, 'ifindex');
  const name = str(l, 'ifname');
  if (index === undefined || name === undefined) return undefined;
  const flags = Array.isArray(l['flags']) ? l['flags'] : [];
  const linkinfo = obj(l, 'linkinfo');
  const kind = linkinfo === undefined ? undefined : str(linkinfo, 'info_kind');
  const data = linkinfo === undefined ? undefined : obj(linkinfo, 'info_data');
  const link: ActualLink = {
    index,
    name,
    up: flags.includes('UP'),
    mtu: num(l, 'mtu') ?? 0,
    group: String(l['group'] ?? 'default'),
    addresses: [],
  };
  if (kind !== undefined) link.kind = kind;
  const mac = str(l, 'address');
  if (mac !== undefined) link.mac = mac.toLowerCase();
  const master = str(l, 'master');
  if (master !== undefined) link.master = master;
  const alias = str(l, 'ifalias');
  if (alias !== undefined) link.alias = alias;
  const mode = str(l, 'inet6_addr_gen_mode');
  if (mode !== undefined) link.addrGenMode = mode;
  if (kind === 'vrf' && data !== undefined) {
    const table = num(data, 'table');
    if (table !== undefined) link.vrfTable = table;
  }
  if (kind === 'vxlan' && data !== undefined) {
    const local = str(data, 'local') ?? str(data, 'local6');
    link.vxlan = {
      id: num(data, 'id') ?? -1,
      ...(local === undefined ? {} : { local: canonicalIp(local) }),
      port: num(data, 'port') ?? -1,
      learning: data['learning'] === true,
    };
  }
  if (linkinfo !== undefined && str(linkinfo, 'info_slave_kind') === 'bridge') {
    const slave = obj(linkinfo, 'info_slave_data');
    link.bridgePort = { neighSuppress: slave?.['neigh_suppress'] === true };
  }
  const peerName = str(l, 'link');
  const peerIndex = num(l, 'link_index');
  const peerNetnsId = num(l, 'link_netnsid');
  if (peerName !== undefined || peerIndex !== undefined) {
    link.peer = {
      ...(peerName === undefined ? {} : { name: peerName }),
      ...(peerIndex === undefined ? {} : { index: peerIndex }),
      ...(peerNetnsId === undefined ? {} : { netnsId: peerNetnsId }),
    };
  }
  return link;
}

/** Batch lines dumping a namespace (run with `-d -json`): its links, then its addresses. */
export const NAMESPACE_DUMP_LINES: readonly string[] = ['link show', 'addr show'];

/**
 * Reads the output of NAMESPACE_DUMP_LINES (`ip -d -json link show`, which has `inet6_addr_gen_mode`
 * that `addr show` lacks, then `addr show`: one JSON array per line), possibly after the (silent)
 * write lines of the same batch, as it arrives (see json-stream.ts): what is kept of each link is the
 * little the diff compares.
 */
export class NamespaceDumpParser {
  private readonly links: ActualLink[] = [];
  private readonly addresses = new Map<number, ActualAddress[]>();
  private readonly splitter = new JsonArraySplitter((dump, element) => {
    if (dump === 0) {
      const link = parseLink(element);
      if (link !== undefined) this.links.push(link);
    } else if (dump === 1) {
      const index = num(element, 'ifindex');
      if (index === undefined) return;
      const addresses = objects(element['addr_info'])
        .map(parseAddress)
        .filter((a): a is ActualAddress => a !== undefined);
      this.addresses.set(index, addresses);
    }
  });

  constructor(private readonly what = 'ip -json -batch') {}

  readonly feed = (chunk: string): void => this.splitter.feed(chunk);

  /** The namespace state; throws KernelReadError when the output was not the two dumps. */
  finish(): NamespaceState {
    const end = this.splitter.end();
    if ('error' in end) throw new KernelReadError(`${this.what}: iproute2 printed ${end.error}`);
    if (end.arrays !== 2) {
      throw new KernelReadError(`${this.what}: expected 2 JSON dumps from iproute2, got ${end.arrays}`);
    }
    for (const link of this.links) link.addresses = this.addresses.get(link.index) ?? [];
    return { links: this.links };
  }
}

/** Parses a whole output of NAMESPACE_DUMP_LINES at once (see NamespaceDumpParser). */
export function parseBatchDump(output: string, what = 'ip -json -batch'): NamespaceState {
  const parser = new NamespaceDumpParser(what);
  parser.feed(output);
  return parser.finish();
}

/**
 * A namespace just created by `ip netns add`, as the reader would see it: only `lo`, down, without
 * addresses (127.0.0.1 and ::1 come with `up`). `ipv6`: whether this kernel has IPv6 (then `lo` has an
 * address generation mode, as on the host).
 */
export function freshNamespaceState(ipv6: boolean): NamespaceState {
  return {
    links: [
      {
        index: 1,
        name: 'lo',
        up: false,
        mtu: 65536,
        mac: '00:00:00:00:00:00',
        group: 'default',
        ...(ipv6 ? { addrGenMode: 'eui64' } : {}),
        addresses: [],
      },
    ],
  };
}

/** `/proc/sys` path of a sysctl key: dots separate components (a key containing `/` is taken as a path). */
export function sysctlPath(key: string): string {
  return `/proc/sys/${key.includes('/') ? key.replace(/^\/+/, '') : key.replaceAll('.', '/')}`;
}

/** Parses `grep -H '' path...` output into key -> value (keys whose file is missing stay undefined). */
export function parseSysctlDump(output: string, keys: readonly string[]): Record<string, string | undefined> {
  const byPath = new Map<string, string>();
  for (const line of output.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) byPath.set(line.slice(0, colon), line.slice(colon + 1));
  }
  const values: Record<string, string | undefined> = {};
  for (const key of keys) values[key] = byPath.get(sysctlPath(key));
  return values;
}

const NETNS_DIR = '/var/run/netns';

export function namespaceExists(name: string): boolean {
  return existsSync(`${NETNS_DIR}/${name}`);
}

/**
 * Links and addresses of one namespace (undefined = the process's own): one `ip -d -json -batch -`
 * process (`-d` applies to the address dump too, which then repeats the link details: more to parse,
 * but a process less, which costs more where starting a process is slow).
 */
export async function readNamespace(
  namespace: string | undefined,
  counts?: ProcessCounts,
): Promise<NamespaceState> {
  if (counts !== undefined) counts.readers++;
  const what = namespace === undefined ? 'host namespace' : `namespace ${namespace}`;
  const parser = new NamespaceDumpParser(what);
  const r = await runProcess(
    'ip',
    [...ipNamespaceArgs(namespace), '-d', '-json', '-batch', '-'],
    `${NAMESPACE_DUMP_LINES.join('\n')}\n`,
    parser.feed,
  );
  if (r.code !== 0) throw new KernelReadError(`${what}: reading links failed: ${r.stderr.trim()}`);
  return parser.finish();
}

/** The command printing `keys` as parseSysctlDump reads them (-s: a missing key is no error). */
export function sysctlReadCommand(keys: readonly string[]): string[] {
  return ['grep', '-sH', '', ...keys.map(sysctlPath)];
}

/** Values of `keys` inside the named namespace, read by one process. */
export async function readSysctls(
  namespace: string,
  keys: readonly string[],
  counts?: ProcessCounts,
): Promise<Record<string, string | undefined>> {
  if (keys.length === 0) return {};
  if (counts !== undefined) counts.readers++;
  // -s: a key the kernel does not have is no error (grep exits 2, the other values are printed).
  const r = await runProcess('ip', ['netns', 'exec', namespace, ...sysctlReadCommand(keys)]);
  if (r.code > 2) {
    throw new KernelReadError(`namespace ${namespace}: reading sysctls failed: ${r.stderr.trim()}`);
  }
  return parseSysctlDump(r.stdout, keys);
}

/** The whole actual state the plan is compared with; the processes run in parallel. */
export async function readActualState(
  plan: KernelPlan,
  opts: { hostNamespace?: string | undefined; counts?: ProcessCounts } = {},
): Promise<ActualState> {
  const routerExists = namespaceExists(plan.routerNamespace);
  const keys = Object.keys(plan.routerSysctls);
  const [host, router, routerSysctls] = await Promise.all([
    readNamespace(opts.hostNamespace, opts.counts),
    routerExists ? readNamespace(plan.routerNamespace, opts.counts) : undefined,
    routerExists ? readSysctls(plan.routerNamespace, keys, opts.counts) : {},
  ]);
  return router === undefined ? { host, routerSysctls } : { host, router, routerSysctls };
}
