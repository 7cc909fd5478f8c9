// Underlay: the router's default-VRF BGP speaker, its links to the fabric and its per-node pools.
import type { Static } from '@sinclair/typebox';
import {
  FreeForm,
  Int32,
  Int64,
  interfaceNameRules,
  LabelSelector,
  List,
  Obj,
  Opt,
  Str,
  StringEnum,
} from './common.js';

const ifaceName = (description: string, defaultValue?: string) =>
  Str({
    minLength: 1,
    maxLength: 15,
    pattern: '^[a-zA-Z][a-zA-Z0-9._-]*$',
    description,
    default: defaultValue,
  });

export const NetworkDevice = Obj({
  interfaceName: ifaceName(
    'Host device moved into the router namespace (and back, with its addresses, when no longer wanted).',
  ),
});

export const CNIDevice = Obj(
  {
    type: StringEnum(['RawConfig'], { description: 'Source of the CNI configuration.' }),
    rawConfig: Opt(FreeForm({ description: 'An embedded CNI conflist (cniVersion >= 1.0.0).' })),
    interfaceName: Opt(ifaceName('Name passed as CNI_IFNAME in the router namespace.', 'net1')),
    runtimeConfig: Opt(FreeForm({ description: 'CNI capability arguments.' })),
  },
  {
    celRules: [
      {
        rule: "has(self.rawConfig) == (self.type == 'RawConfig')",
        message: "type/config mismatch: rawConfig must be set if and only if type is 'RawConfig'",
      },
    ],
  },
);

export const UnderlayInterface = Obj(
  {
    type: StringEnum(['NetworkDevice', 'CNIDevice'], { description: 'Discriminator.' }),
    networkDevice: Opt(NetworkDevice),
    cniDevice: Opt(CNIDevice),
  },
  {
    celRules: [
      {
        rule: "has(self.networkDevice) == (self.type == 'NetworkDevice')",
        message: "type/config mismatch: networkDevice must be set if and only if type is 'NetworkDevice'",
      },
      {
        rule: "has(self.cniDevice) == (self.type == 'CNIDevice')",
        message: "type/config mismatch: cniDevice must be set if and only if type is 'CNIDevice'",
      },
    ],
  },
);

export const NeighborProperty = Obj(
  {
    type: StringEnum(['ebgpMultiHop'], { description: 'Session feature selector.' }),
    ebgpMultiHop: Opt(
      Obj({ ttl: Opt(Int32({ minimum: 1, maximum: 255, description: 'Maximum hops; FRR default 255.' })) }),
    ),
  },
  {
    celRules: [
      {
        rule: "self.type == 'ebgpMultiHop' || !has(self.ebgpMultiHop)",
        message: 'ebgpMultiHop parameters can only be set when type is ebgpMultiHop',
      },
    ],
  },
);

export const BFDSettings = Obj(
  {
    receiveInterval: Opt(Int32({ minimum: 10, maximum: 60000, description: 'Minimum RX interval, ms.' })),
    transmitInterval: Opt(Int32({ minimum: 10, maximum: 60000, description: 'Minimum TX interval, ms.' })),
    detectMultiplier: Opt(Int32({ minimum: 2, maximum: 255, description: 'Missed packets before down.' })),
    sessionMode: Opt(StringEnum(['Active', 'Passive'], { description: 'Passive waits for the peer.' })),
    minimumTTL: Opt(Int32({ minimum: 1, maximum: 254, description: 'Minimum accepted TTL (multihop).' })),
  },
  { description: 'Presence enables BFD on the session; any knob set gives the neighbor its own profile.' },
);

export const AddressFamilyProperty = Obj({
  type: StringEnum(['routeReflectorClient'], { description: 'Per-address-family feature.' }),
});

export const NeighborAddressFamily = Obj({
  type: StringEnum(['ipv4unicast', 'ipv6unicast', 'evpn', 'ipv4vpn', 'ipv6vpn'], {
    minLength: 1,
    maxLength: 11,
    description: 'AFI/SAFI activated for this peer.',
  }),
  properties: Opt(List(AddressFamilyProperty, { maxItems: 8, listType: 'map', listMapKeys: ['type'] })),
});

