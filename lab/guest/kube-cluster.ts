// The lab's "cluster" for Kubernetes mode, run inside the guest: the API server STAND-IN (src/k8s/testing;
// no kube-apiserver can run on these machines) over HTTPS, with the Namespace, the lab's Node objects
// (labels only: the nodemarker gives them their index) and the chart's ValidatingWebhookConfiguration
// (served by the nodemarker on 127.0.0.1:--webhook-port).
//
// It also plays the user: it mirrors a directory of manifests into the API over HTTP, as
// `kubectl apply -f DIR --prune` would (create or replace each object, delete the ones whose file went
// away), so the lab's editManifests() works unchanged; every object's outcome (applied, or rejected with
// the API server's / webhook's message) is a JSON line on stdout. And it copies each node's
// RouterNodeConfigurationStatus to <share>/<node>/status.yaml, where the lab reads the static agent's.
//
//   node dist/lab/guest/kube-cluster.js --state-dir D --share S --manifests DIR --namespace NS \
//     --node node-a --node node-b=rack=1,zone=x --apiserver-port 6443 --webhook-port 9443
import { mkdirSync, readdirSync, readFileSync, renameSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import {
  isApiError,
  KubeClient,
  type KubeObject,
  kubeConfigFromString,
  Resource,
  type ResourceType,
} from '../../src/k8s/client/index.js';
import { ApiServerStandIn, type KObject } from '../../src/k8s/testing/apiserver-standin.js';
import { REPO_ROOT } from '../lab.js';

const { values } = parseArgs({
  options: {
    'state-dir': { type: 'string' },
    share: { type: 'string' },
    manifests: { type: 'string' },
    namespace: { type: 'string', default: 'openperouter-system' },
    node: { type: 'string', multiple: true, default: [] },
    'apiserver-port': { type: 'string', default: '6443' },
    'webhook-port': { type: 'string', default: '9443' },
  },
});
const stateDir = values['state-dir'];
const share = values.share;
const manifestDir = values.manifests;
if (!stateDir || !share || !manifestDir) throw new Error('--state-dir, --share and --manifests are required');
const namespace = values.namespace;
const webhookPort = Number(values['webhook-port']);

const log = (fields: Record<string, unknown>, msg: string) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

/** `name[=k=v,k=v]` → Node object. */
function nodeObject(spec: string): KObject {
  const [name = '', ...rest] = spec.split('=');
  const labels: Record<string, string> = { 'kubernetes.io/hostname': name };
  const pairs = rest.join('=');
  for (const kv of pairs === '' ? [] : pairs.split(',')) {
    const [k = '', v = ''] = kv.split('=');
    labels[k] = v;
  }
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } };
}

/** The chart's ValidatingWebhookConfiguration, from the rendered plain manifests. */
function webhookConfiguration(): KObject {
  const text = readFileSync(join(REPO_ROOT, 'deploy', 'manifests', 'openperouter.yaml'), 'utf8');
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJS() as KObject | null;
    if (o?.['kind'] === 'ValidatingWebhookConfiguration') return o;
  }
  throw new Error('deploy/manifests/openperouter.yaml has no ValidatingWebhookConfiguration');
}

const apiserver = await ApiServerStandIn.start({
  port: Number(values['apiserver-port']),
  tls: true,
  serviceResolver: () => ({ host: '127.0.0.1', port: webhookPort }),
});
mkdirSync(stateDir, { recursive: true });
await apiserver.writeKubeconfig(join(stateDir, 'kubeconfig'));
apiserver.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
const nodeNames: string[] = [];
for (const spec of values.node) {
  const node = nodeObject(spec);
  apiserver.seed(node);
  nodeNames.push(String((node['metadata'] as KObject)['name']));
}
apiserver.seed(webhookConfiguration());
log({ url: apiserver.url, nodes: nodeNames }, 'API server stand-in up');

// ---------------------------------------------------------------------------------------------------
// the user: kubectl apply --prune of the manifest directory, over HTTP (admission webhooks included)

const client = new KubeClient(kubeConfigFromString(apiserver.kubeconfig));
const key = (o: KubeObject) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
/** What this mirror created and has not deleted: key → object header. */
const applied = new Map<string, KubeObject>();

function readManifests(): Map<string, KubeObject> {
  const out = new Map<string, KubeObject>();
  for (const f of readdirSync(manifestDir as string).sort()) {
    if (f.startsWith('.') || !/\.ya?ml$/.test(f)) continue;
    for (const doc of parseAllDocuments(readFileSync(join(manifestDir as string, f), 'utf8'))) {
      const o = doc.toJS() as KubeObject | null;
      if (!o?.kind || !o.metadata?.name) continue;
      o.metadata.namespace ??= namespace;
      out.set(key(o), o);
    }
  }
  return out;
}

