// L3VNI (EVPN type-5 routing domain) and L2VNI (EVPN type-2/3 stretched segment).
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { Int32, LabelSelector, List, Obj, Opt, Str, StringEnum } from './common.js';
import { HostSession } from './hostsession.js';

const routeTargets = (what: string) =>
  List(Str({ maxLength: 21 }), {
    maxItems: 100,
    listType: 'atomic',
    description: `${what} route targets (ASN:NN or A.B.C.D:NN); absent = FRR's automatic ASN:VNI.`,
  });

const vni = (description: string) => Int32({ minimum: 1, maximum: 16777215, description });
const vxlanPort = () => Opt(Int32({ default: 4789, description: 'VXLAN UDP port.' }));
const underlayAddressFamily = () =>
  Opt(
    StringEnum(['IPv4', 'IPv6'], {
      description:
        'Tunnel endpoint family used as VXLAN source; default IPv4 if the node has one, else IPv6.',
    }),
  );

export const L3VNISpec = Obj(
  {
    nodeSelector: Opt(LabelSelector),
    vrf: Str({
      minLength: 1,
      maxLength: 15,
      pattern: '^[a-zA-Z][a-zA-Z0-9_-]*$',
      description: 'Linux VRF name.',
    }),
    vni: vni('L3 VNI; unique per node across L3VNIs and L2VNIs.'),
    vxlanPort: vxlanPort(),
    underlayAddressFamily: underlayAddressFamily(),
    hostSession: Opt(HostSession),
    exportRTs: Opt(routeTargets('Export')),
    importRTs: Opt(routeTargets('Import')),
  },
  {
    celRules: [
      {
        rule: '!has(self.hostSession) || !has(self.hostSession.hostASN) || self.hostSession.hostASN != self.hostSession.asn',
        message: 'hostASN must be different from asn',
      },
    ],
  },
);

const bridgeConfig = () =>
  Obj(
    {
      lifecycle: StringEnum(['Managed', 'External'], {
        description: 'Managed: the agent owns bridge br-hs-<VNI>. External: attach to an existing bridge.',
      }),
      name: Opt(
        Str({ maxLength: 15, pattern: '^[a-zA-Z][a-zA-Z0-9_-]*$', description: 'Existing bridge name.' }),
      ),
    },
    {
      celRules: [
        {
          rule: "(self.lifecycle == 'Managed') == (!has(self.name) || self.name == '')",
          message: 'name must be set when lifecycle is External, and must not be set when it is Managed.',
        },
      ],
    },
  );

export const HostMaster = Obj(
  {
    type: StringEnum(['LinuxBridge', 'OVSBridge'], { description: 'Bridge technology on the host.' }),
    linuxBridge: Opt(bridgeConfig()),
    ovsBridge: Opt(bridgeConfig()),
  },
  {
    celRules: [
      {
        rule: "(self.type == 'LinuxBridge') == has(self.linuxBridge) && (self.type == 'OVSBridge') == has(self.ovsBridge)",
        message:
          "type/config mismatch: 'LinuxBridge' requires linuxBridge field, 'OVSBridge' requires ovsBridge field",
      },
    ],
  },
);

const reference = () => Obj({ name: Str({ minLength: 1 }) });

export const RoutingDomain = Obj(
  {
    type: StringEnum(['L3VNI', 'L3VPN'], { description: 'Kind of the object providing the VRF.' }),
    l3vni: Opt(reference()),
    l3vpn: Opt(reference()),
  },
  {
    celRules: [
      {
        rule: "self.type != 'L3VNI' || (has(self.l3vni) && !has(self.l3vpn))",
        message: 'type L3VNI requires l3vni to be set and l3vpn to be unset',
      },
      {
        rule: "self.type != 'L3VPN' || (has(self.l3vpn) && !has(self.l3vni))",
        message: 'type L3VPN requires l3vpn to be set and l3vni to be unset',
      },
    ],
  },
);

export const L2VNISpec = Obj(
  {
    nodeSelector: Opt(LabelSelector),
    vni: vni('L2 VNI; unique per node across L3VNIs and L2VNIs.'),
    vxlanPort: vxlanPort(),
    underlayAddressFamily: underlayAddressFamily(),
    routingDomain: Opt(RoutingDomain),
    hostMaster: Opt(HostMaster),
    gatewayIPs: Opt(
      List(Type.String(), {
        maxItems: 2,
        listType: 'atomic',
        description:
          'Anycast gateway addresses (IP/prefix) on the router-side bridge, at most one per family.',
        celRules: [{ rule: 'self == oldSelf', message: 'GatewayIPs cannot be changed' }],
      }),
    ),
  },
  {
    celRules: [
      {
        rule: '!has(self.gatewayIPs) || size(self.gatewayIPs) == 0 || has(self.routingDomain)',
        message: 'gatewayIPs cannot be set without routingDomain',
      },
    ],
  },
);

export const L3PassthroughSpec = Obj({
  nodeSelector: Opt(LabelSelector),
  hostSession: HostSession,
});

export const L3VPNSpec = Obj(
  {
    nodeSelector: Opt(LabelSelector),
    vrf: Str({ minLength: 1, maxLength: 15, pattern: '^[a-zA-Z][a-zA-Z0-9_-]*$' }),
    exportRTs: Opt(routeTargets('Export')),
    importRTs: routeTargets('Import'),
    rdAssignedNumber: Int32({ minimum: 1, maximum: 65535 }),
    hostSession: Opt(HostSession),
  },
  {
    celRules: [
      {
        // Upstream's rule lacks the presence guard on hostASN (api.md G9); ours has it.
        rule: '!has(self.hostSession) || !has(self.hostSession.hostASN) || self.hostSession.hostASN != self.hostSession.asn',
        message: 'hostASN must be different from asn',
      },
    ],
  },
);

export const RawFRRConfigSpec = Obj({
  nodeSelector: Opt(LabelSelector),
  priority: Opt(
    Int32({ minimum: 0, default: 0, description: 'Snippets are appended in ascending priority.' }),
  ),
  rawConfig: Str({ minLength: 1, description: 'FRR configuration text appended after the generated one.' }),
});

export type L3VNISpec = Static<typeof L3VNISpec>;
export type L2VNISpec = Static<typeof L2VNISpec>;
export type L3PassthroughSpec = Static<typeof L3PassthroughSpec>;
export type L3VPNSpec = Static<typeof L3VPNSpec>;
export type RawFRRConfigSpec = Static<typeof RawFRRConfigSpec>;
export type HostMaster = Static<typeof HostMaster>;
