// Names of the links the agent creates. They are the agent's only record of what it owns across restarts,
// so they follow upstream's current scheme exactly: a node converted from upstream keeps its devices.

/** IFNAMSIZ is 16 bytes including the terminating NUL. */
export const MAX_IFNAME_LENGTH = 15;

export const ROUTER_BRIDGE_PREFIX = 'br-pe-';
export const VXLAN_PREFIX = 'vni';
/** `-e-` marks EVPN veths; upstream reserves `-s-` for SRv6 ones. */
export const ROUTER_VETH_PREFIX = 'pe-e-';
export const HOST_VETH_PREFIX = 'host-e-';
export const MANAGED_HOST_BRIDGE_PREFIX = 'br-hs-';

export const PASSTHROUGH_ROUTER_VETH = 'pt-ns';
export const PASSTHROUGH_HOST_VETH = 'pt-host';

export function routerBridgeName(vni: number): string {
  return `${ROUTER_BRIDGE_PREFIX}${vni}`;
}

export function vxlanName(vni: number): string {
  return `${VXLAN_PREFIX}${vni}`;
}

export function routerVethName(vni: number): string {
  return `${ROUTER_VETH_PREFIX}${vni}`;
}

export function hostVethName(vni: number): string {
  return `${HOST_VETH_PREFIX}${vni}`;
}

export function managedHostBridgeName(vni: number): string {
  return `${MANAGED_HOST_BRIDGE_PREFIX}${vni}`;
}

/**
 * Why `name` is not a valid Linux interface name, or undefined when it is. Mirrors the kernel's
 * dev_valid_name(): non-empty, at most 15 bytes, not `.`/`..`, no `/`, `:` or whitespace.
 */
export function invalidIfnameReason(name: string): string | undefined {
  if (name === '') return 'it is empty';
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IFNAME_LENGTH) {
    return `it is ${bytes} bytes long and Linux allows at most ${MAX_IFNAME_LENGTH} (IFNAMSIZ)`;
  }
  if (name === '.' || name === '..') return 'it is a path component';
  if (/[/:\s]/.test(name)) return 'it contains "/", ":" or whitespace';
  return undefined;
}
