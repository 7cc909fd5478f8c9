// The validating webhooks of the nodemarker: certificates, the admission decision, and end to end over
// real HTTPS through the API server STAND-IN (src/k8s/testing/apiserver-standin.ts), which calls the
// webhooks registered in the chart's ValidatingWebhookConfiguration exactly as kube-apiserver does,
// trusting only the caBundle the nodemarker injected.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { silentLogger } from '../src/frr/log.js';
import {
  ApiError,
  type ClusterConfig,
  KubeClient,
  kubeConfigFromString,
  Resource,
  SECRETS,
} from '../src/k8s/client/index.js';
import { type Nodemarker, startNodemarker } from '../src/k8s/nodemarker/nodemarker.js';
import { ApiServerStandIn, type KObject } from '../src/k8s/testing/apiserver-standin.js';
import {
  type AdmissionRequest,
  type ClusterState,
  decide,
  kindOfPath,
} from '../src/k8s/webhook/admission.js';
import {
  certificateInfo,
  createCertificate,
  issuedBy,
  keyMatches,
  splitPemBundle,
} from '../src/k8s/webhook/certificates.js';
import { eventually } from './support/eventually.js';
import { repoRoot } from './support/scenarios.js';

const API = 'network.openperouter.io/v1alpha1';
const NS = 'openperouter-system';
const GROUP = 'network.openperouter.io';
const VERSION = 'v1alpha1';
const SECRET = 'openpe-webhook-server-cert';
const VWC = 'openpe-validating-webhook-configuration';

type Doc = Record<string, unknown>;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** The chart's ValidatingWebhookConfiguration, from the rendered plain manifests. */
function chartWebhookConfiguration(): KObject {
  const text = readFileSync(join(repoRoot, 'deploy', 'manifests', 'openperouter.yaml'), 'utf8');
  const doc = parseAllDocuments(text)
    .map((d) => d.toJS() as KObject | null)
    .find((d) => d?.['kind'] === 'ValidatingWebhookConfiguration');
  assert.ok(doc, 'deploy/manifests/openperouter.yaml has a ValidatingWebhookConfiguration');
  return doc;
}

const underlay = (name: string, spec: Doc = {}): Doc => ({
  apiVersion: API,
  kind: 'Underlay',
  metadata: { name, namespace: NS },
  spec: {
    asn: 64514,
    interfaces: [{ type: 'NetworkDevice', networkDevice: { interfaceName: 'toswitch' } }],
    neighbors: [{ asn: 64512, address: '192.168.11.2' }],
    tunnelEndpoint: { cidrs: ['100.65.0.0/24'] },
    ...spec,
  },
});
const l3vni = (name: string, spec: Doc = {}, ns = NS): Doc => ({
  apiVersion: API,
  kind: 'L3VNI',
  metadata: { name, namespace: ns },
  spec: {
    vrf: name,
    vni: 100,
    hostSession: { asn: 64514, hostASN: 64515, localCIDR: { ipv4: '192.169.10.0/24' } },
    ...spec,
  },
});
const l2vni = (name: string, spec: Doc = {}): Doc => ({
  apiVersion: API,
  kind: 'L2VNI',
  metadata: { name, namespace: NS },
  spec: { vni: 200, ...spec },
});
const node = (name: string, labels: Record<string, string> = {}): KObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
});

const plural = (kind: string) => `${kind.toLowerCase()}s`;

/** The Status message of a failed client call. */
async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
    return { code: err.code, message: err.statusMessage };
  }
  assert.fail('expected the request to be rejected');
}

// ---------------------------------------------------------------------------------------------------

