// The FRR side of the benchmark, on the host kernel (FRR needs no VRF device to load a config; on a
// node FRR runs on a real kernel, not in UML). Every figure is taken next to its floor, in the same run:
//   cold apply of the full config through our reloader (POST → frr-reload.py --test, --reload,
//     --test, running-config read) vs one plain `frr-reload.py --reload` on an identical fresh instance;
//   one VNI added at N through the reloader (vtysh fast path) vs plain `frr-reload.py --reload`;
//   an unchanged config POSTed again (no-op).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyFrrConfig } from '../src/frr/reloader-client.js';
import { type ReloaderServer, startReloaderServer } from '../src/frr/reloader-server.js';
import { type FrrInstance, startFrr, stopAllFrr } from '../test/support/frr-instance.js';
import { median, run } from './lib.js';
import { renderWorkload } from './workload.js';

const FACTS = { name: 'bench-node', index: 1, labels: {}, hostname: hostname() };
const silent = { debug() {}, info() {}, warn() {}, error() {} };

export interface FrrColdResult {
  n: number;
  reps: number;
  lines: number;
  oursMs: number;
  rawMs: number;
  oursAll: number[];
  rawAll: number[];
}

export interface FrrChangeResult {
  n: number;
  reps: number;
  /** POST of N+1 through the reloader (client round trip). */
  addMs: number;
  addAll: number[];
  /** What the reloader reported for the add: path, fast-path timings. */
  addDetails: Record<string, unknown>;
  /** Plain frr-reload.py --reload of N+1 on an instance running N. */
  rawAddMs: number;
  rawAddAll: number[];
  /** POST of the unchanged config. */
  noopMs: number;
  noopAll: number[];
  /** Reloads (applied: true) among the no-op POSTs. */
  noopApplied: number;
}

/** `frr-reload.py --reload` of `text`, exactly as our reloader runs it (same wrapping), timed. */
async function rawReload(frr: FrrInstance, dir: string, text: string): Promise<number> {
  const file = join(dir, `raw-${Math.random().toString(36).slice(2)}.conf`);
  await writeFile(file, text);
  const r = await run('ip', [
    'netns',
    'exec',
    frr.ns,
    '/usr/lib/frr/frr-reload.py',
    '-N',
    frr.ns,
    '--stdout',
    '--reload',
    file,
  ]);
  await rm(file, { force: true });
  if (r.code !== 0) throw new Error(`frr-reload.py --reload exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return r.ms;
}

async function reloaderFor(frr: FrrInstance, dir: string, name: string): Promise<ReloaderServer> {
  return startReloaderServer({
    socketPath: join(dir, name, 'reloader.sock'),
    stateFile: join(dir, name, 'state.conf'),
    target: { pathspace: frr.ns, netns: frr.ns },
    restartCheckIntervalMs: 0,
    logger: silent,
  });
}

export async function frrCold(
  sizes: readonly number[],
  repsFor: (n: number) => number,
): Promise<FrrColdResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'oprt-bench-frr-'));
  const out: FrrColdResult[] = [];
  try {
    for (const n of sizes) {
      const text = renderWorkload(n, FACTS).frr;
      const ours: number[] = [];
      const raw: number[] = [];
      const reps = repsFor(n);
      for (let r = 0; r < reps; r++) {
        // Alternate which one goes first: the machine is shared and its load drifts.
        const order = r % 2 === 0 ? ['ours', 'raw'] : ['raw', 'ours'];
        for (const which of order) {
          const frr = await startFrr({ name: `b${which}` });
          try {
            if (which === 'raw') {
              raw.push(await rawReload(frr, dir, text));
            } else {
              const server = await reloaderFor(frr, dir, `cold-${n}-${r}`);
              try {
                const t0 = performance.now();
                const res = await applyFrrConfig(server.socketPath, text, { retries: 0 });
                ours.push(performance.now() - t0);
                if (!res.applied) throw new Error('cold apply did not apply');
              } finally {
                await server.close();
              }
            }
          } finally {
            await frr.stop();
          }
        }
      }
      out.push({
        n,
        reps,
        lines: text.split('\n').length,
        oursMs: median(ours),
        rawMs: median(raw),
        oursAll: ours,
        rawAll: raw,
      });
    }
  } finally {
    await stopAllFrr();
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

export async function frrChange(n: number, reps: number): Promise<FrrChangeResult> {
  const dir = await mkdtemp(join(tmpdir(), 'oprt-bench-frr-'));
  const base = renderWorkload(n, FACTS).frr;
  const plus = renderWorkload(n + 1, FACTS).frr;
  const [a, b] = await Promise.all([startFrr({ name: 'bchg-a' }), startFrr({ name: 'bchg-b' })]);
  const server = await reloaderFor(a, dir, 'change');
  try {
    await applyFrrConfig(server.socketPath, base, { retries: 0 });
    await rawReload(b, dir, base);
    const add: number[] = [];
    const rawAdd: number[] = [];
    const noop: number[] = [];
    let noopApplied = 0;
    let addDetails: Record<string, unknown> = {};
    for (let r = 0; r < reps; r++) {
      let t0 = performance.now();
      const res = await applyFrrConfig(server.socketPath, plus, { retries: 0 });
      add.push(performance.now() - t0);
      addDetails = { ...res.details, reloaderMs: res.durationMs };
      await applyFrrConfig(server.socketPath, base, { retries: 0 });
      t0 = performance.now();
      const same = await applyFrrConfig(server.socketPath, base, { retries: 0 });
      noop.push(performance.now() - t0);
      if (same.applied) noopApplied++;
      rawAdd.push(await rawReload(b, dir, plus));
      await rawReload(b, dir, base);
    }
    return {
      n,
      reps,
      addMs: median(add),
      addAll: add,
      addDetails,
      rawAddMs: median(rawAdd),
      rawAddAll: rawAdd,
      noopMs: median(noop),
      noopAll: noop,
      noopApplied,
    };
  } finally {
    await server.close();
    await stopAllFrr();
    await rm(dir, { recursive: true, force: true });
  }
}