export const Neighbor = Obj(
  {
    asn: Opt(Int64({ minimum: 1, maximum: 4294967295, description: 'Peer AS number.' })),
    type: Opt(StringEnum(['External', 'Internal'], { description: 'remote-as external|internal.' })),
    address: Opt(
      Str({
        minLength: 1,
        maxLength: 39,
        description: 'Numbered peer address.',
        celRules: [{ rule: 'isIP(self)', message: 'Address must be a valid IPv4 or IPv6 address' }],
      }),
    ),
    interface: Opt(
      Str({
        minLength: 1,
        maxLength: 15,
        description: 'BGP unnumbered over the IPv6 link-local address of this interface.',
        celRules: interfaceNameRules,
      }),
    ),
    listenRange: Opt(
      Str({
        minLength: 1,
        maxLength: 43,
        description: 'Accept dynamic peers from this CIDR.',
        celRules: [
          { rule: 'isCIDR(self)', message: 'listenRange must be a valid CIDR' },
          {
            rule: '!isCIDR(self) || cidr(self).ip().family() != 6 || !cidr(self).ip().isLinkLocalUnicast()',
            message: 'listenRange must not be an IPv6 link-local range',
          },
        ],
      }),
    ),
    port: Opt(Int32({ minimum: 0, maximum: 16384, description: 'Remote TCP port; FRR default 179.' })),
    password: Opt(Str({ maxLength: 128, pattern: '^\\S+$', description: 'TCP-MD5 password.' })),
    passwordSecret: Opt(
      Str({
        description: 'Name of a kubernetes.io/basic-auth Secret whose key "password" holds the password.',
      }),
    ),
    holdTimeSeconds: Opt(Int64({ description: 'BGP hold time; FRR default 180.' })),
    keepaliveTimeSeconds: Opt(Int64({ description: 'BGP keepalive; FRR default 60.' })),
    connectTimeSeconds: Opt(Int64({ minimum: 1, maximum: 65535, description: 'Connect-retry timer.' })),
    properties: Opt(List(NeighborProperty, { maxItems: 1, listType: 'map', listMapKeys: ['type'] })),
    bfd: Opt(BFDSettings),
    addressFamilies: Opt(
      List(NeighborAddressFamily, {
        maxItems: 4,
        listType: 'map',
        listMapKeys: ['type'],
        description: 'Explicit AFI/SAFI list; replaces the automatic choice.',
        celRules: [
          {
            rule: "!(self.exists(f, f.type == 'evpn') && self.exists(f, f.type == 'ipv4vpn' || f.type == 'ipv6vpn'))",
            message: 'EVPN and IPv4VPN/IPv6VPN address families are mutually exclusive',
          },
        ],
      }),
    ),
  },
  {
    celRules: [
      { rule: 'has(self.asn) || has(self.type)', message: 'either ASN or Type must be set' },
      { rule: '!(has(self.asn) && has(self.type))', message: 'ASN and Type cannot be set together' },
      {
        rule: 'has(self.holdTimeSeconds) == has(self.keepaliveTimeSeconds)',
        message: 'holdTimeSeconds and keepaliveTimeSeconds must be both set or both unset',
      },
      {
        rule: '!has(self.holdTimeSeconds) || self.holdTimeSeconds == 0 || self.holdTimeSeconds >= 3',
        message: 'holdTimeSeconds must be 0 or >=3',
      },
      {
        rule: '!has(self.holdTimeSeconds) || !has(self.keepaliveTimeSeconds) || self.keepaliveTimeSeconds <= self.holdTimeSeconds',
        message: 'keepaliveTimeSeconds must be lower than or equal to holdTimeSeconds',
      },
      {
        rule: 'has(self.address) || has(self.interface) || has(self.listenRange)',
        message: 'Either a valid Address, Interface name or ListenRange must be provided for Neighbor',
      },
      {
        rule: '!(has(self.address) && has(self.interface))',
        message: 'Address and Interface cannot be set together for Neighbor',
      },
      {
        rule: "!has(self.interface) || !has(self.addressFamilies) || !self.addressFamilies.exists(f, f.type == 'ipv4vpn' || f.type == 'ipv6vpn')",
        message:
          'ipv4vpn and ipv6vpn address families are not supported for unnumbered (interface) neighbors',
      },
      {
        rule: "!has(self.addressFamilies) || !self.addressFamilies.exists(f, f.type == 'ipv4vpn' || f.type == 'ipv6vpn') || has(self.interface) || (has(self.address) && isIP(self.address) && ip(self.address).family() == 6)",
        message: 'ipv4vpn and ipv6vpn address families require an IPv6 neighbor address',
      },
      {
        rule: '!(has(self.listenRange) && has(self.address))',
        message: 'listenRange and address are mutually exclusive',
      },
      {
        rule: '!(has(self.listenRange) && has(self.interface))',
        message: 'listenRange and interface are mutually exclusive',
      },
      {
        rule: "!has(self.addressFamilies) || !self.addressFamilies.exists(f, has(f.properties) && f.properties.exists(p, p.type == 'routeReflectorClient')) || (has(self.type) && self.type == 'Internal')",
        message: 'routeReflectorClient requires type Internal',
      },
    ],
  },
);

export const TunnelEndpoint = Obj({
  cidrs: List(Str({ maxLength: 43 }), {
    minItems: 1,
    maxItems: 2,
    listType: 'atomic',
    description: 'Per-node tunnel endpoint pools: node index i gets host number i of each CIDR.',
    celRules: [
      { rule: 'self.all(c, isCIDR(c))', message: 'all entries must be valid CIDRs' },
      {
        rule: 'self.filter(c, isCIDR(c) && cidr(c).ip().family() == 4).size() <= 1',
        message: 'at most one IPv4 CIDR is allowed',
      },
      {
        rule: 'self.filter(c, isCIDR(c) && cidr(c).ip().family() == 6).size() <= 1',
        message: 'at most one IPv6 CIDR is allowed',
      },
    ],
  }),
});