describe('webhook certificates (node:crypto, hand-built DER)', () => {
  it('a CA-signed serving certificate verifies against its CA only, with the service names', () => {
    const now = Date.now();
    const ca = createCertificate({
      commonName: 'cert',
      organization: 'openperouter.io',
      isCA: true,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
    });
    const other = createCertificate({
      commonName: 'other',
      isCA: true,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
    });
    const dns = ['svc.ns.svc', 'svc.ns.svc.cluster.local'];
    const leaf = createCertificate({
      commonName: 'svc.ns.svc',
      dnsNames: dns,
      ipAddresses: ['127.0.0.1'],
      isCA: false,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
      issuer: ca,
    });
    assert.ok(issuedBy(leaf.certPem, ca.certPem));
    assert.ok(!issuedBy(leaf.certPem, other.certPem));
    assert.ok(keyMatches(leaf.certPem, leaf.keyPem));
    assert.ok(!keyMatches(leaf.certPem, ca.keyPem));
    const info = certificateInfo(leaf.certPem);
    assert.deepEqual(info.dnsNames, dns);
    assert.deepEqual(info.ipAddresses, ['127.0.0.1']);
    assert.equal(info.isCA, false);
    assert.ok(certificateInfo(ca.certPem).isCA);
    assert.match(new X509Certificate(leaf.certPem).issuer, /O=openperouter.io/);
    assert.deepEqual(splitPemBundle(ca.certPem + other.certPem), [ca.certPem, other.certPem]);
  });
});

