import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { routerId, tunnelEndpoints, vethAddresses } from '../src/ipam/index.js';
import {
  type Cidr,
  CidrOverlapIndex,
  cidrContainsIp,
  cidrSize,
  cidrsOverlap,
  familyBits,
  formatIp,
  type IpFamily,
  nthAddress,
  parseCidr,
  parseIp,
} from '../src/ipam/ip.js';

const family = fc.constantFrom<IpFamily>(4, 6);

function addressOf(f: IpFamily): fc.Arbitrary<bigint> {
  return fc.bigInt({ min: 0n, max: (1n << BigInt(familyBits(f))) - 1n });
}

/** Any CIDR, host bits possibly set, written in canonical address form. */
const anyCidrText = family.chain((f) =>
  fc
    .tuple(addressOf(f), fc.integer({ min: 0, max: familyBits(f) }))
    .map(([value, len]) => `${formatIp(f, value)}/${len}`),
);

/** Pools small enough that indices reach their end, large enough to matter. */
const poolText = family.chain((f) =>
  fc
    .tuple(addressOf(f), fc.integer({ min: familyBits(f) - 12, max: familyBits(f) }))
    .map(([value, len]) => `${formatIp(f, value)}/${len}`),
);

/** Two CIDRs that often share a prefix, so both overlap outcomes are exercised. */
const cidrPair = family.chain((f) => {
  const bits = familyBits(f);
  const all = (1n << BigInt(bits)) - 1n;
  return fc
    .tuple(
      addressOf(f),
      fc.integer({ min: 0, max: bits }),
      fc.integer({ min: 0, max: bits }),
      fc.bigInt({ min: 0n, max: 255n }),
    )
    .map(([value, lenA, lenB, flip]): [Cidr, Cidr] => [
      parseCidr(`${formatIp(f, value)}/${lenA}`),
      parseCidr(
        `${formatIp(f, (value ^ (flip << BigInt(Math.max(0, bits - Math.max(lenA, lenB) - 1)))) & all)}/${lenB}`,
      ),
    ]);
});

const index = fc.nat({ max: 5000 });

function bare(address: string): string {
  return address.split('/')[0] ?? '';
}

/** CIDRs clustered under a few shared prefixes of one family mix, so nesting, equality and disjointness all occur. */
const cidrSet = fc.array(
  fc
    .tuple(
      fc.constantFrom<IpFamily>(4, 6),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 24 }),
      fc.bigInt({ min: 0n, max: (1n << 24n) - 1n }),
    )
    .map(([f, base, extra, low]) => {
      const bits = familyBits(f);
      const len = Math.min(bits, 8 + extra);
      const value = (BigInt(base) << BigInt(bits - 8)) | (low << BigInt(Math.max(0, bits - 32)));
      return parseCidr(`${formatIp(f, value & ((1n << BigInt(bits)) - 1n))}/${len}`);
    }),
  { maxLength: 40 },
);

describe('CidrOverlapIndex', () => {
  it('finds the same first overlapping CIDR as a linear scan in insertion order', () => {
    fc.assert(
      fc.property(cidrSet, cidrSet, (added, probes) => {
        const idx = new CidrOverlapIndex<number>();
        for (const [i, c] of added.entries()) idx.add(c, i);
        for (const p of [...probes, ...added]) {
          const linear = added.findIndex((c) => cidrsOverlap(c, p));
          assert.equal(idx.firstOverlap(p), linear === -1 ? undefined : linear, p.text);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('ipam properties', () => {
  it('host addresses of distinct indices are distinct and never the router address', () => {
    fc.assert(
      fc.property(poolText, index, index, (pool, i, j) => {
        fc.pre(i !== j);
        const field = parseCidr(pool).family === 4 ? 'ipv4' : 'ipv6';
        const a = tryAllocate(() => vethAddresses({ [field]: pool }, i)[field]);
        const b = tryAllocate(() => vethAddresses({ [field]: pool }, j)[field]);
        fc.pre(a !== undefined && b !== undefined);
        assert.notEqual(a.host, b.host);
        assert.equal(a.router, b.router);
        assert.notEqual(a.host, a.router);
        assert.notEqual(b.host, a.router);
      }),
    );
  });

  it('every allocated address lies inside its pool', () => {
    fc.assert(
      fc.property(poolText, index, (pool, i) => {
        const c = parseCidr(pool);
        const field = c.family === 4 ? 'ipv4' : 'ipv6';
        const addresses = [
          tryAllocate(() => tunnelEndpoints([pool], i)[field]),
          tryAllocate(() => vethAddresses({ [field]: pool }, i)[field]?.router),
          tryAllocate(() => vethAddresses({ [field]: pool }, i)[field]?.host),
          c.family === 4 ? tryAllocate(() => routerId(pool, i)) : undefined,
        ];
        for (const address of addresses) {
          if (address !== undefined)
            assert.ok(cidrContainsIp(c, bare(address)), `${address} outside ${pool}`);
        }
      }),
    );
  });

  it('allocation fails exactly when the pool is too small', () => {
    fc.assert(
      fc.property(poolText, index, (pool, i) => {
        const c = parseCidr(pool);
        const field = c.family === 4 ? 'ipv4' : 'ipv6';
        const last = (c.network & 0xffn) === 0n ? BigInt(i) + 2n : BigInt(i) + 1n;
        const ok = tryAllocate(() => vethAddresses({ [field]: pool }, i)) !== undefined;
        assert.equal(ok, last < cidrSize(c));
      }),
    );
  });

  it('nthAddress is the inverse of subtracting the network address', () => {
    const cidrAndOffset = anyCidrText
      .map(parseCidr)
      .chain((c) => fc.tuple(fc.constant(c), fc.bigInt({ min: 0n, max: cidrSize(c) - 1n })));
    fc.assert(
      fc.property(cidrAndOffset, ([c, n]) => {
        assert.equal(parseIp(nthAddress(c, n)).value - c.network, n);
        assert.throws(() => nthAddress(c, cidrSize(c)));
      }),
    );
  });

  it('cidrsOverlap is symmetric and means one contains the other network address', () => {
    fc.assert(
      fc.property(cidrPair, ([a, b]) => {
        const expected =
          cidrContainsIp(a, formatIp(b.family, b.network)) ||
          cidrContainsIp(b, formatIp(a.family, a.network));
        assert.equal(cidrsOverlap(a, b), expected);
        assert.equal(cidrsOverlap(b, a), expected);
        assert.equal(cidrsOverlap(a, a), true);
      }),
    );
  });

  it('canonical text round-trips, whatever the spelling', () => {
    fc.assert(
      fc.property(anyCidrText, (text) => {
        const c = parseCidr(text);
        assert.deepEqual(parseCidr(c.text), c);
        assert.equal(formatIp(c.family, parseIp(bare(c.text)).value), bare(c.text));
        if (c.family === 6) {
          const groups = [];
          for (let shift = 112n; shift >= 0n; shift -= 16n) {
            groups.push(((c.network >> shift) & 0xffffn).toString(16).padStart(4, '0').toUpperCase());
          }
          assert.equal(parseCidr(`${groups.join(':')}/${c.prefixLength}`).text, c.text);
        }
      }),
    );
  });
});

/** The allocation, or undefined when it failed because the pool ran out. */
function tryAllocate<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof Error && err.message.includes('use a larger pool')) return undefined;
    throw err;
  }
}
