// Runs INSIDE the user-mode Linux guest: the RSS of the real agent processes at N VNIs, started through
// the launcher (bin/openperouter) exactly as the image and the systemd units start them:
//   controller: `openperouter controller` against the API server stand-in (src/k8s/testing, HTTPS)
//               holding the Node (with its index), the workload's objects and the operator Namespace;
//   static:     `openperouter static` reading the workload's manifests from a directory.
// A reloader with FRR's tools stubbed (FRR is not in the guest) takes the configs; the kernel is
// reconciled for real. Measured from /proc/<pid>/status:
//   steady: VmRSS after it converged at N and served a few no-op passes (an object changed in a way
//           that changes nothing for the node);
//   after one VNI added and removed again (through the API / the directory); the peak VmHWM.
// Input: JSON on stdin ({ mode, n, socket }); output: one JSON line per result.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ApiServerStandIn, type KObject } from '../src/k8s/testing/apiserver-standin.js';
import { emptyNodeRssKb, setupHostNamespace, startStubReloader, statusKb } from './guest-common.js';
import { emit, run, runScript, sleep } from './lib.js';
import { NS, vniManifests, workloadManifests } from './workload.js';

const HOST_NS = 'chost';
const ROUTER_NS = 'perouter';
const NIC = 'toswitch';
const NODE = 'bench-node';

interface Input {
  mode: 'controller' | 'static';
  n: number;
  socket: string;
}

/** How the benchmark drives one kind of agent. */
interface AgentDriver {
  /** `openperouter` arguments. */
  args: string[];
  /** An input change that changes nothing for the node (the i-th). */
  touch(i: number): Promise<void>;
  addVni(): Promise<void>;
  removeVni(): Promise<void>;
  close(): Promise<void>;
}

/** The agent's JSON log records, as they arrive. */
class AgentLog {
  readonly records: Record<string, unknown>[] = [];
  /** Lines that are not JSON records (a usage error, a crash), the last ones. */
  readonly other: string[] = [];
  exitCode: number | null | undefined;
  private tail = '';

