// Guest scripts and FRR configs of the lab, generated from the topology (topology.ts). Each stage is
// one bash script run by one `exec` in the UML guest: starting a process costs ~20–100 ms there and
// Node ~10× its host time, so work is batched (`ip -batch`) and daemons start in parallel.
import { posix } from 'node:path';
import {
  addressOf,
  type ExternalHost,
  isIpv6,
  type LabNode,
  type LabTopology,
  namespaces,
  networkOf,
} from './topology.js';

/** Where things live inside the guest. */
export interface GuestPaths {
  /** The checkout (same path as on the host). */
  repo: string;
  /** Host-visible directory (hostfs, the lab's state dir `guest/`): logs, status files, FRR configs. */
  share: string;
  /** Guest-only scratch directory (tmpfs): manifests the agents watch, sockets, pid files. */
  work: string;
  /**
   * static (default): each node's `openperouter static` watches its own manifest directory.
   * kubernetes: one API server stand-in (lab/guest/kube-cluster.ts) holds the objects, mirrored from one
   * shared manifest directory; the nodemarker indexes the nodes and serves the webhooks; each node runs
   * `openperouter controller`.
   */
  mode?: LabMode;
}

export type LabMode = 'static' | 'kubernetes';

/** The namespace the lab's objects live in (the lab manifests say so too). */
export const LAB_NAMESPACE = 'openperouter-system';
const APISERVER_PORT = 6443;
const WEBHOOK_PORT = 9443;

/** Paths of the Kubernetes-mode cluster inside the guest. */
export function clusterPaths(p: GuestPaths) {
  const work = posix.join(p.work, 'cluster');
  const share = posix.join(p.share, 'cluster');
  return {
    work,
    share,
    manifestDir: posix.join(work, 'manifests'),
    kubeconfig: posix.join(work, 'kubeconfig'),
    apiserverPid: posix.join(work, 'apiserver.pid'),
    apiserverLog: posix.join(share, 'apiserver.log'),
    nodemarkerPid: posix.join(work, 'nodemarker.pid'),
    nodemarkerLog: posix.join(share, 'nodemarker.log'),
  };
}

export const GUEST_SHARE = '/run/lab-host';
export const GUEST_WORK = '/tmp/lab';