export const GracefulRestart = Obj({
  restartTimeSeconds: Opt(Int64({ minimum: 1, maximum: 4095, default: 120 })),
  stalePathTimeSeconds: Opt(Int64({ minimum: 1, maximum: 4095, default: 360 })),
});

export const RouteReflector = Obj({
  clusterID: Opt(
    Str({
      minLength: 7,
      maxLength: 15,
      default: '192.0.2.1',
      celRules: [
        { rule: 'isIP(self) && ip(self).family() == 4', message: 'clusterID must be a valid IPv4 address' },
      ],
    }),
  ),
});

export const ISISInterface = Obj({
  name: Str({ minLength: 1, maxLength: 15, celRules: interfaceNameRules }),
  ipFamily: Opt(StringEnum(['IPv4', 'IPv6', 'DualStack'])),
  features: Opt(
    List(StringEnum(['passive'], { minLength: 1, maxLength: 128 }), { maxItems: 32, listType: 'atomic' }),
  ),
});

export const ISIS = Obj({
  baseNet: Str({
    minLength: 25,
    maxLength: 25,
    celRules: [
      {
        rule: "self.matches('^[0-9a-f]{2}\\\\.([0-9a-f]{4}\\\\.){4}[0-9a-f]{2}$')",
        message: 'Provided net address must match canonical format',
      },
    ],
  }),
  features: Opt(
    List(StringEnum(['advertisePassiveOnly'], { minLength: 1, maxLength: 128 }), {
      maxItems: 32,
      listType: 'atomic',
    }),
  ),
  interfaces: Opt(List(ISISInterface, { maxItems: 128, listType: 'map', listMapKeys: ['name'] })),
  level: Opt(Int32({ enum: [1, 2] })),
});

export const SRV6 = Obj({
  encapBehavior: Opt(StringEnum(['H.Encaps', 'H.Encaps.Red'], { minLength: 1, maxLength: 12 })),
  locator: Obj({
    basePrefix: Str({
      minLength: 1,
      maxLength: 43,
      celRules: [
        { rule: 'isCIDR(self) && cidr(self).ip().family() == 6', message: 'prefix must be an IPv6 CIDR' },
      ],
    }),
    format: StringEnum(['usid-f3216'], { minLength: 1, maxLength: 40 }),
  }),
});

export const UnderlaySpec = Obj(
  {
    nodeSelector: Opt(LabelSelector),
    asn: Int64({
      minimum: 1,
      maximum: 4294967295,
      description: 'Local AS of the router default BGP instance.',
    }),
    routerIDCIDR: Opt(
      Str({
        default: '10.0.0.0/24',
        description: 'Pool of per-node router ids: node index i gets host i+1.',
      }),
    ),
    neighbors: List(Neighbor, { minItems: 1, maxItems: 128, listType: 'atomic' }),
    interfaces: List(UnderlayInterface, {
      minItems: 1,
      listType: 'atomic',
      celRules: [
        {
          rule: 'self.all(i, i.type == self[0].type)',
          message:
            'all interfaces must be of the same type, mixing NetworkDevice and CNIDevice is not supported',
        },
      ],
    }),
    tunnelEndpoint: Opt(TunnelEndpoint),
    gracefulRestart: Opt(GracefulRestart),
    isis: Opt(ISIS),
    srv6: Opt(SRV6),
    routeReflector: Opt(RouteReflector),
  },
  {
    celRules: [
      { rule: '!has(self.srv6) || has(self.isis)', message: 'SRv6 can only be configured if isis is set' },
      {
        rule: '!has(self.srv6) || (has(self.tunnelEndpoint) && self.tunnelEndpoint.cidrs.exists(c, isCIDR(c) && cidr(c).ip().family() == 6))',
        message: 'SRv6 requires at least one IPv6 CIDR in tunnelEndpoint.cidrs',
      },
      {
        rule: '!has(self.routeReflector) || !has(self.routeReflector.clusterID) || !has(self.routerIDCIDR) || !isIP(self.routeReflector.clusterID) || !isCIDR(self.routerIDCIDR) || !cidr(self.routerIDCIDR).containsIP(self.routeReflector.clusterID)',
        message: 'routeReflector.clusterID must be outside the routerIDCIDR range',
      },
    ],
  },
);

export type UnderlaySpec = Static<typeof UnderlaySpec>;
export type Neighbor = Static<typeof Neighbor>;
export type BFDSettings = Static<typeof BFDSettings>;
export type UnderlayInterface = Static<typeof UnderlayInterface>;
