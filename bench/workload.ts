// The benchmark workload: one node, N VNIs. VNI i is an L3VNI (VRF `b<i>`, VNI 10000+i) with a
// dual-stack host session, plus an L2VNI (VNI 20000+i) in the same VRF with a dual-stack anycast
// gateway. API objects are generated as plain manifests and go through the same validation as a
// user's files (validateObject), then toSnapshot / resolveNode / renderFrr / renderKernel.
import { toSnapshot } from '../src/api/load.js';
import type { ApiSnapshot, RoutingObject } from '../src/api/types.js';
import { validateObject } from '../src/api/validate-object.js';
import type { KernelPlan } from '../src/kernel/model.js';
import { renderFrr } from '../src/render/frr.js';
import { renderKernel } from '../src/render/kernel.js';
import type { NodeConfig, NodeFacts } from '../src/render/model.js';
import { resolveNode } from '../src/render/resolve.js';

export const API = 'network.openperouter.io/v1alpha1';
export const NS = 'openperouter-system';

export interface WorkloadOptions {
  /** Underlay NIC name (must exist in the host namespace when the kernel plan is applied). */
  nic?: string;
  /** ToR neighbor address. */
  torAddress?: string;
}

export function underlayManifest(o: WorkloadOptions = {}): Record<string, unknown> {
  return {
    apiVersion: API,
    kind: 'Underlay',
    metadata: { name: 'underlay', namespace: NS },
    spec: {
      asn: 64514,
      interfaces: [{ type: 'NetworkDevice', networkDevice: { interfaceName: o.nic ?? 'toswitch' } }],
      neighbors: [{ asn: 64512, address: o.torAddress ?? '192.168.11.2' }],
      tunnelEndpoint: { cidrs: ['100.65.0.0/24'] },
    },
  };
}

/** The manifests of VNI number i (0-based, i < 4096). */
export function vniManifests(i: number): Record<string, unknown>[] {
  const hi = i >> 8;
  const lo = i & 255;
  const name = `b${i}`;
  return [
    {
      apiVersion: API,
      kind: 'L3VNI',
      metadata: { name, namespace: NS },
      spec: {
        vrf: name,
        vni: 10_000 + i,
        hostSession: {
          asn: 64514,
          hostASN: 64515,
          localCIDR: {
            ipv4: `10.${hi}.${lo}.0/24`,
            ipv6: i === 0 ? 'fd00::/64' : `fd00:${i.toString(16)}::/64`,
          },
        },
      },
    },
    {
      apiVersion: API,
      kind: 'L2VNI',
      metadata: { name: `${name}-l2`, namespace: NS },
      spec: {
        vni: 20_000 + i,
        routingDomain: { type: 'L3VNI', l3vni: { name } },
        gatewayIPs: [`172.${16 + hi}.${lo}.1/24`, i === 0 ? 'fd01::1/64' : `fd01:${i.toString(16)}::1/64`],
      },
    },
  ];
}

export function workloadManifests(n: number, o: WorkloadOptions = {}): Record<string, unknown>[] {
  const out = [underlayManifest(o)];
  for (let i = 0; i < n; i++) out.push(...vniManifests(i));
  return out;
}

/** Validates generated manifests exactly like loaded files; throws on any issue (a bug in the generator). */
export function toObjects(manifests: Record<string, unknown>[]): RoutingObject[] {
  return manifests.map((m) => {
    const v = validateObject(m);
    if (!v.object || v.issues.length > 0) {
      throw new Error(`workload object invalid: ${JSON.stringify(v.issues)}`);
    }
    return v.object;
  });
}

export const FACTS: NodeFacts = { name: 'bench-node', index: 1, labels: {} };

export interface Rendered {
  config: NodeConfig;
  frr: string;
  kernel: KernelPlan;
}

export function render(snapshot: ApiSnapshot, facts: NodeFacts = FACTS): Rendered {
  const r = resolveNode(snapshot, facts);
  if (!r.config) throw new Error(`underlay failed: ${JSON.stringify(r.failures)}`);
  if (r.failures.length > 0) throw new Error(`objects skipped: ${JSON.stringify(r.failures.slice(0, 3))}`);
  return { config: r.config, frr: renderFrr(r.config), kernel: renderKernel(r.config) };
}

/** Objects → snapshot → FRR text + kernel plan, for N VNIs. */
export function renderWorkload(n: number, facts: NodeFacts = FACTS, o: WorkloadOptions = {}): Rendered {
  return render(toSnapshot(toObjects(workloadManifests(n, o))), facts);
}
