// Static mode's node file: who this node is. Upstream's keys (nodeName, nodeIndex.index |
// nodeIndex.interfaceName [+ cidr], logLevel) plus `labels` for nodeSelector matching.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parse } from 'yaml';
import { cidrContainsIp, isCidr, parseCidr, parseIp } from '../ipam/ip.js';
import type { FrrLogLevel, NodeFacts } from '../render/model.js';

export interface NodeFile {
  nodeName?: string;
  nodeIndex?: { index?: number; interfaceName?: string; cidr?: string };
  labels?: Record<string, string>;
  logLevel?: string;
}

const LOG_LEVELS: Record<string, FrrLogLevel> = {
  debug: 'debugging',
  debugging: 'debugging',
  info: 'informational',
  informational: 'informational',
  warn: 'warnings',
  warnings: 'warnings',
  error: 'errors',
  errors: 'errors',
};

export class NodeFileError extends Error {}

/** Addresses of a host interface as `ip -json addr` reports them (IPv4 first, then global IPv6). */
export type InterfaceAddresses = (name: string) => string[];

export const readInterfaceAddresses: InterfaceAddresses = (name) => {
  const out = execFileSync('ip', ['-json', 'addr', 'show', 'dev', name], { encoding: 'utf8' });
  const links = JSON.parse(out) as { addr_info?: { family: string; local: string; scope: string }[] }[];
  const infos = links.flatMap((l) => l.addr_info ?? []);
  return [
    ...infos.filter((a) => a.family === 'inet').map((a) => a.local),
    ...infos.filter((a) => a.family === 'inet6' && a.scope === 'global').map((a) => a.local),
  ];
};

function indexFromInterface(
  file: string,
  ifname: string,
  cidr: string | undefined,
  addrs: InterfaceAddresses,
): number {
  let addresses: string[];
  try {
    addresses = addrs(ifname);
  } catch (err) {
    throw new NodeFileError(
      `${file}: nodeIndex.interfaceName: cannot read addresses of ${ifname}: ${(err as Error).message}`,
    );
  }
  const pool = cidr !== undefined ? parseCidr(cidr) : undefined;
  const chosen = pool ? addresses.find((a) => cidrContainsIp(pool, a)) : addresses[0];
  if (!chosen) {
    throw new NodeFileError(
      `${file}: nodeIndex.interfaceName: ${ifname} has no address${cidr ? ` inside ${cidr}` : ''} to derive the node index from`,
    );
  }
  // The host part of the address within its pool (or within its own /24 or /64 when no pool is given).
  const ip = parseIp(chosen);
  const hostBits = pool
    ? BigInt((ip.family === 4 ? 32 : 128) - pool.prefixLength)
    : ip.family === 4
      ? 8n
      : 64n;
  return Number(ip.value & ((1n << hostBits) - 1n));
}

export function parseNodeFile(
  text: string,
  file: string,
  addrs: InterfaceAddresses = readInterfaceAddresses,
): NodeFacts {
  let doc: NodeFile;
  try {
    doc = (parse(text) ?? {}) as NodeFile;
  } catch (err) {
    throw new NodeFileError(`${file}: ${(err as Error).message}`);
  }
  const name = doc.nodeName || hostname();
  const ni = doc.nodeIndex ?? {};
  if (ni.index !== undefined && ni.index !== 0 && ni.interfaceName !== undefined) {
    throw new NodeFileError(
      `${file}: index and interfaceName are mutually exclusive, got index ${ni.index} and interface "${ni.interfaceName}"`,
    );
  }
  if (ni.cidr !== undefined && ni.interfaceName === undefined) {
    throw new NodeFileError(`${file}: cidr "${ni.cidr}" requires interfaceName to be set`);
  }
  if (ni.cidr !== undefined && !isCidr(ni.cidr))
    throw new NodeFileError(`${file}: invalid cidr "${ni.cidr}"`);
  let index: number;
  if (ni.interfaceName !== undefined) index = indexFromInterface(file, ni.interfaceName, ni.cidr, addrs);
  else if (ni.index !== undefined) {
    if (!Number.isInteger(ni.index) || ni.index < 0)
      throw new NodeFileError(`${file}: nodeIndex.index must be a non-negative integer`);
    index = ni.index;
  } else throw new NodeFileError(`${file}: nodeIndex: set index, or interfaceName (and optionally cidr)`);
  let logLevel: FrrLogLevel | undefined;
  if (doc.logLevel !== undefined) {
    logLevel = LOG_LEVELS[doc.logLevel];
    if (!logLevel)
      throw new NodeFileError(`${file}: logLevel "${doc.logLevel}": use debug, info, warn or error`);
  }
  return {
    name,
    index,
    labels: { 'kubernetes.io/hostname': name, ...(doc.labels ?? {}) },
    ...(logLevel ? { logLevel } : {}),
  };
}

export function readNodeFile(file: string, addrs?: InterfaceAddresses): NodeFacts {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new NodeFileError(`node file ${file}: ${(err as Error).message}`);
  }
  return parseNodeFile(text, file, addrs);
}