describe('admission decision (pure)', () => {
  const nodes = [
    { name: 'n1', labels: { rack: 'a' } },
    { name: 'n2', labels: { rack: 'b' } },
  ];
  const review = (operation: string, object: Doc, oldObject?: Doc): AdmissionRequest => ({
    uid: 'u1',
    kind: { group: GROUP, version: VERSION, kind: String(object['kind']) },
    operation,
    name: String((object['metadata'] as Doc)['name']),
    namespace: NS,
    object,
    ...(oldObject ? { oldObject } : {}),
  });
  const state = (objects: Doc[]): ClusterState => ({ objects, nodes });

  it('maps paths to kinds', () => {
    assert.equal(kindOfPath('/validate-openperouter-io-v1alpha1-l3vni'), 'L3VNI');
    assert.equal(kindOfPath('/validate-openperouter-io-v1alpha1-rawfrrconfig'), 'RawFRRConfig');
    assert.equal(kindOfPath('/validate-openperouter-io-v1alpha1-nope'), undefined);
  });

  it('denies a duplicate VNI on every node it selects, naming node, object, field and reason', () => {
    const d = decide(
      review('CREATE', l3vni('blue', { hostSession: undefined })),
      state([underlay('u'), l3vni('red')]),
    );
    assert.equal(d.allowed, false);
    assert.equal(
      d.message,
      `validation failed on nodes "n1", "n2": L3VNI ${NS}/blue: spec.vni: duplicate vni 100:L3VNI/red`,
    );
  });

  it('an object that sorts first and would make an existing one fail is denied from its own side', () => {
    const d = decide(
      review('CREATE', l3vni('a-first', { hostSession: undefined })),
      state([underlay('u'), l3vni('red')]),
    );
    assert.equal(d.allowed, false);
    assert.equal(
      d.message,
      `validation failed on nodes "n1", "n2": L3VNI ${NS}/a-first: spec.vni: duplicate vni 100:L3VNI/red`,
    );
  });

  it('pre-existing failures of other objects do not block an unrelated object', () => {
    const dupA = l3vni('dup-a', { vni: 300, hostSession: undefined });
    const dupB = l3vni('dup-b', { vni: 300, hostSession: undefined });
    const d = decide(review('CREATE', l2vni('web', { vni: 400 })), state([underlay('u'), dupA, dupB]));
    assert.deepEqual(d, { allowed: true, warnings: [] });
  });

  it('only the nodes the object selects count', () => {
    const existing = l3vni('red', { nodeSelector: { matchLabels: { rack: 'a' } } });
    const incoming = l3vni('blue', { nodeSelector: { matchLabels: { rack: 'b' } }, hostSession: undefined });
    assert.equal(decide(review('CREATE', incoming), state([underlay('u'), existing])).allowed, true);
    const onA = l3vni('green', { nodeSelector: { matchLabels: { rack: 'a' } }, hostSession: undefined });
    const d = decide(review('CREATE', onA), state([underlay('u'), existing]));
    assert.equal(d.allowed, false);
    assert.match(d.message ?? '', /^validation failed on node "n1": /);
  });

  it('missing dependencies are warnings, and so is selecting no node', () => {
    const d = decide(review('CREATE', l3vni('red')), state([]));
    assert.equal(d.allowed, true);
    assert.match(d.warnings.join('\n'), /not applied yet: .*no Underlay selects this node/);
    const none = decide(
      review('CREATE', l3vni('red', { nodeSelector: { matchLabels: { rack: 'z' } } })),
      state([]),
    );
    assert.equal(none.allowed, true);
    assert.match(none.warnings.join('\n'), /selects no node at the moment/);
  });

  it('UPDATE: immutable fields, and an unchanged old conflict only warns', () => {
    const red = l3vni('red');
    const d = decide(
      review('UPDATE', l3vni('red', { hostSession: undefined }), red),
      state([underlay('u'), red]),
    );
    assert.equal(d.allowed, false);
    assert.match(d.message ?? '', /spec\.hostSession\.localCIDR: LocalCIDR cannot be changed/);
    // dup-b already conflicts with dup-a; a label change on dup-b keeps the conflict: allowed, warned.
    const dupA = l3vni('dup-a', { vni: 300, hostSession: undefined });
    const dupB = l3vni('dup-b', { vni: 300, hostSession: undefined });
    const relabelled = { ...dupB, metadata: { name: 'dup-b', namespace: NS, labels: { x: 'y' } } };
    const u = decide(review('UPDATE', relabelled, dupB), state([underlay('u'), dupA, dupB]));
    assert.equal(u.allowed, true);
    assert.match(u.warnings.join('\n'), /already failing before this change: spec\.vni: duplicate vni 300/);
  });

  it('a RawFRRConfig outside the operator namespace is refused, wherever it points', () => {
    const raw = (ns: string): Doc => ({
      apiVersion: API,
      kind: 'RawFRRConfig',
      metadata: { name: 'extra', namespace: ns },
      spec: { rawConfig: 'log syslog debugging', nodeSelector: { matchLabels: { rack: 'z' } } },
    });
    const opts = { operatorNamespace: NS };
    const d = decide({ ...review('CREATE', raw('default')), namespace: 'default' }, state([]), opts);
    assert.equal(d.allowed, false);
    assert.equal(
      d.message,
      `RawFRRConfig default/extra: metadata.namespace: RawFRRConfig must be created in the operator namespace "${NS}", got "default"`,
    );
    assert.equal(decide(review('CREATE', raw(NS)), state([]), opts).allowed, true);
  });

  it('DELETE is always allowed; a per-object problem is a 400 with every issue', () => {
    assert.equal(decide({ ...review('CREATE', l3vni('x')), operation: 'DELETE' }, state([])).allowed, true);
    const bad = underlay('u', {
      neighbors: [
        { asn: 64512, address: '192.168.11.2' },
        { asn: 64513, address: '192.168.11.2' },
      ],
    });
    const d = decide(review('CREATE', bad), state([]));
    assert.equal(d.code, 400);
    assert.equal(
      d.message,
      `Underlay ${NS}/u: spec.neighbors[1].address: underlay u has duplicate neighbor address: duplicate entry 192.168.11.2`,
    );
  });
});

// ---------------------------------------------------------------------------------------------------

interface Env {
  s: ApiServerStandIn;
  kc: ClusterConfig;
  client: KubeClient;
  port: number;
}

async function environment(): Promise<Env> {
  const port = await freePort();
  const s = await ApiServerStandIn.start({ tls: true, serviceResolver: () => ({ host: '127.0.0.1', port }) });
  const kc = kubeConfigFromString(s.kubeconfig);
  return {
    s,
    kc,
    client: new KubeClient(kc),
    port,
  };
}

function nodemarker(
  env: Env,
  extra: Partial<Parameters<typeof startNodemarker>[0]> = {},
): Promise<Nodemarker> {
  return startNodemarker({
    kc: env.kc,
    namespace: NS,
    webhookPort: env.port,
    webhookHost: '127.0.0.1',
    // The stand-in dials 127.0.0.1 and checks the certificate against it (kube-apiserver would
    // check <service>.<namespace>.svc): the test adds the address to the certificate.
    certExtraSans: ['127.0.0.1'],
    metricsBindAddress: '127.0.0.1:0',
    healthProbeBindAddress: '127.0.0.1:0',
    leaderElection: false,
    log: silentLogger,
    ...extra,
  });
}