function errorText(err: unknown): string {
  if (err instanceof Error && 'statusMessage' in err) return String(err.statusMessage);
  return err instanceof Error ? err.message : String(err);
}

/** apiVersion + kind → where it is served, from the API's discovery (as kubectl finds it). */
const resources = new Map<string, ResourceType>();
async function resourceOf(o: KubeObject): Promise<Resource<KubeObject>> {
  const apiVersion = o.apiVersion ?? '';
  const k = `${apiVersion} ${o.kind ?? ''}`;
  let r = resources.get(k);
  if (!r) {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const list = await client.request<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(
      'GET',
      group ? `/apis/${group}/${version}` : `/api/${version}`,
    );
    const found = list.resources.find((x) => x.kind === o.kind && !x.name.includes('/'));
    if (!found) throw new Error(`the API serves no ${o.kind} in ${apiVersion}`);
    r = { group: group ?? '', version: version ?? '', plural: found.name, namespaced: found.namespaced };
    resources.set(k, r);
  }
  return new Resource(client, r);
}

/** One apply pass; true when every object went in (else the caller retries later). */
async function applyOnce(): Promise<boolean> {
  let allOk = true;
  const want = readManifests();
  for (const [k, o] of want) {
    try {
      const api = await resourceOf(o);
      let existing: KubeObject | undefined;
      try {
        existing = await api.get(o.metadata?.name ?? '', o.metadata?.namespace ?? namespace);
      } catch (err) {
        if (!isApiError(err, 404)) throw err;
      }
      if (existing === undefined) {
        await api.create(o);
        log({ object: k }, 'created');
      } else {
        const spec = (o as KObject)['spec'];
        if (JSON.stringify(spec) !== JSON.stringify((existing as KObject)['spec'])) {
          await api.replace({
            ...o,
            metadata: { ...o.metadata, resourceVersion: existing.metadata?.resourceVersion ?? '' },
          } as KubeObject);
          log({ object: k }, 'replaced');
        }
      }
      applied.set(k, o);
    } catch (err) {
      allOk = false;
      log({ object: k, error: errorText(err) }, 'rejected');
    }
  }
  for (const [k, o] of applied) {
    if (want.has(k)) continue;
    try {
      await (await resourceOf(o)).delete(o.metadata?.name ?? '', o.metadata?.namespace);
      log({ object: k }, 'deleted');
    } catch (err) {
      if (!isApiError(err, 404)) {
        allOk = false;
        log({ object: k, error: errorText(err) }, 'delete failed');
        continue;
      }
    }
    applied.delete(k);
  }
  log({ ok: allOk, objects: want.size }, 'apply pass done');
  return allOk;
}

let timer: NodeJS.Timeout | undefined;
let running = false;
let again = false;
function schedule(delayMs = 200): void {
  if (running) {
    again = true;
    return;
  }
  if (timer) clearTimeout(timer);
  timer = setTimeout(async () => {
    running = true;
    let ok = false;
    try {
      ok = await applyOnce();
    } catch (err) {
      log({ error: errorText(err) }, 'apply pass failed');
    }
    running = false;
    // The webhook may not be up yet (failurePolicy Fail): retry rejected objects until they go in.
    if (again || !ok) {
      again = false;
      schedule(ok ? 200 : 2000);
    }
  }, delayMs);
}
watch(manifestDir, () => schedule());
schedule(0);

// ---------------------------------------------------------------------------------------------------
// node status → the share, where the lab reads it

const lastStatus = new Map<string, string>();
let lastNodes = '';
setInterval(() => {
  // The nodes as the nodemarker left them (name → openpe.io/nodeindex annotation), for the lab to check.
  const nodes = Object.fromEntries(
    apiserver.list('nodes').map((n) => {
      const m = n['metadata'] as KObject;
      const annotations = (m['annotations'] ?? {}) as Record<string, string>;
      return [String(m['name']), annotations['openpe.io/nodeindex'] ?? null];
    }),
  );
  const nodesText = JSON.stringify(nodes);
  if (nodesText !== lastNodes) {
    lastNodes = nodesText;
    mkdirSync(join(share, 'cluster'), { recursive: true });
    writeAtomic(join(share, 'cluster', 'nodes.json'), nodesText);
  }
  for (const o of apiserver.list('routernodeconfigurationstatuses', namespace)) {
    const name = String((o['metadata'] as KObject | undefined)?.['name'] ?? '');
    const node = nodeNames.find((n) => n === name) ?? name;
    const text = stringify(o);
    if (lastStatus.get(node) === text) continue;
    lastStatus.set(node, text);
    mkdirSync(join(share, node), { recursive: true });
    writeAtomic(join(share, node, 'status.yaml'), text);
  }
}, 250);

const stop = async () => {
  await apiserver.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
