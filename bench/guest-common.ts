// Pieces every benchmark that runs inside the user-mode Linux guest needs.
import { readFileSync } from 'node:fs';
import type { CommandRunner } from '../src/frr/exec.js';
import { type ReloaderServer, startReloaderServer } from '../src/frr/reloader-server.js';
import { runOk } from './lib.js';

/** A reloader runner whose FRR already runs every config (FRR is not in the guest). */
export const stubFrr: CommandRunner = async (_file, args) => {
  const ok = { code: 0, stdout: '', stderr: '', timedOut: false, durationMs: 0 };
  if (args.includes('show daemons')) return { ...ok, stdout: 'zebra bgpd staticd bfdd\n' };
  return ok;
};

/** A `/proc/<pid>/status` field in kB (VmRSS, VmHWM...). */
export function statusKb(pid: number | 'self', field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

/** The RSS floor: an empty Node process in the same guest. */
export async function emptyNodeRssKb(): Promise<number> {
  const r = await runOk(process.execPath, [
    '-e',
    "console.log(/VmRSS:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1])",
  ]);
  return Number(r.stdout.trim());
}

/** A host namespace whose underlay NIC `nic` (MTU 9000) is one end of a veth to a "ToR" end. */
export async function setupHostNamespace(ns: string, nic: string): Promise<void> {
  await runOk('ip', ['netns', 'add', ns]);
  await runOk(
    'ip',
    ['-n', ns, '-batch', '-'],
    [
      'link set lo up',
      `link add ${nic} mtu 9000 type veth peer name tor`,
      `addr add 192.168.11.1/24 dev ${nic}`,
      `link set ${nic} up`,
      'link set tor up',
      '',
    ].join('\n'),
  );
}

/**
 * The Node.js flags bin/openperouter starts every subcommand with: a benchmark process that stands in
 * for an agent runs with the same ones.
 */
export function launcherNodeFlags(): string[] {
  const launcher = readFileSync(new URL('../../bin/openperouter', import.meta.url), 'utf8');
  const exec = /^exec "\$node" (.*) "\$root\/dist\/src\/cli\/main\.js"/m.exec(launcher);
  if (!exec?.[1]) throw new Error('bin/openperouter: no `exec "$node" ... main.js` line');
  return exec[1].split(/\s+/).filter(Boolean);
}

/** Our reloader on `socket`, quiet, with FRR's tools stubbed (stubFrr) and no fast path. */
export function startStubReloader(socket: string): Promise<ReloaderServer> {
  return startReloaderServer({
    socketPath: socket,
    stateFile: `${socket}.state`,
    target: { pathspace: 'bench' },
    restartCheckIntervalMs: 0,
    runner: stubFrr,
    fastPathMaxLines: 0,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
}
