// CEL evaluation of the CRDs' x-kubernetes-validations rules, in process, with the Kubernetes IP and
// CIDR library functions (isIP, ip, isCIDR, cidr, family, containsIP, ...) that the rules use. The same
// rule text goes into the CRDs, so a real API server and this process enforce the same thing.
import { Environment } from '@marcbachmann/cel-js';
import { type Cidr, cidrContainsIp, isCidr, isIp, parseCidr, parseIp } from '../ipam/ip.js';

class CelIP {
  constructor(
    readonly family: 4 | 6,
    readonly value: bigint,
    readonly text: string,
  ) {}
}

class CelCIDR {
  constructor(
    readonly cidr: Cidr,
    /** The address part as written: Kubernetes' cidr(...).ip() returns it unmasked. */
    readonly address: string,
  ) {}
}

const LINK_LOCAL_V6 = parseCidr('fe80::/10');
const LINK_LOCAL_V4 = parseCidr('169.254.0.0/16');

function toIP(s: string): CelIP {
  const p = parseIp(s);
  return new CelIP(p.family, p.value, s);
}

const env = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false })
  .registerType('net.IP', { ctor: CelIP, fields: {} })
  .registerType('net.CIDR', { ctor: CelCIDR, fields: {} })
  .registerFunction('isIP(string): bool', (s: string) => isIp(s))
  .registerFunction('ip(string): net.IP', (s: string) => toIP(s))
  .registerFunction('net.IP.family(): int', (ip: CelIP) => BigInt(ip.family))
  .registerFunction('net.IP.isLinkLocalUnicast(): bool', (ip: CelIP) =>
    cidrContainsIp(ip.family === 6 ? LINK_LOCAL_V6 : LINK_LOCAL_V4, ip.text),
  )
  .registerFunction('isCIDR(string): bool', (s: string) => isCidr(s))
  .registerFunction('cidr(string): net.CIDR', (s: string) => new CelCIDR(parseCidr(s), s.split('/')[0]!))
  .registerFunction('net.CIDR.ip(): net.IP', (c: CelCIDR) => toIP(c.address))
  .registerFunction('net.CIDR.prefixLength(): int', (c: CelCIDR) => BigInt(c.cidr.prefixLength))
  .registerFunction(
    'net.CIDR.containsIP(string): bool',
    (c: CelCIDR, s: string) => isIp(s) && cidrContainsIp(c.cidr, s),
  )
  .registerFunction('net.CIDR.containsIP(net.IP): bool', (c: CelCIDR, ip: CelIP) =>
    cidrContainsIp(c.cidr, ip.text),
  );

type Compiled = (ctx: Record<string, unknown>) => unknown;
const cache = new Map<string, Compiled>();

function compile(rule: string): Compiled {
  let fn = cache.get(rule);
  if (!fn) {
    const parsed = env.parse(rule);
    fn = (ctx) => parsed(ctx);
    cache.set(rule, fn);
  }
  return fn;
}

/** CEL has int and double; YAML numbers arrive as JS numbers. Integers become CEL ints. */
export function toCelValue(v: unknown): unknown {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map(toCelValue);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toCelValue(x);
    return out;
  }
  return v;
}

export function ruleUsesOldSelf(rule: string): boolean {
  return /\boldSelf\b/.test(rule);
}

/**
 * Evaluates one rule. Returns true when it holds, false when it does not; throws with the evaluator's
 * message when the rule cannot be evaluated (a bug in the rule, reported as such).
 */
export function evaluateRule(rule: string, self: unknown, oldSelf?: unknown): boolean {
  const ctx: Record<string, unknown> = { self: toCelValue(self) };
  if (oldSelf !== undefined) ctx['oldSelf'] = toCelValue(oldSelf);
  const result = compile(rule)(ctx);
  if (typeof result !== 'boolean')
    throw new Error(`CEL rule ${JSON.stringify(rule)} returned ${typeof result}`);
  return result;
}