export function q(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

/** Per-node paths inside the guest. */
export function nodePaths(p: GuestPaths, node: LabNode) {
  const work = posix.join(p.work, node.name);
  const share = posix.join(p.share, node.name);
  return {
    work,
    share,
    // Kubernetes mode: every node's objects come from the one cluster, fed from one directory.
    configDir: p.mode === 'kubernetes' ? clusterPaths(p).manifestDir : posix.join(work, 'config'),
    nodeFile: posix.join(work, 'node.yaml'),
    reloaderSocket: posix.join(work, 'reloader.sock'),
    reloaderState: posix.join(work, 'frr-last-good.conf'),
    reloaderPid: posix.join(work, 'reloader.pid'),
    agentState: posix.join(work, 'static-last-good.json'),
    agentPid: posix.join(work, 'agent.pid'),
    agentLog: posix.join(share, 'agent.log'),
    reloaderLog: posix.join(share, 'reloader.log'),
    statusFile: posix.join(share, 'status.yaml'),
  };
}

// ---------------------------------------------------------------------------------------------------
// FRR instances

export type FrrDaemonName = 'zebra' | 'bgpd' | 'staticd' | 'bfdd';

export interface FrrInstanceSpec {
  /** FRR pathspace (-N), also the label in logs. */
  pathspace: string;
  netns: string;
  daemons: FrrDaemonName[];
  /** System hostname the daemons see (private UTS namespace); undefined = the guest's. */
  hostname?: string;
  /** Config loaded with `vtysh -b` after start (guest path); undefined = start empty. */
  config?: string;
}

/** The leaf's FRR and the nodes' router FRRs (the fabric), started before the agents. */
export function fabricFrr(t: LabTopology, p: GuestPaths): FrrInstanceSpec[] {
  return [
    {
      pathspace: t.leaf.namespace,
      netns: t.leaf.namespace,
      daemons: ['zebra', 'bgpd', 'bfdd'],
      config: posix.join(p.share, 'frr', `${t.leaf.namespace}.conf`),
    },
    ...t.nodes.map(routerFrr),
  ];
}

/**
 * The host speakers' FRRs, started once the agents created the host sides of the veths. Started
 * earlier, FRR 8.4's zebra was seen to miss the IPv4 address of a veth that the agent created and
 * whose peer came up moments later (no ZEBRA_INTERFACE_ADDRESS_ADD ever, `show interface` without
 * the address while the kernel has it): the speaker's session over it then fails for good with
 * "nexthop_set failed". A zebra that starts afterwards reads the addresses with its initial dump.
 */
export function speakerFrr(t: LabTopology, p: GuestPaths): FrrInstanceSpec[] {
  return t.nodes.map((n) => ({
    pathspace: n.hostNamespace,
    netns: n.hostNamespace,
    daemons: ['zebra', 'bgpd'],
    config: posix.join(p.share, 'frr', `${n.hostNamespace}.conf`),
  }));
}

/** The node's PE FRR: empty at start, configured by our reloader; sees the node's name as hostname. */
export function routerFrr(n: LabNode): FrrInstanceSpec {
  return {
    pathspace: n.routerNamespace,
    netns: n.routerNamespace,
    daemons: ['zebra', 'bgpd', 'staticd', 'bfdd'],
    hostname: n.name,
  };
}

const FRR_FUNCTIONS = String.raw`
frr_dirs() { # pathspace
  mkdir -p "/etc/frr/$1" "/var/run/frr/$1"
  printf 'service integrated-vtysh-config\n' >"/etc/frr/$1/vtysh.conf"
  [ -f "/etc/frr/$1/frr.conf" ] || : >"/etc/frr/$1/frr.conf"
  chown -R frr:frr "/etc/frr/$1" "/var/run/frr/$1"
}
in_uts() { # hostname|"" cmd...
  local h=$1; shift
  if [ -n "$h" ]; then unshare --uts sh -c 'hostname "$1" && shift && exec "$@"' sh "$h" "$@"; else "$@"; fi
}
frr_daemon() { # pathspace netns hostname daemon
  local ps=$1 ns=$2 h=$3 d=$4
  local args=(-d -N "$ps" -P 0 -u frr -g frr -i "/var/run/frr/$ps/$d.pid" --log "file:/var/run/frr/$ps/$d.log")
  [ "$d" = bfdd ] && args+=(--bfdctl "/var/run/frr/$ps/bfdd.sock")
  in_uts "$h" ip netns exec "$ns" "/usr/lib/frr/$d" "${'${'}args[@]}" || echo "starting $d of $ps failed" >&2
}
frr_wait() { # pathspace daemons...: wait for every daemon's vty socket (no vtysh: 0.3-0.8 s each in UML)
  local ps=$1 d; shift
  for _ in $(seq 1 300); do
    local ok=1
    for d in "$@"; do [ -S "/var/run/frr/$ps/$d.vty" ] || ok=0; done
    [ $ok = 1 ] && return 0
    sleep 0.1
  done
  echo "FRR $ps: not every daemon of $* opened its vty socket" >&2
  return 1
}
frr_kill() { # pathspace: SIGKILL every daemon of the instance
  local f pid
  for f in /var/run/frr/$1/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null) && [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -f "$f"
  done
  return 0
}
`;

/** Starts the instances' daemons in parallel (zebras first), waits for them, loads their configs. */
export function startFrrScript(instances: FrrInstanceSpec[]): string {
  const lines = ['set -u', FRR_FUNCTIONS];
  for (const i of instances) {
    lines.push(`frr_dirs ${q(i.pathspace)}`);
    if (i.config !== undefined)
      lines.push(`install -o frr -g frr -m 644 ${q(i.config)} /etc/frr/${q(i.pathspace)}/frr.conf`);
  }
  const start = (d: FrrDaemonName, i: FrrInstanceSpec) =>
    `frr_daemon ${q(i.pathspace)} ${q(i.netns)} ${q(i.hostname ?? '')} ${d} &`;
  // zebra first, and ready (vty socket open, kernel interfaces read): the other daemons connect to its
  // zserv socket, and a bgpd that connected earlier was seen to miss interfaces and their addresses
  // for good ("nexthop_set failed" on every connect to a host-session peer).
  for (const i of instances) lines.push(start('zebra', i));
  lines.push('wait');
  for (const i of instances) lines.push(`frr_wait ${q(i.pathspace)} zebra &`);
  lines.push('wait');
  for (const i of instances) for (const d of i.daemons.filter((x) => x !== 'zebra')) lines.push(start(d, i));
  lines.push('wait', 'rc=0');
  // Per instance: wait for its daemons, then load its config (if any).
  lines.push("pids=''");
  for (const i of instances) {
    const load =
      i.config === undefined
        ? ''
        : ` && { vtysh -N ${q(i.pathspace)} -b >/var/run/frr/${q(i.pathspace)}/vtysh-b.log 2>&1 || { echo "loading ${i.pathspace}'s config failed:" >&2; cat /var/run/frr/${q(i.pathspace)}/vtysh-b.log >&2; false; }; }`;
    lines.push(`{ frr_wait ${q(i.pathspace)} ${i.daemons.join(' ')}${load}; } & pids="$pids $!"`);
  }
  lines.push('for p in $pids; do wait "$p" || rc=1; done', 'exit $rc');
  return lines.join('\n');
}

/** Kills an instance's daemons (SIGKILL, like a crash). */
export function killFrrScript(i: FrrInstanceSpec): string {
  return `${FRR_FUNCTIONS}\nfrr_kill ${q(i.pathspace)}\n`;
}

// ---------------------------------------------------------------------------------------------------
// Kernel topology

function batch(ns: string, lines: string[]): string {
  if (lines.length === 0) return '';
  return `ip -n ${q(ns)} -batch - <<'EOF' || { echo "topology of ${ns} failed" >&2; exit 1; }\n${lines.join('\n')}\nEOF`;
}

function addAddr(cidr: string, dev: string): string {
  return `address add ${cidr} dev ${dev}${isIpv6(cidr) ? ' nodad' : ''}`;
}

/** Namespaces, links and addresses of the whole lab except what the agents create. */
export function topologyScript(t: LabTopology): string {
  const L = t.leaf;
  const leaf: string[] = [
    'link set lo up',
    `address add ${L.vtep}/32 dev lo`,
    `link add ${L.nodeBridge} type bridge`,
    `link set ${L.nodeBridge} up`,
    addAddr(L.nodeAddress, L.nodeBridge),
  ];
  for (const v of L.vrfs) {
    leaf.push(
      `link add ${v.name} type vrf table ${v.table}`,
      `link set ${v.name} up`,
      `link add ${v.bridge} type bridge`,
      `link set ${v.bridge} master ${v.name} addrgenmode none`,
      `link set ${v.bridge} up`,
      `link add ${v.vxlan} type vxlan id ${v.vni} local ${L.vtep} dstport 4789 nolearning`,
      `link set ${v.vxlan} master ${v.bridge} addrgenmode none`,
      `link set ${v.vxlan} type bridge_slave neigh_suppress on learning off`,
      `link set ${v.vxlan} up`,
    );
  }
  for (const h of t.externalHosts) {
    leaf.push(`link add ${h.leafInterface} type veth peer name eth0 netns ${h.namespace}`);
    if (h.vrf !== undefined) leaf.push(`link set ${h.leafInterface} master ${h.vrf}`);
    leaf.push(`link set ${h.leafInterface} up`, ...h.leafAddresses.map((a) => addAddr(a, h.leafInterface)));
  }
  for (const n of t.nodes) {
    leaf.push(
      `link add ${n.underlay.leafPort} type veth peer name ${n.underlay.interface} netns ${n.hostNamespace}`,
      `link set ${n.underlay.leafPort} master ${L.nodeBridge}`,
      `link set ${n.underlay.leafPort} up`,
    );
  }
  const parts: string[] = [
    'set -u',
    `ip -batch - <<'EOF' || exit 1\n${namespaces(t)
      .map((ns) => `netns add ${ns}`)
      .join('\n')}\nEOF`,
    // The leaf routes between its VRFs' hosts and the fabric: forwarding on, VRF strict mode.
    `ip netns exec ${q(L.namespace)} sh -c 'for f in /proc/sys/net/ipv4/conf/all/forwarding /proc/sys/net/ipv6/conf/all/forwarding /proc/sys/net/vrf/strict_mode; do echo 1 >$f; done' || exit 1`,
    batch(L.namespace, leaf),
  ];
  // Once the leaf created the veths, each namespace's batch is independent (a workload's after its
  // node's, which creates the workload's veth): run them in parallel.
  const jobs: string[][] = [];
  for (const h of t.externalHosts) jobs.push([batch(h.namespace, hostLines(h))]);
  for (const n of t.nodes) {
    const host: string[] = [
      'link set lo up',
      ...n.speaker.sessions.flatMap((s) => s.services.map((c) => addAddr(c, 'lo'))),
      `link set ${n.underlay.interface} up`,
      addAddr(n.underlay.address, n.underlay.interface),
    ];
    const w = n.workload;
    if (w !== undefined) {
      host.push(
        `link add ${w.hostPort} type veth peer name eth0 netns ${w.namespace}`,
        `link set ${w.hostPort} up`,
      );
    }
    const job = [batch(n.hostNamespace, host)];
    if (w !== undefined) {
      job.push(
        batch(w.namespace, [
          'link set lo up',
          'link set eth0 up',
          addAddr(w.address, 'eth0'),
          `route add default via ${w.gateway}`,
        ]),
      );
    }
    jobs.push(job, [batch(n.routerNamespace, ['link set lo up'])]);
  }
  parts.push(...parallel(jobs));
  return parts.join('\n');
}

/** Runs each job (a list of commands, in order) in the background; exits 1 if any failed. */
function parallel(jobs: string[][]): string[] {
  return [
    "pids=''",
    ...jobs.map((j) => `( set -e\n${j.join('\n')}\n) & pids="$pids $!"`),
    'rc=0',
    'for p in $pids; do wait "$p" || rc=1; done',
    'exit $rc',
  ];
}

function hostLines(h: ExternalHost): string[] {
  const lines = ['link set lo up', 'link set eth0 up', ...h.addresses.map((a) => addAddr(a, 'eth0'))];
  const v4 = h.leafAddresses.find((a) => !isIpv6(a));
  const v6 = h.leafAddresses.find((a) => isIpv6(a));
  if (v4 !== undefined) lines.push(`route add default via ${addressOf(v4)}`);
  if (v6 !== undefined) lines.push(`route add ::/0 via ${addressOf(v6)}`);
  return lines;
}

// ---------------------------------------------------------------------------------------------------
// FRR configs of the leaf and of the host speakers (the routers' configs come from our agent)

export function leafFrrConfig(t: LabTopology): string {
  const L = t.leaf;
  const out: string[] = ['frr defaults traditional', 'log timestamp precision 3', '!'];
  for (const v of L.vrfs) out.push(`vrf ${v.name}`, ` vni ${v.vni}`, 'exit-vrf', '!');
  out.push(
    'bfd',
    ' profile nodes',
    `  transmit-interval ${L.bfd.transmitMs}`,
    `  receive-interval ${L.bfd.receiveMs}`,
    `  detect-multiplier ${L.bfd.multiplier}`,
    ' exit',
    'exit',
    '!',
    `router bgp ${L.asn}`,
    ` bgp router-id ${L.routerId}`,
    ' no bgp ebgp-requires-policy',
    ' no bgp default ipv4-unicast',
    ' no bgp network import-check',
    ' neighbor nodes peer-group',
    ` neighbor nodes remote-as ${t.routerAsn}`,
    ' neighbor nodes timers connect 2',
    ' neighbor nodes bfd',
    ' neighbor nodes bfd profile nodes',
    ...t.nodes.map((n) => ` neighbor ${addressOf(n.underlay.address)} peer-group nodes`),
    ' address-family ipv4 unicast',
    `  network ${L.vtep}/32`,
    ...t.externalHosts
      .filter((h) => h.vrf === undefined)
      .flatMap((h) => h.leafAddresses.filter((a) => !isIpv6(a)).map((a) => `  network ${networkOf(a)}`)),
    '  neighbor nodes activate',
    ' exit-address-family',
    ' address-family l2vpn evpn',
    '  neighbor nodes activate',
    '  advertise-all-vni',
    ' exit-address-family',
    'exit',
    '!',
  );
  for (const v of L.vrfs) {
    out.push(
      `router bgp ${L.asn} vrf ${v.name}`,
      ` bgp router-id ${L.routerId}`,
      ' no bgp ebgp-requires-policy',
      ' address-family ipv4 unicast',
      '  redistribute connected',
      ' exit-address-family',
      ' address-family ipv6 unicast',
      '  redistribute connected',
      ' exit-address-family',
      ' address-family l2vpn evpn',
      '  advertise ipv4 unicast',
      '  advertise ipv6 unicast',
      ' exit-address-family',
      'exit',
      '!',
    );
  }
  return `${out.join('\n')}\n`;
}

/** The node's host BGP speaker (stands in for MetalLB / FRR-K8s): one session per VRF + passthrough. */
export function speakerFrrConfig(n: LabNode): string {
  const s = n.speaker;
  const out: string[] = ['frr defaults traditional', 'log timestamp precision 3', '!'];
  const plName = (i: number) => `svc-${i}`;
  s.sessions.forEach((ses, i) => {
    const kw = isIpv6(ses.localAddress) ? 'ipv6' : 'ip';
    ses.services.forEach((svc, j) => {
      out.push(`${kw} prefix-list ${plName(i)} seq ${(j + 1) * 5} permit ${svc}`);
    });
    if (ses.services.length === 0) out.push(`${kw} prefix-list ${plName(i)} seq 5 deny any`);
  });
  out.push(
    '!',
    `router bgp ${s.asn}`,
    ` bgp router-id ${s.routerId}`,
    ' no bgp ebgp-requires-policy',
    ' no bgp default ipv4-unicast',
    ' no bgp network import-check',
  );
  for (const ses of s.sessions) {
    out.push(` neighbor ${ses.routerAddress} remote-as ${ses.routerAsn}`);
    out.push(` neighbor ${ses.routerAddress} timers connect 2`);
    if (ses.localAs !== undefined)
      out.push(` neighbor ${ses.routerAddress} local-as ${ses.localAs} no-prepend replace-as`);
  }
  for (const fam of ['ipv4', 'ipv6'] as const) {
    const sessions = s.sessions
      .map((ses, i) => ({ ses, i }))
      .filter(({ ses }) => isIpv6(ses.localAddress) === (fam === 'ipv6'));
    if (sessions.length === 0) continue;
    out.push(` address-family ${fam} unicast`);
    for (const { ses } of sessions) for (const svc of ses.services) out.push(`  network ${svc}`);
    for (const { ses, i } of sessions) {
      out.push(
        `  neighbor ${ses.routerAddress} activate`,
        `  neighbor ${ses.routerAddress} prefix-list ${plName(i)} out`,
      );
    }
    out.push(' exit-address-family');
  }
  out.push('exit', '!');
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------
// Agents: our reloader and static agent per node, and the workload "CNI"

export function nodeFileYaml(n: LabNode): string {
  return `nodeName: ${n.name}\nnodeIndex:\n  index: ${n.index}\n`;
}

/** Starts a detached process in the node's UTS namespace, its pid in PIDFILE, output appended to LOG. */
const BG_FUNCTIONS = `
bg_start() { # hostname pidfile log cmd...
  local h=$1 pidf=$2 log=$3; shift 3
  setsid unshare --uts sh -c 'echo $$ >"$1" && hostname "$2" && shift 2 && exec "$@"' sh "$pidf" "$h" "$@" </dev/null >>"$log" 2>&1 &
}
bg_stop() { # pidfile [signal]: signal the process and wait up to 20 s for it to end
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  kill -"${'${'}2:-TERM}" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 200); do
    [ -e "/proc/$pid" ] || return 0
    [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null
  return 0
}
`;

export function reloaderCommand(p: GuestPaths, n: LabNode): string[] {
  const np = nodePaths(p, n);
  return [
    posix.join(p.repo, 'bin/openperouter'),
    'reloader',
    '--socket',
    np.reloaderSocket,
    '--pathspace',
    n.routerNamespace,
    '--state-file',
    np.reloaderState,
  ];
}

export function agentCommand(p: GuestPaths, n: LabNode): string[] {
  const np = nodePaths(p, n);
  if (p.mode === 'kubernetes') {
    return [
      posix.join(p.repo, 'bin/openperouter'),
      'controller',
      '--kubeconfig',
      clusterPaths(p).kubeconfig,
      '--node-name',
      n.name,
      '--namespace',
      LAB_NAMESPACE,
      '--reloader-socket',
      np.reloaderSocket,
      '--host-namespace',
      n.hostNamespace,
      '--router-namespace',
      n.routerNamespace,
      '--metrics-bind-address',
      '0',
      '--health-probe-bind-address',
      '0',
      // Guest tmpfs: the default (/var/lib/openperouter) is the host's own disk through hostfs.
      '--state-file',
      np.agentState,
    ];
  }
  return [
    posix.join(p.repo, 'bin/openperouter'),
    'static',
    '--config-dir',
    np.configDir,
    '--node-file',
    np.nodeFile,
    '--reloader-socket',
    np.reloaderSocket,
    '--status-file',
    np.statusFile,
    // Guest tmpfs: the default (/var/lib/openperouter) is the host's own disk through hostfs.
    '--state-file',
    np.agentState,
    '--host-namespace',
    n.hostNamespace,
    '--router-namespace',
    n.routerNamespace,
    '--debounce-ms',
    '200',
  ];
}

export type NodeProcess = 'reloader' | 'agent';

/**
 * Kubernetes mode: the API server stand-in with the lab's nodes (lab/guest/kube-cluster.ts, which also
 * mirrors the shared manifest directory into it), then the nodemarker (node indexes + webhooks).
 */
export function startClusterScript(t: LabTopology, p: GuestPaths): string {
  const c = clusterPaths(p);
  const node = posix.join(p.repo, 'node_modules/.bin/node');
  const nodeArgs = t.nodes.flatMap((n) => ['--node', n.name]);
  const apiserver = [
    node,
    posix.join(p.repo, 'dist/lab/guest/kube-cluster.js'),
    '--state-dir',
    c.work,
    '--share',
    p.share,
    '--manifests',
    c.manifestDir,
    '--namespace',
    LAB_NAMESPACE,
    '--apiserver-port',
    String(APISERVER_PORT),
    '--webhook-port',
    String(WEBHOOK_PORT),
    ...nodeArgs,
  ];
  const nodemarker = [
    posix.join(p.repo, 'bin/openperouter'),
    'nodemarker',
    '--kubeconfig',
    c.kubeconfig,
    '--namespace',
    LAB_NAMESPACE,
    '--webhook-port',
    String(WEBHOOK_PORT),
    '--cert-service-name',
    'openpe-webhook-service',
    '--metrics-bind-address',
    '0',
    '--health-probe-bind-address',
    '0',
  ];
  return [
    'set -u',
    BG_FUNCTIONS,
    `mkdir -p ${q(c.manifestDir)} ${q(c.share)}`,
    `cp ${q(posix.join(p.repo, 'lab', t.manifests))}/*.yaml ${q(c.manifestDir)}/`,
    `bg_start cluster ${q(c.apiserverPid)} ${q(c.apiserverLog)} ${apiserver.map(q).join(' ')}`,
    // The kubeconfig appears once the API server listens.
    `for _ in $(seq 1 300); do [ -s ${q(c.kubeconfig)} ] && break; sleep 0.1; done`,
    `[ -s ${q(c.kubeconfig)} ] || { echo "the API server stand-in did not start:"; cat ${q(c.apiserverLog)}; exit 1; }`,
    `bg_start cluster ${q(c.nodemarkerPid)} ${q(c.nodemarkerLog)} ${nodemarker.map(q).join(' ')}`,
  ].join('\n');
}

export function startProcessScript(p: GuestPaths, n: LabNode, which: NodeProcess): string {
  const np = nodePaths(p, n);
  const cmd = which === 'reloader' ? reloaderCommand(p, n) : agentCommand(p, n);
  const [pid, log] = which === 'reloader' ? [np.reloaderPid, np.reloaderLog] : [np.agentPid, np.agentLog];
  return `${BG_FUNCTIONS}\nbg_start ${q(n.name)} ${q(pid)} ${q(log)} ${cmd.map(q).join(' ')}\n`;
}

export function stopProcessScript(p: GuestPaths, n: LabNode, which: NodeProcess, signal = 'TERM'): string {
  const np = nodePaths(p, n);
  return `${BG_FUNCTIONS}\nbg_stop ${q(which === 'reloader' ? np.reloaderPid : np.agentPid)} ${signal}\n`;
}

/**
 * Per node: the manifest directory and node file, the reloader and the agent (in the node's UTS
 * namespace, so FRR's hostname is the node name), and the workload attacher: a stand-in for a CNI
 * plugin that plugs the workload's veth into br-hs-<VNI> whenever the agent (re)creates the bridge.
 */
export function startAgentsScript(t: LabTopology, p: GuestPaths): string {
  const lines = ['set -u', BG_FUNCTIONS];
  for (const n of t.nodes) {
    const np = nodePaths(p, n);
    lines.push(`mkdir -p ${q(np.work)} ${q(np.configDir)} ${q(np.share)}`);
    if (p.mode !== 'kubernetes') {
      lines.push(
        `cp ${q(posix.join(p.repo, 'lab', t.manifests))}/*.yaml ${q(np.configDir)}/`,
        `printf '%s' ${q(nodeFileYaml(n))} >${q(np.nodeFile)}`,
      );
    }
    lines.push(startProcessScript(p, n, 'reloader').replace(BG_FUNCTIONS, '').trim());
    lines.push(startProcessScript(p, n, 'agent').replace(BG_FUNCTIONS, '').trim());
    const w = n.workload;
    if (w !== undefined) {
      const attach = posix.join(p.repo, 'lab/guest/attach-workload.sh');
      lines.push(
        `setsid ${q(attach)} ${q(n.hostNamespace)} ${q(w.bridge)} ${q(w.hostPort)} </dev/null >/dev/null 2>&1 &`,
      );
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Status: everything status() needs, gathered by one script (vtysh and ip in parallel, one probe process)

export interface Probe {
  id: string;
  netns: string;
  /** Source address; undefined = the kernel's choice. */
  source?: string;
  target: string;
}

export function statusScript(t: LabTopology, p: GuestPaths, probes: Probe[], probeTimeoutS: number): string {
  const jobs: [string, string][] = [
    [`leaf.bgp`, `vtysh -N ${q(t.leaf.namespace)} -c 'show bgp vrf all summary json'`],
    [`leaf.bfd`, `vtysh -N ${q(t.leaf.namespace)} -c 'show bfd peers json'`],
    [`leaf.vrfs`, `ip -n ${q(t.leaf.namespace)} -j -d link show type vrf`],
    [`leaf.r4`, `ip -n ${q(t.leaf.namespace)} -j -4 route show table all`],
    [`leaf.r6`, `ip -n ${q(t.leaf.namespace)} -j -6 route show table all`],
  ];
  for (const n of t.nodes) {
    jobs.push(
      [`${n.name}.speaker`, `vtysh -N ${q(n.hostNamespace)} -c 'show bgp summary json'`],
      [`${n.name}.router`, `vtysh -N ${q(n.routerNamespace)} -c 'show bgp vrf all summary json'`],
      [`${n.name}.vrfs`, `ip -n ${q(n.routerNamespace)} -j -d link show type vrf`],
      [`${n.name}.r4`, `ip -n ${q(n.routerNamespace)} -j -4 route show table all`],
      [`${n.name}.r6`, `ip -n ${q(n.routerNamespace)} -j -6 route show table all`],
      [`${n.name}.host4`, `ip -n ${q(n.hostNamespace)} -j -4 route show`],
      [`${n.name}.host6`, `ip -n ${q(n.hostNamespace)} -j -6 route show`],
      [`${n.name}.haddr`, `ip -n ${q(n.hostNamespace)} -j addr show`],
      [`${n.name}.raddr`, `ip -n ${q(n.routerNamespace)} -j addr show`],
      [`${n.name}.hzebra`, `vtysh -N ${q(n.hostNamespace)} -c 'show interface vrf all brief'`],
      [`${n.name}.rzebra`, `vtysh -N ${q(n.routerNamespace)} -c 'show interface vrf all brief'`],
    );
  }
  const probeLines = probes.map((x) => `${x.id} ${x.netns} ${x.source ?? '-'} ${x.target}`).join('\n');
  jobs.push([
    'probes',
    `perl ${q(posix.join(p.repo, 'lab/guest/probe.pl'))} ${probeTimeoutS} 0.3 <<'EOF'\n${probeLines}\nEOF`,
  ]);
  return [
    'o=$(mktemp -d /tmp/lab-status.XXXXXX)',
    ...jobs.map(([name, cmd]) => `{ ${cmd}\n} >"$o/${name}" 2>&1 &`),
    'wait',
    'for f in "$o"/*; do printf "\\n### %s\\n" "$(basename "$f")"; cat "$f"; done',
    'rm -rf "$o"',
  ].join('\n');
}

/** Splits the output of statusScript into its named sections. */
export function splitSections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = text.split(/^### (\S+)\n/m);
  for (let i = 1; i + 1 < parts.length; i += 2) out.set(parts[i] ?? '', parts[i + 1] ?? '');
  return out;
}