const create = (env: Env, o: Doc) => custom(env, plural(String(o['kind']))).create(o, NS);

/** Our kinds in NS, through the client under test. */
const custom = (env: Env, resource: string) =>
  new Resource<Doc>(env.client, { group: GROUP, version: VERSION, plural: resource, namespaced: true });

function secretData(env: Env): Record<string, string> {
  const sec = env.s.get('secrets', SECRET, NS);
  assert.ok(sec, 'the Secret exists');
  const data = sec['data'] as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
}

function caBundles(env: Env): string[] {
  const vwc = env.s.get('validatingwebhookconfigurations', VWC);
  return ((vwc?.['webhooks'] ?? []) as Doc[]).map((w) =>
    Buffer.from(String((w['clientConfig'] as Doc)['caBundle'] ?? ''), 'base64').toString(),
  );
}

/** The certificate the webhook server presents now. */
function servedCert(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, agent: false },
      (res) => {
        const raw = (res.socket as unknown as { getPeerCertificate(): { raw: Buffer } }).getPeerCertificate()
          .raw;
        res.resume();
        res.on('end', () => resolve(new X509Certificate(raw).toString()));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('webhooks end to end (HTTPS through the API server stand-in)', () => {
  let env: Env;
  let nm: Nodemarker;

  before(async () => {
    env = await environment();
    env.s.seed(chartWebhookConfiguration());
    env.s.seed(node('n1', { rack: 'a' }));
    env.s.seed(node('n2', { rack: 'b' }));
    nm = await nodemarker(env);
    await eventually(() => nm.ready(), 'nodemarker ready');
  });
  after(async () => {
    await nm?.stop();
    await env?.s.stop();
  });

  it('creates the Secret and injects its CA into every webhook of the chart configuration', async () => {
    const data = secretData(env);
    for (const k of ['ca.crt', 'ca.key', 'tls.crt', 'tls.key', 'ca-bundle.crt']) assert.ok(data[k], k);
    assert.ok(issuedBy(data['tls.crt']!, data['ca.crt']!));
    const info = certificateInfo(data['tls.crt']!);
    assert.ok(info.dnsNames.includes(`openpe-webhook-service.${NS}.svc`));
    assert.ok(info.dnsNames.includes(`openpe-webhook-service.${NS}.svc.cluster.local`));
    await eventually(() => caBundles(env).every((b) => b === data['ca.crt']), 'caBundle injected');
    assert.equal(caBundles(env).length, 6);
    assert.equal(await servedCert(env.port), new X509Certificate(data['tls.crt']!).toString());
  });

  it('admits valid objects and rejects invalid ones with a clear message', async () => {
    await create(env, underlay('underlay'));
    await create(env, l3vni('red'));
    const bad = underlay('second', {
      nodeSelector: { matchLabels: { rack: 'z' } },
      neighbors: [
        { asn: 64512, address: '192.168.11.2' },
        { asn: 64513, address: '192.168.11.2' },
      ],
    });
    const r = await rejection(create(env, bad));
    assert.equal(r.code, 400);
    assert.equal(
      r.message,
      `admission webhook "underlayvalidationwebhook.openperouter.io" denied the request: Underlay ${NS}/second: spec.neighbors[1].address: underlay second has duplicate neighbor address: duplicate entry 192.168.11.2`,
    );
    assert.equal(env.s.get('underlays', 'second', NS), undefined);
  });

  it('rejects cross-object conflicts on the nodes the object selects', async () => {
    const dupVni = await rejection(create(env, l3vni('blue', { vni: 100, hostSession: undefined })));
    assert.equal(dupVni.code, 403);
    assert.equal(
      dupVni.message,
      `admission webhook "l3vnivalidationwebhook.openperouter.io" denied the request: validation failed on nodes "n1", "n2": L3VNI ${NS}/blue: spec.vni: duplicate vni 100:L3VNI/red`,
    );
    const overlap = await rejection(
      create(
        env,
        l3vni('green', {
          vni: 101,
          hostSession: { asn: 1, hostASN: 2, localCIDR: { ipv4: '192.169.10.128/25' } },
        }),
      ),
    );
    assert.match(
      overlap.message,
      /spec\.hostSession\.localCIDR: overlapping cidrs 192\.169\.10\.128\/25 - 192\.169\.10\.0\/24/,
    );
    const second = await rejection(
      create(env, underlay('second', { nodeSelector: { matchLabels: { rack: 'b' } } })),
    );
    assert.match(
      second.message,
      /denied the request: validation failed on node "n2": Underlay openperouter-system\/second: spec\.nodeSelector: can't have more than one underlay per node/,
    );
    // The same VNI on a node that red does not select would be fine... red selects all: use a new L2VNI.
    await create(env, l2vni('web', { vni: 200 }));
    const l2dup = await rejection(create(env, l2vni('db', { vni: 200 })));
    assert.match(l2dup.message, /L2VNI openperouter-system\/db: spec\.vni: duplicate vni 200:L2VNI\/web/);
  });

  it('pre-existing conflicts between other objects do not block an unrelated object', async () => {
    // Stored behind the webhooks' back (as if created before the webhooks were installed).
    env.s.seed(l3vni('dup-a', { vni: 300, hostSession: undefined }));
    env.s.seed(l3vni('dup-b', { vni: 300, hostSession: undefined }));
    await create(env, l2vni('unrelated', { vni: 400 }));
    assert.ok(env.s.get('l2vnis', 'unrelated', NS));
  });

  it('UPDATE of an immutable field is rejected, other updates pass', async () => {
    const l3vnis = custom(env, 'l3vnis');
    const red = await l3vnis.get('red', NS);
    const spec = { ...(red['spec'] as Doc) };
    delete spec['hostSession'];
    const r = await rejection(l3vnis.replace({ ...red, spec }));
    assert.match(
      r.message,
      /^admission webhook "l3vnivalidationwebhook.openperouter.io" denied the request: L3VNI openperouter-system\/red: spec\.hostSession\.localCIDR: LocalCIDR cannot be changed$/,
    );
    const relabelled = { ...red, metadata: { ...(red['metadata'] as Doc), labels: { team: 'x' } } };
    await l3vnis.replace(relabelled);
    assert.deepEqual((env.s.get('l3vnis', 'red', NS)!['metadata'] as Doc)['labels'], { team: 'x' });
  });

  it('answers health probes and counts admissions in its metrics', async () => {
    const health = await fetch(`http://127.0.0.1:${nm.endpoints.healthPort}/readyz`);
    assert.equal(health.status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${nm.endpoints.healthPort}/healthz`)).status, 200);
    const text = await (await fetch(`http://127.0.0.1:${nm.endpoints.metricsPort}/metrics`)).text();
    assert.match(
      text,
      /openperouter_nodemarker_admission_requests_total\{kind="L3VNI",operation="CREATE",allowed="false"\} [1-9]/,
    );
    assert.match(
      text,
      /openperouter_nodemarker_admission_requests_total\{kind="Underlay",operation="CREATE",allowed="true"\} 1/,
    );
    assert.match(
      text,
      /openperouter_nodemarker_admission_requests_total\{kind="L3VNI",operation="UPDATE",allowed="true"\} 1/,
    );
    const expiry = /openperouter_nodemarker_webhook_certificate_expiry_timestamp_seconds (\d+)/.exec(text);
    assert.ok(expiry && Number(expiry[1]) * 1000 > Date.now() + 300 * 86_400_000, 'cert expiry ~1 year out');
  });

  it('a restart reuses the Secret and leaves caBundle alone', async () => {
    const before = secretData(env);
    const writes = () =>
      env.s.requests.filter(
        (r) =>
          ['create', 'update', 'patch'].includes(r.verb) &&
          (r.resource === 'secrets' ||
            r.resource === 'validatingwebhookconfigurations.admissionregistration.k8s.io'),
      ).length;
    const w0 = writes();
    await nm.stop();
    nm = await nodemarker(env);
    await eventually(() => nm.ready(), 'restarted nodemarker ready');
    assert.deepEqual(secretData(env), before);
    assert.equal(writes(), w0, 'no Secret or webhook configuration writes');
    assert.equal(await servedCert(env.port), new X509Certificate(before['tls.crt']!).toString());
    await create(env, l2vni('after-restart', { vni: 500 }));
  });
});

describe('webhook certificate rotation and racing replicas', () => {
  let env: Env;
  before(async () => {
    env = await environment();
    env.s.seed(chartWebhookConfiguration());
    env.s.seed(node('n1'));
  });
  after(async () => env?.s.stop());

  it('two replicas starting together share one Secret (the loser of the create reads the winner)', async () => {
    const port2 = await freePort();
    const [a, b] = await Promise.all([nodemarker(env), nodemarker({ ...env, port: port2 })]);
    try {
      await eventually(() => a.ready() && b.ready(), 'both ready');
      const data = secretData(env);
      assert.equal(a.certificates?.current?.certPem, data['tls.crt']);
      assert.equal(b.certificates?.current?.certPem, data['tls.crt']);
      const creates = env.s.requests.filter((r) => r.verb === 'create' && r.resource === 'secrets');
      assert.equal(creates.filter((r) => r.code === 201).length, 1);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('renews the serving certificate before it expires (same CA) and the new CA alongside the old', async () => {
    // Lifetimes apply to what is generated: start without a Secret.
    await new Resource(env.client, SECRETS).delete(SECRET, NS);
    const nm = await nodemarker(env, { certLifetimeMs: 4_000, certCheckIntervalMs: 200 });
    try {
      await eventually(() => nm.ready(), 'ready');
      const first = secretData(env);
      const firstServed = await servedCert(env.port);
      await eventually(
        () => secretData(env)['tls.crt'] !== first['tls.crt'],
        'serving certificate renewed',
        8000,
      );
      const renewed = secretData(env);
      assert.equal(renewed['ca.crt'], first['ca.crt'], 'same CA');
      assert.ok(issuedBy(renewed['tls.crt']!, renewed['ca.crt']!));
      await eventually(async () => (await servedCert(env.port)) !== firstServed, 'new certificate served');
      await create(env, l2vni('after-rotation', { vni: 600 }));
    } finally {
      await nm.stop();
    }
  });

  it('a CA near its end is replaced and published next to the old one until that expires', async () => {
    // Start from a Secret whose CA has little time left.
    const now = Date.now();
    const oldCa = createCertificate({
      commonName: 'cert',
      organization: 'openperouter.io',
      isCA: true,
      notBefore: new Date(now - 20_000),
      notAfter: new Date(now + 5_000),
    });
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const sec = env.s.get('secrets', SECRET, NS)!;
    sec['data'] = { ...(sec['data'] as Doc), 'ca.crt': b64(oldCa.certPem), 'ca.key': b64(oldCa.keyPem) };
    env.s.seed(sec);
    const nm = await nodemarker(env, {
      caLifetimeMs: 60_000,
      certLifetimeMs: 30_000,
      certCheckIntervalMs: 200,
    });
    try {
      await eventually(() => nm.ready(), 'ready');
      await eventually(() => secretData(env)['ca.crt'] !== oldCa.certPem, 'new CA');
      const data = secretData(env);
      assert.deepEqual(splitPemBundle(data['ca-bundle.crt']!), [data['ca.crt'], oldCa.certPem]);
      await eventually(() => caBundles(env).every((b) => b === data['ca-bundle.crt']), 'both CAs published');
      assert.ok(issuedBy(data['tls.crt']!, data['ca.crt']!));
      await create(env, l2vni('after-ca-rotation', { vni: 700 }));
      // Once the old CA has expired it leaves the bundle.
      await eventually(
        () => splitPemBundle(secretData(env)['ca-bundle.crt']!).length === 1,
        'old CA dropped',
        10_000,
      );
      await eventually(() => caBundles(env).every((b) => splitPemBundle(b).length === 1), 'bundle updated');
    } finally {
      await nm.stop();
    }
  });
});

describe('openperouter nodemarker (the CLI, as a child process)', () => {
  it('serves the webhooks and assigns indexes, and exits cleanly on SIGTERM', async () => {
    const env = await environment();
    const dir = mkdtempSync(join(tmpdir(), 'opr-nodemarker-'));
    const kubeconfig = join(dir, 'kubeconfig');
    await env.s.writeKubeconfig(kubeconfig);
    env.s.seed(chartWebhookConfiguration());
    env.s.seed(node('n1'));
    const health = await freePort();
    const child = spawn(
      join(repoRoot, 'bin', 'openperouter'),
      [
        'nodemarker',
        `--namespace=${NS}`,
        `--webhook-port=${env.port}`,
        '--webhook-host=127.0.0.1',
        '--cert-service-name=openpe-webhook-service',
        '--metrics-bind-address=0',
        `--health-probe-bind-address=127.0.0.1:${health}`,
        '--log-level=info',
        `--kubeconfig=${kubeconfig}`,
        '--cert-extra-sans=127.0.0.1',
        '--identity=cli-replica',
        '--lease-duration=2s',
        '--renew-deadline=1500ms',
        '--retry-period=200ms',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await eventually(async () => {
        try {
          return (await fetch(`http://127.0.0.1:${health}/readyz`)).status === 200;
        } catch {
          return false;
        }
      }, 'CLI nodemarker ready');
      await eventually(
        () => (env.s.get('nodes', 'n1')!['metadata'] as Doc)['annotations'] !== undefined,
        'node index written',
      );
      assert.deepEqual((env.s.get('nodes', 'n1')!['metadata'] as Doc)['annotations'], {
        'openpe.io/nodeindex': '0',
      });
      const bad = underlay('u', {
        neighbors: [
          { asn: 64512, address: '192.168.11.2' },
          { asn: 64513, address: '192.168.11.2' },
        ],
      });
      const r = await rejection(create(env, bad));
      assert.match(
        r.message,
        /^admission webhook "underlayvalidationwebhook\.openperouter\.io" denied the request: .*duplicate neighbor address/,
      );
      await create(env, underlay('u'));
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      const lease = env.s.get('leases.coordination.k8s.io', 'openperouter-nodemarker', NS);
      assert.equal((lease!['spec'] as Doc)['holderIdentity'], '', 'the lease was released');
      const lines = stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Doc);
      assert.ok(lines.every((l) => l['component'] === 'nodemarker' && typeof l['msg'] === 'string'));
      assert.ok(lines.some((l) => l['msg'] === 'assigned node index'));
    } finally {
      child.kill('SIGKILL');
      await env.s.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('webhook startup edge cases', () => {
  it('a webhook configuration installed after the nodemarker gets its caBundle on the next retry', async () => {
    const env = await environment();
    const nm = await nodemarker(env, { certCheckIntervalMs: 200 });
    try {
      await eventually(() => nm.ready(), 'ready without a webhook configuration');
      env.s.seed(chartWebhookConfiguration());
      await eventually(
        () => caBundles(env).every((b) => b === secretData(env)['ca.crt']),
        'caBundle injected',
      );
      await create(env, l2vni('late', { vni: 800 }));
    } finally {
      await nm.stop();
      await env.s.stop();
    }
  });

  it('is not ready while the API server is unreachable, and still stops promptly', async () => {
    const env = await environment();
    await env.s.stop();
    const nm = await nodemarker(env);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(nm.ready(), false);
    assert.equal((await fetch(`http://127.0.0.1:${nm.endpoints.healthPort}/readyz`)).status, 503);
    assert.equal((await fetch(`http://127.0.0.1:${nm.endpoints.healthPort}/healthz`)).status, 200);
    const t0 = Date.now();
    await nm.stop();
    assert.ok(Date.now() - t0 < 3000, `stopped in ${Date.now() - t0} ms`);
  });
});
