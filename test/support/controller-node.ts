// A Kubernetes-mode node for tests: the router side of a static node (real FRR in a throwaway router
// namespace + `openperouter reloader`, from static-node.ts; its static agent is never started) and
// `openperouter controller` as a child process, pointed at an ApiServerStandIn through a kubeconfig file.
import { join } from 'node:path';
import type { ApiServerStandIn, KObject } from '../../src/k8s/testing/apiserver-standin.js';
import { CliProcess, type LogRecord, type StaticNode, startStaticNode } from './static-node.js';

export interface ControllerNode {
  readonly router: StaticNode;
  readonly kubeconfig: string;
  controller: CliProcess | undefined;
  /** `openperouter controller` arguments. */
  args(): string[];
  /** Starts the controller (again); resolves with its metrics and health ports once it logged them. */
  start(): Promise<{ process: CliProcess; metricsPort: number; healthPort: number }>;
  stop(): Promise<void>;
}

export async function startControllerNode(opts: {
  apiserver: ApiServerStandIn;
  hostNamespace: string;
  nodeName: string;
  namespace: string;
  extraArgs?: string[];
}): Promise<ControllerNode> {
  // The node file is only there because startStaticNode wants one: the static agent never runs.
  const router = await startStaticNode({
    hostNamespace: opts.hostNamespace,
    nodeFile: 'nodeIndex: { index: 0 }\n',
  });
  const kubeconfig = join(router.dir, 'kubeconfig');
  await opts.apiserver.writeKubeconfig(kubeconfig);
  const args = (): string[] => [
    'controller',
    `--node-name=${opts.nodeName}`,
    `--namespace=${opts.namespace}`,
    `--kubeconfig=${kubeconfig}`,
    `--reloader-socket=${router.socket}`,
    `--router-namespace=${router.routerNamespace}`,
    `--host-namespace=${opts.hostNamespace}`,
    '--metrics-bind-address=127.0.0.1:0',
    '--health-probe-bind-address=127.0.0.1:0',
    '--log-level=info',
    `--state-file=${join(router.dir, 'state', 'controller-last-good.json')}`,
    '--debounce-ms=100',
    ...(opts.extraArgs ?? []),
  ];
  const node: ControllerNode = {
    router,
    kubeconfig,
    controller: undefined,
    args,
    async start() {
      if (node.controller?.running) throw new Error('the controller is already running');
      const p = new CliProcess('controller', args(), router.logFile);
      node.controller = p;
      const r: LogRecord = await p.waitForRecord('its start', (x) => x.msg === 'starting', 30_000);
      return { process: p, metricsPort: Number(r['metricsPort']), healthPort: Number(r['healthPort']) };
    },
    async stop() {
      await node.controller?.stop('SIGKILL');
      await router.stop();
    },
  };
  return node;
}

/** Plain HTTP to the stand-in, as kubectl would send it (JSON; PATCH = merge patch). */
export async function kube(
  apiserver: ApiServerStandIn,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: KObject }> {
  const res = await fetch(apiserver.url + path, {
    method,
    headers:
      body === undefined
        ? {}
        : { 'Content-Type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const parsed = text.startsWith('{') ? (JSON.parse(text) as KObject) : { text };
  if (res.status >= 300) throw new Error(`${method} ${path}: HTTP ${res.status}: ${text}`);
  return { status: res.status, body: parsed };
}
