// Runs INSIDE the user-mode Linux guest: the RSS of the real `openperouter controller` process at N VNIs.
// The API server stand-in (src/k8s/testing, over HTTPS) holds the Node (with its index), the
// workload's objects and the operator Namespace; a reloader with FRR's tools stubbed (FRR is not in
// the guest) takes the configs; the controller — the CLI from dist/, a process of its own, exactly as
// the pod runs it — reconciles the kernel for real. Measured from /proc/<pid>/status:
//   steady: VmRSS after it converged at N and served a few no-op passes (unrelated object changes);
//   after one VNI added and removed again through the API; the peak VmHWM over its life.
// Input: JSON on stdin ({ n, socket }); output: one JSON line per result.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startReloaderServer } from '../src/frr/reloader-server.js';
import { ApiServerStandIn, type KObject } from '../src/k8s/testing/apiserver-standin.js';
import { emptyNodeRssKb, setupHostNamespace, statusKb, stubFrr } from './guest-common.js';
import { run, sleep } from './lib.js';
import { NS, vniManifests, workloadManifests } from './workload.js';

const HOST_NS = 'chost';
const ROUTER_NS = 'perouter';
const NIC = 'toswitch';
const NODE = 'bench-node';

interface Input {
  n: number;
  socket: string;
}

const emit = (o: unknown): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

/** The controller's JSON log records, as they arrive. */
class ControllerLog {
  readonly records: Record<string, unknown>[] = [];
  private tail = '';

  constructor(child: ChildProcess) {
    const onData = (b: Buffer): void => {
      this.tail += b.toString();
      const lines = this.tail.split('\n');
      this.tail = lines.pop() ?? '';
      for (const l of lines) {
        if (!l.startsWith('{')) continue;
        try {
          this.records.push(JSON.parse(l) as Record<string, unknown>);
        } catch {
          // a partial or foreign line: not a record
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  }

  /** Waits for a Ready `reconciled` record from index `from` on (that also matches `also`). */
  async readyPass(
    from: number,
    what: string,
    timeoutMs: number,
    also: (r: Record<string, unknown>) => boolean = () => true,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (let i = from; i < this.records.length; i++) {
        const r = this.records[i];
        if (r?.['msg'] === 'reconciled' && r['ready'] === 'True' && also(r)) return;
      }
      await sleep(100);
    }
    const last = this.records.slice(-5).map((r) => JSON.stringify(r).slice(0, 400));
    throw new Error(
      `controller: ${what}: no Ready pass within ${timeoutMs} ms; last records:\n${last.join('\n')}`,
    );
  }
}

/** DELETE through the API (HTTPS, the stand-in's own CA): watchers see it as a user's delete. */
function deleteObject(api: ApiServerStandIn, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${api.url}${path}`,
      { method: 'DELETE', ...(api.caPem ? { ca: api.caPem } : {}) },
      (res) => {
        res.resume();
        res.on('end', () =>
          (res.statusCode ?? 0) < 300
            ? resolve()
            : reject(new Error(`DELETE ${path}: HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  let text = '';
  for await (const c of process.stdin) text += c;
  const a = JSON.parse(text) as Input;
  await run('ip', ['netns', 'del', ROUTER_NS]);
  await run('ip', ['netns', 'del', HOST_NS]);
  await setupHostNamespace(HOST_NS, NIC);
  const dir = mkdtempSync(join(tmpdir(), 'bench-controller-'));
  const api = await ApiServerStandIn.start({ tls: true });
  const server = await startReloaderServer({
    socketPath: a.socket,
    stateFile: `${a.socket}.state`,
    target: { pathspace: 'bench' },
    restartCheckIntervalMs: 0,
    runner: stubFrr,
    fastPathMaxLines: 0,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  let child: ChildProcess | undefined;
  try {
    api.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    api.seed({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: NODE,
        labels: { 'kubernetes.io/hostname': NODE },
        annotations: { 'openpe.io/nodeindex': '0' },
      },
    });
    for (const m of workloadManifests(a.n, { nic: NIC })) api.seed(m as KObject);
    const kubeconfig = join(dir, 'kubeconfig');
    await api.writeKubeconfig(kubeconfig);
    // Through the launcher, as the image and the systemd units start it (its Node.js flags included).
    const launcher = fileURLToPath(new URL('../../bin/openperouter', import.meta.url));
    const t0 = performance.now();
    child = spawn(
      launcher,
      [
        'controller',
        `--node-name=${NODE}`,
        `--namespace=${NS}`,
        `--kubeconfig=${kubeconfig}`,
        `--reloader-socket=${a.socket}`,
        `--router-namespace=${ROUTER_NS}`,
        `--host-namespace=${HOST_NS}`,
        '--metrics-bind-address=127.0.0.1:0',
        '--health-probe-bind-address=127.0.0.1:0',
        '--log-level=info',
        `--state-file=${join(dir, 'last-good.json')}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const pid = child.pid ?? 0;
    const log = new ControllerLog(child);
    await log.readyPass(0, `first convergence at N=${a.n}`, 30 * 60_000);
    const convergedMs = performance.now() - t0;
    const changed = (r: Record<string, unknown>): boolean => Number(r['kernelOperations']) > 0;
    // No-op passes: a label on one of the workload's objects (an event, nothing to change).
    const first = vniManifests(0).find((m) => m['kind'] === 'L3VNI');
    for (let i = 0; i < 3; i++) {
      const from = log.records.length;
      const meta = { ...(first?.['metadata'] as object), labels: { touched: String(i) } };
      api.seed({ ...(first as KObject), metadata: meta });
      await log.readyPass(from, `no-op pass ${i}`, 5 * 60_000);
    }
    const steadyKb = statusKb(pid, 'VmRSS');
    // One VNI added and removed through the API, as a user would.
    let from = log.records.length;
    for (const m of vniManifests(a.n)) api.seed(m as KObject);
    await log.readyPass(from, 'one VNI added', 10 * 60_000, changed);
    from = log.records.length;
    for (const m of vniManifests(a.n)) {
      const meta = m['metadata'] as { name: string };
      const plural = `${String(m['kind']).toLowerCase()}s`;
      await deleteObject(
        api,
        `/apis/network.openperouter.io/v1alpha1/namespaces/${NS}/${plural}/${meta.name}`,
      );
    }
    await log.readyPass(from, 'one VNI removed', 10 * 60_000, changed);
    emit({
      section: 'controller-rss',
      n: a.n,
      convergedMs,
      steadyRssKb: steadyKb,
      afterChangeRssKb: statusKb(pid, 'VmRSS'),
      hwmKb: statusKb(pid, 'VmHWM'),
      passes: log.records.filter((r) => r['msg'] === 'reconciled').length,
      emptyNodeRssKb: await emptyNodeRssKb(),
    });
  } finally {
    child?.kill('SIGKILL');
    await server.close();
    await api.stop();
    await run('ip', ['netns', 'del', ROUTER_NS]);
    await run('ip', ['netns', 'del', HOST_NS]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  emit({ section: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exitCode = 1;
});
