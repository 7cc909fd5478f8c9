import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewayMac, IpamError, routerId, tunnelEndpoints, vethAddresses } from '../src/ipam/index.js';
import {
  cidrContainsIp,
  cidrSize,
  cidrsOverlap,
  formatIp,
  IpError,
  ipFamily,
  isCidr,
  isIp,
  nthAddress,
  parseCidr,
  parseIp,
} from '../src/ipam/ip.js';

/** Asserts that fn throws an IpamError whose message contains every fragment. */
function assertIpamError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof IpamError, `expected IpamError, got ${String(err)}`);
    for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" lacks "${f}"`);
    return true;
  });
}

describe('parseCidr', () => {
  const valid: [string, 4 | 6, string][] = [
    ['10.0.0.0/24', 4, '10.0.0.0/24'],
    ['192.168.1.5/24', 4, '192.168.1.0/24'],
    ['0.0.0.0/0', 4, '0.0.0.0/0'],
    ['255.255.255.255/32', 4, '255.255.255.255/32'],
    ['10.0.0.1/024', 4, '10.0.0.0/24'],
    ['2001:DB8:1::5/64', 6, '2001:db8:1::/64'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001/128', 6, '2001:db8::1:0:0:1/128'],
    ['::/0', 6, '::/0'],
    ['::ffff:1.2.3.4/128', 6, '::ffff:1.2.3.4/128'],
    ['::ffff:102:304/120', 6, '::ffff:1.2.3.0/120'],
    ['::1.2.3.4/128', 6, '::102:304/128'],
    ['fd00:65::/64', 6, 'fd00:65::/64'],
  ];
  for (const [input, family, text] of valid) {
    it(`${input} → ${text}`, () => {
      const c = parseCidr(input);
      assert.equal(c.family, family);
      assert.equal(c.text, text);
      assert.equal(isCidr(input), true);
    });
  }

  const invalid = [
    '300.1.1.1/24',
    '10.0.0.0',
    '10.0.0.0/',
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0.0/-1',
    '10.0.0.0/+8',
    '10.0.0.0/ 8',
    ' 10.0.0.0/8',
    '10.0.0.0/8/8',
    '010.0.0.0/8',
    '10.0.0/8',
    '0x0a.0.0.0/8',
    '10/8',
    'fe80::1%eth0/64',
    '::ffff:01.2.3.4/128',
    '1::2::3/64',
    '',
    '/24',
  ];
  for (const input of invalid) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.equal(isCidr(input), false);
      assert.throws(
        () => parseCidr(input),
        (err: unknown) =>
          err instanceof IpError && err.message.startsWith(`${JSON.stringify(input)} is not a valid CIDR`),
      );
    });
  }

  it('explains a missing prefix length', () => {
    assert.throws(() => parseCidr('10.0.0.0'), /missing "\/prefix-length"/);
  });
});

