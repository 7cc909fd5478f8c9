// The HTTP endpoints every long-running component serves: Prometheus metrics on one address, health
// probes on another (as the chart's --metrics-bind-address / --health-probe-bind-address say).
// /healthz: the process is alive and its loops are turning; /readyz: it is doing its job (the
// controller: the router answers; the nodemarker: webhook certificate loaded).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parseBindAddress } from './bind-address.js';

export { parseBindAddress };

export type Probe = () => boolean | Promise<boolean>;

/** A metrics registry with the process metrics (RSS, CPU, event loop lag) already registered. */
export function newMetricsRegistry(prefix = 'openperouter_'): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return registry;
}

async function listen(server: Server, addr: string): Promise<Server | undefined> {
  const bind = parseBindAddress(addr);
  if (!bind) return undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export interface Endpoints {
  /** Actual ports (useful when asked for port 0). */
  metricsPort: number | undefined;
  healthPort: number | undefined;
  close(): Promise<void>;
}

export async function serveEndpoints(opts: {
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  registry: Registry;
  healthy: Probe;
  ready: Probe;
}): Promise<Endpoints> {
  const metrics = await listen(
    createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404).end('not found\n');
        return;
      }
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(`${(err as Error).message}\n`),
      );
    }),
    opts.metricsBindAddress,
  );
  const health = await listen(
    createServer((req, res) => {
      const path = req.url?.split('?')[0];
      const probe =
        path === '/healthz' || path === '/livez' ? opts.healthy : path === '/readyz' ? opts.ready : undefined;
      if (req.method !== 'GET' || !probe) {
        res.writeHead(404).end('not found\n');
        return;
      }
      Promise.resolve()
        .then(probe)
        .then(
          (ok) => res.writeHead(ok ? 200 : 503).end(ok ? 'ok\n' : 'not ready\n'),
          (err: unknown) => res.writeHead(503).end(`${(err as Error).message}\n`),
        );
    }),
    opts.healthProbeBindAddress,
  );
  const portOf = (s: Server | undefined) => (s ? (s.address() as AddressInfo).port : undefined);
  const closeOne = (s: Server | undefined) =>
    new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
  return {
    metricsPort: portOf(metrics),
    healthPort: portOf(health),
    close: async () => {
      metrics?.closeAllConnections();
      health?.closeAllConnections();
      await Promise.all([closeOne(metrics), closeOne(health)]);
    },
  };
}
