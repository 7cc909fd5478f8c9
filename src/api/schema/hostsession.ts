// HostSession: the veth between the host and the router plus the BGP session over it.
import type { Static } from '@sinclair/typebox';
import { Int64, Obj, Opt, Str, StringEnum } from './common.js';

export const LocalCIDR = Obj(
  {
    ipv4: Opt(Str({ description: 'IPv4 pool of the host-router veth.' })),
    ipv6: Opt(Str({ description: 'IPv6 pool of the host-router veth.' })),
  },
  {
    description:
      'Addressing pool of the veth: the router side takes the first address (second if the first ends in a zero byte), node index i takes the router offset + 1 + i.',
    celRules: [
      { rule: 'has(self.ipv4) || has(self.ipv6)', message: 'at least one of ipv4 or ipv6 must be specified' },
      { rule: 'self == oldSelf', message: "LocalCIDR can't be changed" },
    ],
  },
);

export const HostSession = Obj(
  {
    asn: Int64({ minimum: 1, maximum: 4294967295, description: 'Router-side AS of the session.' }),
    hostASN: Opt(Int64({ minimum: 1, maximum: 4294967295, description: 'AS of the host BGP speaker.' })),
    hostType: Opt(StringEnum(['External', 'Internal'], { description: 'remote-as external|internal.' })),
    localCIDR: LocalCIDR,
  },
  {
    celRules: [
      { rule: 'has(self.hostASN) || has(self.hostType)', message: 'either HostASN or HostType must be set' },
      {
        rule: '!(has(self.hostASN) && has(self.hostType))',
        message: 'HostASN and HostType cannot be set together',
      },
    ],
  },
);

export type HostSession = Static<typeof HostSession>;
export type LocalCIDR = Static<typeof LocalCIDR>;
