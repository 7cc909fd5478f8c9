// How to reach one FRR instance with FRR's own tools: by pathspace (`-N <name>`: /etc/frr/<name>/,
// /var/run/frr/<name>/) or by explicit directories (vtysh socket dir, config dir, run dir).

export interface FrrTarget {
  /** FRR pathspace (`-N <name>`). */
  pathspace?: string;
  /** Directory of the daemons' vty sockets (`--vty_socket`). */
  vtySocket?: string;
  /** FRR config directory (frr-reload.py `--confdir`, vtysh `--config_dir`). */
  confDir?: string;
  /** Scratch directory frr-reload.py writes its temporary files to (`--rundir`). */
  runDir?: string;
  /** Directory of the daemons' pid files (for restart detection). Default: derived (see pidDirOf). */
  pidDir?: string;
  /**
   * Run FRR's tools through `ip netns exec <netns>`. Needed only when the instance's /etc/frr is the
   * per-netns override /etc/netns/<netns>/frr (vty sockets are reachable from any namespace).
   */
  netns?: string;
}

export const FRR_RELOAD = '/usr/lib/frr/frr-reload.py';
export const VTYSH = '/usr/bin/vtysh';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Throws when the target is unusable (bad names, relative paths). */
export function checkTarget(t: FrrTarget): void {
  if (t.pathspace !== undefined && !NAME.test(t.pathspace)) {
    throw new Error(`invalid FRR pathspace ${JSON.stringify(t.pathspace)}`);
  }
  if (t.netns !== undefined && !NAME.test(t.netns)) {
    throw new Error(`invalid network namespace name ${JSON.stringify(t.netns)}`);
  }
  for (const [k, v] of [
    ['vtySocket', t.vtySocket],
    ['confDir', t.confDir],
    ['runDir', t.runDir],
    ['pidDir', t.pidDir],
  ] as const) {
    if (v !== undefined && !v.startsWith('/')) throw new Error(`${k} must be an absolute path: ${v}`);
  }
}

/** Arguments that address the instance, for frr-reload.py. */
export function frrReloadTargetArgs(t: FrrTarget): string[] {
  const args: string[] = [];
  if (t.pathspace !== undefined) args.push('-N', t.pathspace);
  if (t.vtySocket !== undefined) args.push('--vty_socket', t.vtySocket);
  if (t.confDir !== undefined) args.push('--confdir', t.confDir);
  if (t.runDir !== undefined) args.push('--rundir', t.runDir);
  return args;
}

/** Arguments that address the instance, for vtysh. */
export function vtyshTargetArgs(t: FrrTarget): string[] {
  const args: string[] = [];
  if (t.pathspace !== undefined) args.push('-N', t.pathspace);
  if (t.vtySocket !== undefined) args.push('--vty_socket', t.vtySocket);
  if (t.confDir !== undefined) args.push('--config_dir', t.confDir);
  return args;
}

/** Where the daemons' `<daemon>.pid` files are. */
export function pidDirOf(t: FrrTarget): string {
  if (t.pidDir !== undefined) return t.pidDir;
  if (t.vtySocket !== undefined) return t.vtySocket;
  if (t.pathspace !== undefined) return `/var/run/frr/${t.pathspace}`;
  return '/var/run/frr';
}

/** The program and arguments to run, wrapped in `ip netns exec` when the target asks for it. */
export function wrapCommand(t: FrrTarget, file: string, args: readonly string[]): [string, string[]] {
  if (t.netns === undefined) return [file, [...args]];
  return ['ip', ['netns', 'exec', t.netns, file, ...args]];
}

/** One-line description, for logs. */
export function describeTarget(t: FrrTarget): string {
  const parts: string[] = [];
  if (t.pathspace !== undefined) parts.push(`pathspace ${t.pathspace}`);
  if (t.vtySocket !== undefined) parts.push(`vty ${t.vtySocket}`);
  if (t.confDir !== undefined) parts.push(`conf ${t.confDir}`);
  if (t.netns !== undefined) parts.push(`netns ${t.netns}`);
  return parts.length > 0 ? parts.join(', ') : 'default FRR instance';
}