describe('IP helpers', () => {
  it('parses and formats addresses canonically', () => {
    assert.deepEqual(parseIp('10.1.2.3'), { family: 4, value: 0x0a010203n });
    assert.deepEqual(parseIp('::ffff:10.1.2.3'), { family: 6, value: 0xffff0a010203n });
    assert.equal(formatIp(6, parseIp('2001:db8:0:0:1:0:0:1').value), '2001:db8::1:0:0:1');
    assert.equal(formatIp(6, parseIp('1:2:3:4:5:6:7::').value), '1:2:3:4:5:6:7:0');
    assert.equal(formatIp(6, 0xffff0a010203n), '::ffff:10.1.2.3');
    assert.equal(formatIp(4, 0n), '0.0.0.0');
    assert.throws(() => formatIp(4, 1n << 32n), IpError);
    assert.throws(() => formatIp(6, -1n), IpError);
  });

  it('tells families apart, for addresses and CIDRs', () => {
    assert.equal(ipFamily('10.0.0.1'), 4);
    assert.equal(ipFamily('::1'), 6);
    assert.equal(ipFamily('::ffff:1.2.3.4'), 6);
    assert.equal(ipFamily('10.0.0.0/8'), 4);
    assert.equal(ipFamily('fd00::/8'), 6);
    assert.throws(() => ipFamily('nope'), /"nope" is not a valid IP address/);
  });

  it('is strict like Go', () => {
    for (const bad of [
      '1',
      '1.2.3',
      '01.2.3.4',
      '1.2.3.4 ',
      '0x1.2.3.4',
      'fe80::1%eth0',
      '1.2.3.256',
      ':::',
    ]) {
      assert.equal(isIp(bad), false, bad);
    }
    for (const good of ['0.0.0.0', '::', '0001::', '::1.2.3.4', '64:ff9b::192.0.2.1']) {
      assert.equal(isIp(good), true, good);
    }
  });

  it('counts addresses from the network address', () => {
    const c = parseCidr('192.168.1.77/24');
    assert.equal(cidrSize(c), 256n);
    assert.equal(nthAddress(c, 0), '192.168.1.0');
    assert.equal(nthAddress(c, 255n), '192.168.1.255');
    assert.throws(() => nthAddress(c, 256), /#256 is outside 192\.168\.1\.0\/24, which has 256 addresses/);
    assert.throws(() => nthAddress(c, -1), IpError);
    assert.throws(() => nthAddress(c, 1.5), IpError);
    assert.equal(nthAddress(parseCidr('2001:db8::/32'), 0x10000n), '2001:db8::1:0');
  });

  it('checks containment and overlap', () => {
    const a = parseCidr('10.0.0.0/8');
    const b = parseCidr('10.1.0.0/16');
    const c = parseCidr('11.0.0.0/8');
    assert.equal(cidrsOverlap(a, b), true);
    assert.equal(cidrsOverlap(b, a), true);
    assert.equal(cidrsOverlap(a, c), false);
    assert.equal(cidrsOverlap(parseCidr('0.0.0.0/0'), parseCidr('::/0')), false);
    assert.equal(cidrsOverlap(parseCidr('::ffff:0:0/96'), parseCidr('1.2.3.0/24')), false);
    assert.equal(cidrContainsIp(b, '10.1.255.255'), true);
    assert.equal(cidrContainsIp(b, '10.2.0.0'), false);
    assert.equal(cidrContainsIp(a, '::ffff:10.0.0.1'), false);
    assert.throws(() => cidrContainsIp(a, 'x'), IpError);
  });
});

describe('per-node allocation (upstream-behaviour.md §3.3 worked example)', () => {
  const rows = [
    { i: 0, rid: '10.0.0.1', vtep: '100.65.0.0', host4: '192.169.10.2/24', host6: '2001:db8:1::2/64' },
    { i: 1, rid: '10.0.0.2', vtep: '100.65.0.1', host4: '192.169.10.3/24', host6: '2001:db8:1::3/64' },
    { i: 2, rid: '10.0.0.3', vtep: '100.65.0.2', host4: '192.169.10.4/24', host6: '2001:db8:1::4/64' },
  ];
  for (const row of rows) {
    it(`node ${row.i}`, () => {
      assert.equal(routerId('10.0.0.0/24', row.i), row.rid);
      assert.deepEqual(tunnelEndpoints(['100.65.0.0/24'], row.i), { ipv4: row.vtep });
      assert.deepEqual(vethAddresses({ ipv4: '192.169.10.0/24', ipv6: '2001:db8:1::/64' }, row.i), {
        ipv4: { router: '192.169.10.1/24', host: row.host4 },
        ipv6: { router: '2001:db8:1::1/64', host: row.host6 },
      });
    });
  }

  it('gives index 3 of an IPv6 VTEP pool its address #3, alongside IPv4', () => {
    assert.deepEqual(tunnelEndpoints(['100.65.0.0/24', 'fd00:65::/64'], 3), {
      ipv4: '100.65.0.3',
      ipv6: 'fd00:65::3',
    });
    assert.deepEqual(tunnelEndpoints(['fd00:65::/64'], 3), { ipv6: 'fd00:65::3' });
    assert.deepEqual(tunnelEndpoints([], 3), {});
  });

  it('masks host bits of a pool before counting', () => {
    assert.equal(routerId('10.0.0.77/24', 0), '10.0.0.1');
    assert.deepEqual(tunnelEndpoints(['100.65.0.9/24'], 0), { ipv4: '100.65.0.0' });
  });

  it('keeps the last-byte-is-zero quirk for a /30 pool', () => {
    const hosts = ['172.30.0.5/30', '172.30.0.6/30', '172.30.0.7/30'];
    hosts.forEach((host, i) => {
      assert.deepEqual(vethAddresses({ ipv4: '172.30.0.4/30' }, i), {
        ipv4: { router: '172.30.0.4/30', host },
      });
    });
    assertIpamError(
      () => vethAddresses({ ipv4: '172.30.0.4/30' }, 3),
      '172.30.0.4/30',
      'node index 3',
      '#4',
      '4 addresses',
    );
  });

  it('uses the last byte of the 128-bit address for IPv6 pools', () => {
    assert.deepEqual(vethAddresses({ ipv6: 'fd00::100/120' }, 0), {
      ipv6: { router: 'fd00::101/120', host: 'fd00::102/120' },
    });
    assert.deepEqual(vethAddresses({ ipv6: 'fd00::10/124' }, 1), {
      ipv6: { router: 'fd00::10/124', host: 'fd00::12/124' },
    });
  });

  it('treats an empty localCIDR family as absent', () => {
    assert.deepEqual(vethAddresses({ ipv4: '', ipv6: 'fd00::/64' }, 0), {
      ipv6: { router: 'fd00::1/64', host: 'fd00::2/64' },
    });
    assert.deepEqual(vethAddresses({}, 0), {});
  });
});

describe('gatewayMac', () => {
  const cases: [number, string][] = [
    [110, '00:f3:00:00:00:6f'],
    [0, '00:f3:00:00:00:01'],
    [16777215, '00:f3:01:00:00:00'],
    [0xfffffffe, '00:f3:ff:ff:ff:ff'],
    [0xffffffff, '00:f3:00:00:00:00'],
  ];
  for (const [vni, mac] of cases) {
    it(`vni ${vni} → ${mac}`, () => assert.equal(gatewayMac(vni), mac));
  }
  it('rejects an invalid VNI', () => {
    assertIpamError(() => gatewayMac(-1, 'L2VNI default/x'), 'L2VNI default/x: ', 'VNI -1');
    assertIpamError(() => gatewayMac(2 ** 32), 'VNI 4294967296');
  });
});

describe('IpamError messages', () => {
  const what = 'Underlay default/underlay spec.routerIDCIDR';

  it('names the field, pool and index when a pool is exhausted', () => {
    assertIpamError(
      () => routerId('10.0.0.0/24', 255, what),
      `${what}: `,
      'node index 255',
      '#256',
      '10.0.0.0/24',
    );
    assert.match(
      String(catchError(() => routerId('10.0.0.0/24', 255, what))),
      new RegExp(`^IpamError: ${what}`),
    );
    assertIpamError(() => tunnelEndpoints(['100.65.0.0/30'], 4), 'node index 4', '100.65.0.0/30', '#4');
    assertIpamError(
      () => vethAddresses({ ipv6: 'fd00::/127' }, 1),
      'node index 1',
      'fd00::/127',
      '#3',
      'use a larger pool',
    );
    assertIpamError(
      () => vethAddresses({ ipv4: '10.9.9.0/32' }, 0),
      '10.9.9.0/32',
      'router side',
      '1 address',
    );
  });

  it('quotes what the user wrote when it is not canonical', () => {
    assertIpamError(() => routerId('10.0.0.9/31', 1), '10.0.0.8/31 (written "10.0.0.9/31")', 'node index 1');
  });

  it('rejects an IPv6 router-ID pool', () => {
    assertIpamError(() => routerId('2001:db8::/64', 0, what), `${what}: `, '2001:db8::/64', 'IPv4');
  });

  it('rejects pools of the wrong family or duplicated families', () => {
    assertIpamError(() => vethAddresses({ ipv4: 'fd00::/64' }, 0), 'localCIDR.ipv4', 'fd00::/64', 'IPv6');
    assertIpamError(() => vethAddresses({ ipv6: '10.0.0.0/24' }, 0), 'localCIDR.ipv6', '10.0.0.0/24');
    assertIpamError(
      () => tunnelEndpoints(['100.65.0.0/24', '100.66.0.0/24'], 0),
      '100.65.0.0/24',
      '100.66.0.0/24',
      'IPv4',
    );
  });

  it('wraps bad CIDRs and bad indices', () => {
    assertIpamError(
      () => routerId('300.1.1.1/24', 0, what),
      `${what}: `,
      '"300.1.1.1/24" is not a valid CIDR',
    );
    assertIpamError(() => tunnelEndpoints([''], 0), '"" is not a valid CIDR');
    assertIpamError(() => vethAddresses({ ipv4: '10.0.0.0' }, 0), '"10.0.0.0" is not a valid CIDR');
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) {
      assertIpamError(() => routerId('10.0.0.0/24', bad), `node index ${bad}`);
    }
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