  constructor(child: ChildProcess) {
    const onData = (b: Buffer): void => {
      this.tail += b.toString();
      const lines = this.tail.split('\n');
      this.tail = lines.pop() ?? '';
      for (const l of lines) {
        if (!l.startsWith('{')) {
          this.other.push(l);
          if (this.other.length > 20) this.other.shift();
          continue;
        }
        try {
          this.records.push(JSON.parse(l) as Record<string, unknown>);
        } catch {
          // a partial or foreign line: not a record
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      this.exitCode = code;
    });
  }

  /** Waits for a Ready `reconciled` record from index `from` on (that also matches `also`). */
  async readyPass(
    from: number,
    what: string,
    timeoutMs: number,
    also: (r: Record<string, unknown>) => boolean = () => true,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.exitCode === undefined) {
      for (let i = from; i < this.records.length; i++) {
        const r = this.records[i];
        if (r?.['msg'] === 'reconciled' && r['ready'] === 'True' && also(r)) return;
      }
      await sleep(100);
    }
    const last = [...this.records.slice(-5).map((r) => JSON.stringify(r).slice(0, 400)), ...this.other];
    const why =
      this.exitCode !== undefined ? `the agent exited (${this.exitCode})` : `none within ${timeoutMs} ms`;
    throw new Error(`agent: ${what}: no Ready pass, ${why}; its last output:\n${last.join('\n')}`);
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

async function controllerDriver(a: Input, dir: string): Promise<AgentDriver> {
  const api = await ApiServerStandIn.start({ tls: true });
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
  const first = vniManifests(0).find((m) => m['kind'] === 'L3VNI') as KObject;
  return {
    args: [
      'controller',
      `--node-name=${NODE}`,
      `--namespace=${NS}`,
      `--kubeconfig=${kubeconfig}`,
      '--metrics-bind-address=127.0.0.1:0',
      '--health-probe-bind-address=127.0.0.1:0',
      '--log-level=info',
    ],
    async touch(i) {
      // A label on one of the workload's objects: an event, nothing to change.
      api.seed({ ...first, metadata: { ...(first['metadata'] as object), labels: { touched: String(i) } } });
    },
    async addVni() {
      for (const m of vniManifests(a.n)) api.seed(m as KObject);
    },
    async removeVni() {
      for (const m of vniManifests(a.n)) {
        const meta = m['metadata'] as { name: string };
        const plural = `${String(m['kind']).toLowerCase()}s`;
        await deleteObject(
          api,
          `/apis/network.openperouter.io/v1alpha1/namespaces/${NS}/${plural}/${meta.name}`,
        );
      }
    },
    close: () => api.stop(),
  };
}

function staticDriver(a: Input, dir: string): AgentDriver {
  const configDir = join(dir, 'config');
  const yaml = (docs: Record<string, unknown>[]): string => docs.map((d) => stringify(d)).join('---\n');
  const [underlay, ...vnis] = workloadManifests(a.n, { nic: NIC });
  const underlayFile = join(configDir, 'underlay.yaml');
  const extraFile = join(configDir, 'extra.yaml');
  mkdirSync(configDir);
  writeFileSync(underlayFile, yaml([underlay as Record<string, unknown>]));
  writeFileSync(join(configDir, 'vnis.yaml'), yaml(vnis));
  writeFileSync(join(dir, 'node.yaml'), `nodeName: ${NODE}\nnodeIndex: { index: 0 }\n`);
  return {
    args: [
      'static',
      `--config-dir=${configDir}`,
      `--node-file=${join(dir, 'node.yaml')}`,
      `--status-file=${join(dir, 'status.yaml')}`,
    ],
    async touch(i) {
      // A label on the Underlay: the file changes, the node's configuration does not.
      const u = underlay as { metadata: object };
      writeFileSync(
        underlayFile,
        yaml([{ ...u, metadata: { ...u.metadata, labels: { touched: String(i) } } }]),
      );
    },
    async addVni() {
      writeFileSync(extraFile, yaml(vniManifests(a.n)));
    },
    async removeVni() {
      unlinkSync(extraFile);
    },
    close: async () => {},
  };
}

async function main(a: Input): Promise<void> {
  await run('ip', ['netns', 'del', ROUTER_NS]);
  await run('ip', ['netns', 'del', HOST_NS]);
  await setupHostNamespace(HOST_NS, NIC);
  const dir = mkdtempSync(join(tmpdir(), `bench-${a.mode}-`));
  const server = await startStubReloader(a.socket);
  const driver = a.mode === 'controller' ? await controllerDriver(a, dir) : staticDriver(a, dir);
  let child: ChildProcess | undefined;
  try {
    const launcher = fileURLToPath(new URL('../../bin/openperouter', import.meta.url));
    const t0 = performance.now();
    child = spawn(
      launcher,
      [
        ...driver.args,
        `--reloader-socket=${a.socket}`,
        `--router-namespace=${ROUTER_NS}`,
        `--host-namespace=${HOST_NS}`,
        `--state-file=${join(dir, 'last-good.json')}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const pid = child.pid ?? 0;
    const log = new AgentLog(child);
    await log.readyPass(0, `first convergence at N=${a.n}`, 30 * 60_000);
    const convergedMs = performance.now() - t0;
    const changed = (r: Record<string, unknown>): boolean => Number(r['kernelOperations']) > 0;
    for (let i = 0; i < 3; i++) {
      const from = log.records.length;
      await driver.touch(i);
      await log.readyPass(from, `no-op pass ${i}`, 5 * 60_000);
    }
    const steadyKb = statusKb(pid, 'VmRSS');
    let from = log.records.length;
    await driver.addVni();
    await log.readyPass(from, 'one VNI added', 10 * 60_000, changed);
    from = log.records.length;
    await driver.removeVni();
    await log.readyPass(from, 'one VNI removed', 10 * 60_000, changed);
    emit({
      section: 'agent-process-rss',
      mode: a.mode,
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
    await driver.close();
    await run('ip', ['netns', 'del', ROUTER_NS]);
    await run('ip', ['netns', 'del', HOST_NS]);
    rmSync(dir, { recursive: true, force: true });
  }
}

runScript(main);
