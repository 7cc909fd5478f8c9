// The kube-apiserver STAND-IN (src/k8s/testing/apiserver-standin.ts), driven the way our components
// drive a real API server: with @kubernetes/client-node (typed APIs, Watch, informer) and raw HTTP.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { ApiServerStandIn, type KObject, WRITE_VERBS } from '../src/k8s/testing/apiserver-standin.js';
import { selfSignedCert } from '../src/k8s/testing/self-signed-cert.js';
import { type AdmissionAttributes, matchingWebhooks } from '../src/k8s/testing/standin-admission.js';
import { BUILTIN_RESOURCES } from '../src/k8s/testing/standin-resources.js';
import { eventually } from './support/eventually.js';

const GROUP = 'network.openperouter.io';
const VERSION = 'v1alpha1';
const NS = 'openperouter-system';

type Doc = Record<string, unknown>;

const l3vni = (name: string, spec: Doc = {}): Doc => ({
  apiVersion: `${GROUP}/${VERSION}`,
  kind: 'L3VNI',
  metadata: { name, namespace: NS },
  spec: {
    vrf: 'red',
    vni: 100,
    hostSession: { asn: 64514, hostASN: 64515, localCIDR: { ipv4: '192.169.10.0/24' } },
    ...spec,
  },
});

function clients(standIn: ApiServerStandIn) {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(standIn.kubeconfig);
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    admission: kc.makeApiClient(k8s.AdmissionregistrationV1Api),
  };
}

/** The Status object of a failed client-node call. */
async function statusOf(
  p: Promise<unknown>,
): Promise<{ code: number; reason?: string; message: string; details?: Doc }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof k8s.ApiException, `expected ApiException, got ${String(err)}`);
    const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    const st = body as { kind: string; code: number; reason?: string; message: string; details?: Doc };
    assert.equal(st.kind, 'Status');
    assert.equal(st.code, err.code);
    return st;
  }
  assert.fail('expected the request to fail');
}

async function raw(
  standIn: ApiServerStandIn,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
) {
  const res = await fetch(standIn.url + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': contentType },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: (text.startsWith('{') ? JSON.parse(text) : text) as Doc,
  };
}

const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** Reads newline-delimited watch events from a raw watch request until `stop` says so. */
async function watchEvents(url: string, stop: (events: Doc[]) => boolean, timeoutMs = 5000): Promise<Doc[]> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  const events: Doc[] = [];
  try {
    const res = await fetch(url, { signal: ctl.signal });
    assert.equal(res.status, 200);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        events.push(JSON.parse(buf.slice(0, nl)) as Doc);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
      if (stop(events)) break;
    }
  } catch (err) {
    if (!ctl.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
  return events;
}

const metaOf = (o: unknown) => (o as { metadata: Doc }).metadata;
const rvOf = (o: unknown) => Number(metaOf(o)['resourceVersion']);

describe('API server stand-in: discovery', () => {
  let s: ApiServerStandIn;
  before(async () => {
    s = await ApiServerStandIn.start();
  });
  after(() => s.stop());

  it('serves /version, /healthz and the discovery documents with our CRDs', async () => {
    assert.equal((await raw(s, 'GET', '/healthz')).body, 'ok');
    assert.match(String((await raw(s, 'GET', '/version')).body['gitVersion']), /standin/);
    const api = await raw(s, 'GET', '/api');
    assert.deepEqual(api.body['versions'], ['v1']);
    const core = await raw(s, 'GET', '/api/v1');
    const names = (core.body['resources'] as { name: string }[]).map((r) => r.name);
    for (const n of ['nodes', 'nodes/status', 'secrets', 'events', 'configmaps', 'namespaces'])
      assert.ok(names.includes(n), n);
    const groups = (await raw(s, 'GET', '/apis')).body['groups'] as { name: string }[];
    for (const g of [GROUP, 'coordination.k8s.io', 'admissionregistration.k8s.io']) {
      assert.ok(
        groups.some((x) => x.name === g),
        g,
      );
    }
    const ours = (await raw(s, 'GET', `/apis/${GROUP}/${VERSION}`)).body['resources'] as {
      name: string;
      kind: string;
      namespaced: boolean;
    }[];
    assert.deepEqual(
      ours
        .filter((r) => !r.name.includes('/'))
        .map((r) => r.kind)
        .sort(),
      [
        'L2VNI',
        'L3Passthrough',
        'L3VNI',
        'L3VPN',
        'RawFRRConfig',
        'RouterNodeConfigurationStatus',
        'Underlay',
      ],
    );
    assert.ok(ours.every((r) => r.namespaced));
    assert.ok(ours.some((r) => r.name === 'l3vnis/status'));
    const missing = await raw(s, 'GET', '/apis/example.com/v1/widgets');
    assert.equal(missing.status, 404);
    assert.equal(missing.body['kind'], 'Status');
  });

  it('serves the loaded CRDs as customresourcedefinitions', async () => {
    const { kc } = clients(s);
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    const crd = await ext.readCustomResourceDefinition({ name: `l3vnis.${GROUP}` });
    assert.equal(crd.spec.names.kind, 'L3VNI');
  });
});

describe('API server stand-in: core objects through @kubernetes/client-node', () => {
  let s: ApiServerStandIn;
  let c: ReturnType<typeof clients>;
  before(async () => {
    s = await ApiServerStandIn.start();
    c = clients(s);
  });
  after(() => s.stop());

  it('creates, reads, lists with selectors and resourceVersion, and rejects a duplicate with 409 AlreadyExists', async () => {
    const n1 = await c.core.createNode({ body: { metadata: { name: 'node-1', labels: { rack: 'a' } } } });
    assert.equal(n1.kind, 'Node');
    assert.ok(n1.metadata?.uid);
    assert.ok(n1.metadata?.creationTimestamp instanceof Date);
    await c.core.createNode({ body: { metadata: { name: 'node-2', labels: { rack: 'b' } } } });
    const dup = await statusOf(c.core.createNode({ body: { metadata: { name: 'node-1' } } }));
    assert.equal(dup.code, 409);
    assert.equal(dup.reason, 'AlreadyExists');
    assert.equal(dup.message, 'nodes "node-1" already exists');

    const all = await c.core.listNode();
    assert.deepEqual(
      all.items.map((n) => n.metadata?.name),
      ['node-1', 'node-2'],
    );
    assert.equal(Number(all.metadata?.resourceVersion), s.resourceVersion);
    const rackA = await c.core.listNode({ labelSelector: 'rack in (a,c)' });
    assert.deepEqual(
      rackA.items.map((n) => n.metadata?.name),
      ['node-1'],
    );
    const notA = await c.core.listNode({ labelSelector: 'rack!=a' });
    assert.deepEqual(
      notA.items.map((n) => n.metadata?.name),
      ['node-2'],
    );
    const byName = await c.core.listNode({ fieldSelector: 'metadata.name=node-2' });
    assert.deepEqual(
      byName.items.map((n) => n.metadata?.name),
      ['node-2'],
    );
    const got = await c.core.readNode({ name: 'node-1' });
    assert.equal(got.metadata?.resourceVersion, n1.metadata?.resourceVersion);
    const missing = await statusOf(c.core.readNode({ name: 'nope' }));
    assert.equal(missing.code, 404);
    assert.equal(missing.message, 'nodes "nope" not found');

    const page1 = await raw(s, 'GET', '/api/v1/nodes?limit=1');
    assert.equal((page1.body['items'] as unknown[]).length, 1);
    const cont = String(metaOf(page1.body)['continue']);
    const page2 = await raw(s, 'GET', `/api/v1/nodes?limit=1&continue=${cont}`);
    assert.equal(metaOf((page2.body['items'] as unknown[])[0])['name'], 'node-2');
  });

  it('update with a stale resourceVersion is a 409 Conflict; a fresh one succeeds; a no-op writes nothing', async () => {
    const node = await c.core.readNode({ name: 'node-1' });
    const stale = structuredClone(node);
    node.metadata!.labels = { ...node.metadata!.labels, zone: 'z1' };
    const updated = await c.core.replaceNode({ name: 'node-1', body: node });
    assert.ok(Number(updated.metadata?.resourceVersion) > Number(stale.metadata?.resourceVersion));
    stale.metadata!.labels = { rack: 'x' };
    const conflict = await statusOf(c.core.replaceNode({ name: 'node-1', body: stale }));
    assert.equal(conflict.code, 409);
    assert.equal(conflict.reason, 'Conflict');
    assert.equal(
      conflict.message,
      'Operation cannot be fulfilled on nodes "node-1": the object has been modified; please apply your changes to the latest version and try again',
    );
    const again = await c.core.replaceNode({ name: 'node-1', body: updated });
    assert.equal(again.metadata?.resourceVersion, updated.metadata?.resourceVersion);
  });

  it('merge patch and JSON patch; node status only changes through /status', async () => {
    const patched = await c.core.patchNode(
      { name: 'node-1', body: { metadata: { annotations: { 'openpe.io/nodeindex': '0' } } } },
      merge,
    );
    assert.equal(patched.metadata?.annotations?.['openpe.io/nodeindex'], '0');
    assert.equal(patched.metadata?.labels?.['rack'], 'a');
    const jp = await c.core.patchNode({
      name: 'node-1',
      body: [{ op: 'replace', path: '/metadata/annotations/openpe.io~1nodeindex', value: '1' }],
    });
    assert.equal(jp.metadata?.annotations?.['openpe.io/nodeindex'], '1');
    const failed = await statusOf(
      c.core.patchNode({ name: 'node-1', body: [{ op: 'test', path: '/metadata/name', value: 'other' }] }),
    );
    assert.equal(failed.code, 422);

    const ignored = await c.core.patchNode(
      { name: 'node-1', body: { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] } } },
      merge,
    );
    assert.equal(ignored.status, undefined);
    const withStatus = await c.core.patchNodeStatus(
      {
        name: 'node-1',
        body: {
          status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] },
          metadata: { labels: { sneaky: 'x' } },
        },
      },
      merge,
    );
    assert.equal(withStatus.status?.addresses?.[0]?.address, '10.0.0.1');
    assert.equal(withStatus.metadata?.labels?.['sneaky'], undefined);
    const apply = await statusOf(
      c.core.patchNode(
        { name: 'node-1', body: { metadata: {} } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
      ),
    );
    assert.equal(apply.code, 415);
  });

  it('secrets: namespaced CRUD, stringData becomes data, generateName, delete returns a Success Status', async () => {
    const created = await c.core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { generateName: 'bgp-pass-' }, stringData: { password: 'hunter2' } },
    });
    const name = created.metadata!.name!;
    assert.match(name, /^bgp-pass-[a-z0-9]{5}$/);
    assert.equal(Buffer.from(created.data!['password']!, 'base64').toString(), 'hunter2');
    assert.equal(created.type, 'Opaque');
    const inNs = await c.core.listNamespacedSecret({ namespace: NS });
    assert.equal(inNs.items.length, 1);
    assert.equal((await c.core.listNamespacedSecret({ namespace: 'default' })).items.length, 0);
    assert.equal((await c.core.listSecretForAllNamespaces()).items.length, 1);
    const del = await c.core.deleteNamespacedSecret({ name, namespace: NS });
    assert.equal(del.status, 'Success');
    assert.equal((await statusOf(c.core.readNamespacedSecret({ name, namespace: NS }))).code, 404);
  });

  it('events and configmaps are stored', async () => {
    await c.core.createNamespacedEvent({
      namespace: NS,
      body: {
        metadata: { name: 'node-1.reconciled' },
        involvedObject: { kind: 'Node', name: 'node-1' },
        reason: 'Reconciled',
        message: 'ok',
        type: 'Normal',
      },
    });
    assert.equal(s.list('events', NS).length, 1);
    await c.core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'cm' }, data: { a: 'b' } },
    });
    assert.deepEqual(s.get('configmaps', 'cm', NS)?.['data'], { a: 'b' });
  });

  it('leases: create conflict, stale update conflict, injected conflict', async () => {
    const lease = await c.coordination.createNamespacedLease({
      namespace: NS,
      body: { metadata: { name: 'nodemarker' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } },
    });
    const dup = await statusOf(
      c.coordination.createNamespacedLease({
        namespace: NS,
        body: { metadata: { name: 'nodemarker' }, spec: { holderIdentity: 'b' } },
      }),
    );
    assert.equal(dup.code, 409);
    assert.equal(dup.reason, 'AlreadyExists');
    assert.equal(dup.message, 'leases.coordination.k8s.io "nodemarker" already exists');
    assert.deepEqual(dup.details, { name: 'nodemarker', group: 'coordination.k8s.io', kind: 'leases' });

    const mine = structuredClone(lease);
    mine.spec!.holderIdentity = 'a';
    mine.spec!.renewTime = new k8s.V1MicroTime();
    const theirs = structuredClone(lease);
    theirs.spec!.holderIdentity = 'b';
    await c.coordination.replaceNamespacedLease({ name: 'nodemarker', namespace: NS, body: theirs });
    const lost = await statusOf(
      c.coordination.replaceNamespacedLease({ name: 'nodemarker', namespace: NS, body: mine }),
    );
    assert.equal(lost.code, 409);
    assert.equal(lost.reason, 'Conflict');
    assert.match(
      lost.message,
      /^Operation cannot be fulfilled on leases.coordination.k8s.io "nodemarker": the object has been modified/,
    );

    s.injectConflict({ resource: 'leases', name: 'nodemarker', namespace: NS });
    const fresh = await c.coordination.readNamespacedLease({ name: 'nodemarker', namespace: NS });
    const injected = await statusOf(
      c.coordination.replaceNamespacedLease({ name: 'nodemarker', namespace: NS, body: fresh }),
    );
    assert.equal(injected.code, 409);
    fresh.spec!.holderIdentity = 'c';
    const ok = await c.coordination.replaceNamespacedLease({
      name: 'nodemarker',
      namespace: NS,
      body: fresh,
    });
    assert.equal(ok.spec?.holderIdentity, 'c');
  });

  it('delete preconditions and finalizers', async () => {
    await c.core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'held', finalizers: ['example.com/hold'] } },
    });
    const pre = await statusOf(
      c.core.deleteNamespacedConfigMap({
        name: 'held',
        namespace: NS,
        body: { preconditions: { resourceVersion: '1' } },
      }),
    );
    assert.equal(pre.code, 409);
    await c.core.deleteNamespacedConfigMap({ name: 'held', namespace: NS });
    const marked = await c.core.readNamespacedConfigMap({ name: 'held', namespace: NS });
    assert.ok(marked.metadata?.deletionTimestamp);
    await c.core.patchNamespacedConfigMap(
      { name: 'held', namespace: NS, body: { metadata: { finalizers: null } } },
      merge,
    );
    assert.equal(s.get('configmaps', 'held', NS), undefined);
  });

  it('records requests so tests can count writes', () => {
    const writes = s.requests.filter((r) => WRITE_VERBS.includes(r.verb));
    assert.ok(writes.length > 0);
    assert.ok(writes.some((r) => r.verb === 'create' && r.resource === 'nodes' && r.code === 201));
    assert.ok(s.requests.some((r) => r.verb === 'update' && r.resource === 'nodes' && r.code === 409));
  });
});

describe('API server stand-in: our CRDs', () => {
  let s: ApiServerStandIn;
  let c: ReturnType<typeof clients>;
  const ref = { group: GROUP, version: VERSION, namespace: NS, plural: 'l3vnis' };
  before(async () => {
    s = await ApiServerStandIn.start();
    c = clients(s);
  });
  after(() => s.stop());

  it('CRUD with defaults, generation, status dropped on create, 404 after delete', async () => {
    const created = (await c.custom.createNamespacedCustomObject({
      ...ref,
      body: { ...l3vni('red'), status: { anything: true } },
    })) as KObject;
    assert.equal(metaOf(created)['generation'], 1);
    assert.equal((created['spec'] as Doc)['vxlanPort'], 4789, 'schema default applied');
    assert.equal(created['status'], undefined);
    const dup = await statusOf(c.custom.createNamespacedCustomObject({ ...ref, body: l3vni('red') }));
    assert.equal(dup.code, 409);
    assert.equal(dup.message, `l3vnis.${GROUP} "red" already exists`);

    const list = (await c.custom.listNamespacedCustomObject({ ...ref })) as {
      items: KObject[];
      metadata: Doc;
    };
    assert.equal(list.items.length, 1);
    assert.equal(list.items[0]?.['kind'], 'L3VNI');

    const bumped = (await c.custom.patchNamespacedCustomObject(
      { ...ref, name: 'red', body: { spec: { vni: 101 } } },
      merge,
    )) as KObject;
    assert.equal(metaOf(bumped)['generation'], 2);
    const labelled = (await c.custom.patchNamespacedCustomObject(
      { ...ref, name: 'red', body: { metadata: { labels: { a: 'b' } } } },
      merge,
    )) as KObject;
    assert.equal(metaOf(labelled)['generation'], 2, 'metadata changes do not bump generation');

    const stale = structuredClone(created);
    (stale['spec'] as Doc)['vni'] = 102;
    const conflict = await statusOf(
      c.custom.replaceNamespacedCustomObject({ ...ref, name: 'red', body: stale }),
    );
    assert.equal(conflict.code, 409);
    assert.equal(
      conflict.message,
      `Operation cannot be fulfilled on l3vnis.${GROUP} "red": the object has been modified; please apply your changes to the latest version and try again`,
    );

    const deleted = (await c.custom.deleteNamespacedCustomObject({ ...ref, name: 'red' })) as KObject;
    assert.equal(deleted['kind'], 'L3VNI');
    const gone = await statusOf(c.custom.getNamespacedCustomObject({ ...ref, name: 'red' }));
    assert.equal(gone.code, 404);
    assert.equal(gone.message, `l3vnis.${GROUP} "red" not found`);
  });

  it('status subresource: /status writes only status, main writes ignore status', async () => {
    const rncs = { group: GROUP, version: VERSION, namespace: NS, plural: 'routernodeconfigurationstatuses' };
    const cond = {
      type: 'Ready',
      status: 'True',
      reason: 'Reconciled',
      message: 'all good',
      lastTransitionTime: '2024-01-01T00:00:00Z',
    };
    await c.custom.createNamespacedCustomObject({
      ...rncs,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'RouterNodeConfigurationStatus',
        metadata: { name: 'node-1' },
      },
    });
    const st = (await c.custom.patchNamespacedCustomObjectStatus(
      {
        ...rncs,
        name: 'node-1',
        body: { status: { conditions: [cond] }, metadata: { labels: { ignored: 'yes' } } },
      },
      merge,
    )) as KObject;
    assert.deepEqual((st['status'] as Doc)['conditions'], [cond]);
    assert.equal((metaOf(st)['labels'] as Doc | undefined)?.['ignored'], undefined);
    assert.equal(metaOf(st)['generation'], 1, 'status writes do not bump generation');
    const main = (await c.custom.patchNamespacedCustomObject(
      { ...rncs, name: 'node-1', body: { status: { conditions: [] } } },
      merge,
    )) as KObject;
    assert.deepEqual((main['status'] as Doc)['conditions'], [cond]);
    const bad = await statusOf(
      c.custom.patchNamespacedCustomObjectStatus(
        { ...rncs, name: 'node-1', body: { status: { conditions: [{ ...cond, status: 'Maybe' }] } } },
        merge,
      ),
    );
    assert.equal(bad.code, 422);
    assert.equal(
      bad.message,
      `RouterNodeConfigurationStatus.${GROUP} "node-1" is invalid: status.conditions[0].status: Unsupported value: "Maybe": supported values: "True", "False", "Unknown"`,
    );
  });

  it('rejects an invalid L3VNI with the real message shape (CEL and schema)', async () => {
    const cel = await statusOf(
      c.custom.createNamespacedCustomObject({
        ...ref,
        body: l3vni('same-asn', {
          hostSession: { asn: 64514, hostASN: 64514, localCIDR: { ipv4: '192.169.10.0/24' } },
        }),
      }),
    );
    assert.equal(cel.code, 422);
    assert.equal(cel.reason, 'Invalid');
    assert.equal(
      cel.message,
      `L3VNI.${GROUP} "same-asn" is invalid: spec: Invalid value: "object": hostASN must be different from asn`,
    );
    assert.deepEqual(cel.details, {
      name: 'same-asn',
      group: GROUP,
      kind: 'L3VNI',
      causes: [
        {
          reason: 'FieldValueInvalid',
          message: 'Invalid value: "object": hostASN must be different from asn',
          field: 'spec',
        },
      ],
    });

    const schema = await statusOf(
      c.custom.createNamespacedCustomObject({ ...ref, body: l3vni('big', { vni: 16777216, vrf: '1bad' }) }),
    );
    assert.equal(schema.code, 422);
    assert.equal(
      schema.message,
      `L3VNI.${GROUP} "big" is invalid: [spec.vrf: Invalid value: "1bad": must match '^[a-zA-Z][a-zA-Z0-9_-]*$', spec.vni: Invalid value: 16777216: must be less than or equal to 16777215]`,
    );
    assert.deepEqual(
      (schema.details!['causes'] as { field: string; reason: string }[]).map((x) => `${x.field} ${x.reason}`),
      ['spec.vrf FieldValueInvalid', 'spec.vni FieldValueInvalid'],
    );
    const badName = await statusOf(
      c.custom.createNamespacedCustomObject({ ...ref, body: l3vni('Bad_Name') }),
    );
    assert.match(
      badName.message,
      /^L3VNI\.network\.openperouter\.io "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/,
    );
    assert.equal(s.get('l3vnis', 'same-asn', NS), undefined);
  });

  it('runs transition rules on update (LocalCIDR is immutable)', async () => {
    await c.custom.createNamespacedCustomObject({ ...ref, body: l3vni('blue') });
    const st = await statusOf(
      c.custom.patchNamespacedCustomObject(
        { ...ref, name: 'blue', body: { spec: { hostSession: { localCIDR: { ipv4: '192.169.99.0/24' } } } } },
        merge,
      ),
    );
    assert.equal(st.code, 422);
    assert.equal(
      st.message,
      `L3VNI.${GROUP} "blue" is invalid: spec.hostSession.localCIDR: Invalid value: "object": LocalCIDR can't be changed`,
    );
  });

  it('does not apply the webhook-only rules (a real API server would not either)', async () => {
    // Removing hostSession is refused by our webhook rules, not by the CRD.
    const ok = (await c.custom.patchNamespacedCustomObject(
      { ...ref, name: 'blue', body: { spec: { hostSession: null } } },
      merge,
    )) as KObject;
    assert.equal((ok['spec'] as Doc)['hostSession'], undefined);
  });

  it('prunes unknown fields with a warning, or rejects them with fieldValidation=Strict', async () => {
    const body = l3vni('extra', { colour: 'green' });
    const strict = await raw(
      s,
      'POST',
      `/apis/${GROUP}/${VERSION}/namespaces/${NS}/l3vnis?fieldValidation=Strict`,
      body,
    );
    assert.equal(strict.status, 400);
    assert.equal(
      strict.body['message'],
      'L3VNI in version "v1alpha1" cannot be handled as a L3VNI: strict decoding error: unknown field "spec.colour"',
    );
    const warn = await raw(s, 'POST', `/apis/${GROUP}/${VERSION}/namespaces/${NS}/l3vnis`, body);
    assert.equal(warn.status, 201);
    assert.equal(warn.headers.get('warning'), '299 - "unknown field \\"spec.colour\\""');
    assert.equal((warn.body['spec'] as Doc)['colour'], undefined);
  });

  it('strategic merge patch is refused for custom resources (415), like the real server', async () => {
    const st = await raw(
      s,
      'PATCH',
      `/apis/${GROUP}/${VERSION}/namespaces/${NS}/l3vnis/extra`,
      {},
      'application/strategic-merge-patch+json',
    );
    assert.equal(st.status, 415);
    assert.equal(st.body['reason'], 'UnsupportedMediaType');
  });
});

describe('API server stand-in: watch', () => {
  let s: ApiServerStandIn;
  let c: ReturnType<typeof clients>;
  before(async () => {
    s = await ApiServerStandIn.start({ historyLimit: 50, bookmarkIntervalMs: 100 });
    c = clients(s);
  });
  after(() => s.stop());

  it('streams ADDED/MODIFIED/DELETED in order with increasing resourceVersions, from a list resourceVersion', async () => {
    await c.core.createNode({ body: { metadata: { name: 'w-0' } } });
    const listRv = (await c.core.listNode()).metadata!.resourceVersion!;
    await c.core.createNode({ body: { metadata: { name: 'w-1', labels: { role: 'router' } } } });
    await c.core.patchNode(
      { name: 'w-1', body: { metadata: { labels: { role: 'router', x: 'y' } } } },
      merge,
    );
    await c.core.patchNode({ name: 'w-1', body: { metadata: { labels: { role: null } } } }, merge);
    await c.core.deleteNode({ name: 'w-1' });
    const events = await watchEvents(
      `${s.url}/api/v1/nodes?watch=true&resourceVersion=${listRv}`,
      (e) => e.length >= 4,
    );
    assert.deepEqual(
      events.map((e) => `${e['type']} ${metaOf(e['object'])['name']}`),
      ['ADDED w-1', 'MODIFIED w-1', 'MODIFIED w-1', 'DELETED w-1'],
    );
    const rvs = events.map((e) => rvOf(e['object']));
    assert.ok(
      rvs.every((rv, i) => i === 0 || rv > rvs[i - 1]!),
      `increasing: ${rvs.join(',')}`,
    );
    assert.ok(rvs[0]! > Number(listRv));
    assert.equal((events[0]!['object'] as Doc)['kind'], 'Node');

    // With a label selector the label removal is a DELETED for that watch.
    const selected = await watchEvents(
      `${s.url}/api/v1/nodes?watch=true&resourceVersion=${listRv}&labelSelector=role%3Drouter`,
      (e) => e.length >= 3,
    );
    assert.deepEqual(
      selected.map((e) => e['type']),
      ['ADDED', 'MODIFIED', 'DELETED'],
    );
  });

  it('without a resourceVersion starts with ADDED for existing objects; sends bookmarks when allowed', async () => {
    const events = await watchEvents(`${s.url}/api/v1/nodes?watch=true&allowWatchBookmarks=true`, (e) =>
      e.some((x) => x['type'] === 'BOOKMARK'),
    );
    assert.equal(events[0]?.['type'], 'ADDED');
    assert.equal(metaOf(events[0]?.['object'])['name'], 'w-0');
    const bm = events.find((e) => e['type'] === 'BOOKMARK');
    assert.equal(rvOf(bm?.['object']), s.resourceVersion);
  });

  it('answers ERROR 410 Expired for a compacted resourceVersion', async () => {
    const old = (await c.core.listNode()).metadata!.resourceVersion!;
    for (let i = 0; i < 60; i++)
      await c.core.patchNode({ name: 'w-0', body: { metadata: { labels: { i: String(i) } } } }, merge);
    const events = await watchEvents(
      `${s.url}/api/v1/nodes?watch=true&resourceVersion=${old}`,
      (e) => e.length >= 1,
    );
    assert.equal(events.length, 1);
    assert.equal(events[0]?.['type'], 'ERROR');
    const st = events[0]?.['object'] as Doc;
    assert.equal(st['kind'], 'Status');
    assert.equal(st['code'], 410);
    assert.equal(st['reason'], 'Expired');
    assert.match(String(st['message']), new RegExp(`^too old resource version: ${old} \\(\\d+\\)$`));
  });

  it('client-node Watch receives events and the 410 ERROR', async () => {
    const watch = new k8s.Watch(c.kc);
    const seen: string[] = [];
    let done: unknown = 'pending';
    const rv = String(s.resourceVersion);
    const ctl = await watch.watch(
      '/api/v1/nodes',
      { resourceVersion: rv },
      (type, obj: { metadata?: { name?: string } }) => seen.push(`${type} ${obj.metadata?.name}`),
      (err) => {
        done = err;
      },
    );
    await c.core.createNode({ body: { metadata: { name: 'w-2' } } });
    await eventually(() => seen.includes('ADDED w-2'), 'ADDED w-2');
    ctl.abort();

    s.injectWatchExpiry({ resource: 'nodes' });
    const codes: number[] = [];
    let ended = false;
    await watch.watch(
      '/api/v1/nodes',
      { resourceVersion: rv },
      (type, obj: { code?: number }) => {
        if (type === 'ERROR' && obj.code !== undefined) codes.push(obj.code);
      },
      () => {
        ended = true;
      },
    );
    await eventually(() => ended, 'watch end');
    assert.deepEqual(codes, [410]);
    assert.notEqual(done, 'pending');
  });

  it('the client-node informer relists after a 410 and converges', async () => {
    const listCalls = () => s.requests.filter((r) => r.verb === 'list' && r.resource === 'nodes').length;
    const informer = k8s.makeInformer(c.kc, '/api/v1/nodes', () => c.core.listNode());
    const errors: unknown[] = [];
    informer.on('error', (e) => errors.push(e));
    await informer.start();
    const names = () =>
      informer
        .list()
        .map((n) => n.metadata?.name ?? '')
        .sort();
    const stored = () => s.list('nodes').map((n) => String(metaOf(n)['name']));
    await eventually(() => names().join() === stored().join(), 'initial sync');
    const listsBefore = listCalls();

    // The watch is cut and the history compacted while changes happen: resuming must give 410.
    s.injectWatchExpiry({ resource: 'nodes' });
    await c.core.createNode({ body: { metadata: { name: 'w-3' } } });
    await c.core.deleteNode({ name: 'w-2' });
    await eventually(() => listCalls() > listsBefore, 'relist after 410');
    await eventually(() => names().join() === stored().join(), 'convergence after relist');
    assert.ok(names().includes('w-3') && !names().includes('w-2'));
    assert.ok(s.requests.some((r) => r.verb === 'watch' && r.resource === 'nodes'));

    // And keeps following changes on the new watch.
    await c.core.createNode({ body: { metadata: { name: 'w-4' } } });
    await eventually(() => names().includes('w-4'), 'w-4 seen');
    await informer.stop();
    assert.deepEqual(errors, []);
  });
});

describe('API server stand-in: validating admission webhook over HTTPS', () => {
  let s: ApiServerStandIn;
  let c: ReturnType<typeof clients>;
  let hook: Server;
  let hookPort: number;
  const reviews: Doc[] = [];
  const cert = selfSignedCert({
    commonName: 'webhook',
    dnsNames: ['localhost', 'webhook-service.openperouter-system.svc'],
  });
  const ref = { group: GROUP, version: VERSION, namespace: NS, plural: 'l3vnis' };

  before(async () => {
    hook = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (b: Buffer) => chunks.push(b));
      req.on('end', () => {
        const review = JSON.parse(Buffer.concat(chunks).toString()) as { request: Doc };
        reviews.push({ ...review.request, path: req.url });
        const obj = (review.request['object'] ?? review.request['oldObject']) as Doc;
        const vni = ((obj['spec'] ?? {}) as Doc)['vni'];
        if (metaOf(obj)['name'] === 'slow') {
          setTimeout(() => res.end('{}'), 3000);
          return;
        }
        const allowed = vni !== 666;
        res.setHeader('Content-Type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: {
              uid: review.request['uid'],
              allowed,
              ...(allowed
                ? { warnings: ['checked by test webhook'] }
                : { status: { code: 403, reason: 'Forbidden', message: 'vni 666 is reserved' } }),
            },
          }),
        );
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    hookPort = (hook.address() as AddressInfo).port;
    s = await ApiServerStandIn.start({ serviceResolver: () => ({ host: '127.0.0.1', port: hookPort }) });
    c = clients(s);
  });
  after(async () => {
    await s.stop();
    hook.closeAllConnections();
    await new Promise<void>((r) => hook.close(() => r()));
  });

  const config = (name: string, clientConfig: Doc, extra: Doc = {}, caPem = cert.certPem) => ({
    metadata: { name },
    webhooks: [
      {
        name: 'vl3vni.openperouter.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        clientConfig: { caBundle: Buffer.from(caPem).toString('base64'), ...clientConfig },
        rules: [
          {
            apiGroups: [GROUP],
            apiVersions: [VERSION],
            operations: ['CREATE', 'UPDATE'],
            resources: ['l3vnis'],
          },
        ],
        ...extra,
      },
    ],
  });

  it('produces a certificate node:crypto can read', () => {
    const x = new X509Certificate(cert.certPem);
    assert.match(x.subjectAltName ?? '', /DNS:localhost/);
    assert.match(x.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.ok(x.checkIssued(x));
  });

  it('denies and allows through the webhook (clientConfig.service via the resolver)', async () => {
    await c.admission.createValidatingWebhookConfiguration({
      body: config('openperouter-validating', {
        service: { namespace: NS, name: 'webhook-service', path: '/validate-l3vni' },
      }),
    });
    const denied = await statusOf(
      c.custom.createNamespacedCustomObject({ ...ref, body: l3vni('evil', { vni: 666 }) }),
    );
    assert.equal(denied.code, 403);
    assert.equal(denied.reason, 'Forbidden');
    assert.equal(
      denied.message,
      'admission webhook "vl3vni.openperouter.io" denied the request: vni 666 is reserved',
    );
    const review = reviews.at(-1)!;
    assert.equal(review['operation'], 'CREATE');
    assert.equal(review['namespace'], NS);
    assert.deepEqual(review['resource'], { group: GROUP, version: VERSION, resource: 'l3vnis' });
    assert.equal(review['path'], '/validate-l3vni?timeout=10s');
    assert.equal(s.get('l3vnis', 'evil', NS), undefined);

    const res = await raw(s, 'POST', `/apis/${GROUP}/${VERSION}/namespaces/${NS}/l3vnis`, l3vni('good'));
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('warning'), '299 - "checked by test webhook"');
    // UPDATE sends the old object too.
    await c.custom.patchNamespacedCustomObject({ ...ref, name: 'good', body: { spec: { vni: 101 } } }, merge);
    const upd = reviews.at(-1)!;
    assert.equal(upd['operation'], 'UPDATE');
    assert.equal(((upd['oldObject'] as Doc)['spec'] as Doc)['vni'], 100);
    // Schema errors are reported before webhooks run.
    const count = reviews.length;
    await statusOf(c.custom.createNamespacedCustomObject({ ...ref, body: l3vni('bad', { vni: 0 }) }));
    assert.equal(reviews.length, count);
    // DELETE is not in the rules.
    await c.custom.deleteNamespacedCustomObject({ ...ref, name: 'good' });
    assert.equal(reviews.length, count);
    await c.admission.deleteValidatingWebhookConfiguration({ name: 'openperouter-validating' });
  });

  it('failurePolicy Fail vs Ignore when the webhook is unreachable, and timeoutSeconds', async () => {
    await c.admission.createValidatingWebhookConfiguration({
      body: config('down', { url: 'https://127.0.0.1:1/validate' }, { failurePolicy: 'Fail' }),
    });
    const down = await statusOf(c.custom.createNamespacedCustomObject({ ...ref, body: l3vni('x1') }));
    assert.equal(down.code, 500);
    assert.equal(down.reason, 'InternalError');
    assert.match(
      down.message,
      /^Internal error occurred: failed calling webhook "vl3vni.openperouter.io": failed to call webhook: Post "https:\/\/127.0.0.1:1\/validate\?timeout=10s": /,
    );
    await c.admission.patchValidatingWebhookConfiguration({
      name: 'down',
      body: [{ op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Ignore' }],
    });
    await c.custom.createNamespacedCustomObject({ ...ref, body: l3vni('x1') });
    await c.admission.deleteValidatingWebhookConfiguration({ name: 'down' });

    await c.admission.createValidatingWebhookConfiguration({
      body: config('slow', { url: `https://localhost:${hookPort}/validate` }, { timeoutSeconds: 1 }),
    });
    const started = Date.now();
    const slow = await statusOf(c.custom.createNamespacedCustomObject({ ...ref, body: l3vni('slow') }));
    assert.equal(slow.code, 500);
    assert.match(slow.message, /timeout=1s.*context deadline exceeded/);
    assert.ok(Date.now() - started < 2900);
    await c.admission.deleteValidatingWebhookConfiguration({ name: 'slow' });
  });

  it('a caBundle that does not match fails the TLS handshake', async () => {
    const other = selfSignedCert();
    await c.admission.createValidatingWebhookConfiguration({
      body: config('wrong-ca', { url: `https://127.0.0.1:${hookPort}/validate` }, {}, other.certPem),
    });
    const st = await statusOf(c.custom.createNamespacedCustomObject({ ...ref, body: l3vni('x2') }));
    assert.equal(st.code, 500);
    assert.match(st.message, /failed to call webhook/);
    await c.admission.deleteValidatingWebhookConfiguration({ name: 'wrong-ca' });
  });
});

describe('API server stand-in: webhook rule matching', () => {
  const nodes = BUILTIN_RESOURCES.find((d) => d.plural === 'nodes')!;
  const secrets = BUILTIN_RESOURCES.find((d) => d.plural === 'secrets')!;
  const attrs = (over: Partial<AdmissionAttributes>): AdmissionAttributes => ({
    def: nodes,
    operation: 'UPDATE',
    name: 'n',
    dryRun: false,
    namespaceLabels: {},
    object: { metadata: { name: 'n', labels: { role: 'router' } } },
    ...over,
  });
  const cfg = (rule: Doc, extra: Doc = {}) => [
    {
      webhooks: [
        {
          name: 'h',
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['*'], ...rule }],
          ...extra,
        },
      ],
    },
  ];
  const matches = (rule: Doc, a: Partial<AdmissionAttributes>, extra: Doc = {}) =>
    matchingWebhooks(cfg(rule, extra), attrs(a)).length === 1;

  it('matches resources, subresources, operations, scope and selectors like the real server', () => {
    assert.ok(matches({ resources: ['nodes'] }, {}));
    assert.ok(!matches({ resources: ['nodes'] }, { subResource: 'status' }));
    assert.ok(matches({ resources: ['nodes/status'] }, { subResource: 'status' }));
    assert.ok(matches({ resources: ['*'] }, {}));
    assert.ok(!matches({ resources: ['*'] }, { subResource: 'status' }));
    assert.ok(matches({ resources: ['*/*'] }, { subResource: 'status' }));
    assert.ok(!matches({ resources: ['nodes'], operations: ['CREATE'] }, {}));
    assert.ok(!matches({ resources: ['*'], scope: 'Namespaced' }, {}));
    assert.ok(matches({ resources: ['*'], scope: 'Namespaced' }, { def: secrets, namespace: 'x' }));
    assert.ok(matches({ resources: ['nodes'] }, {}, { objectSelector: { matchLabels: { role: 'router' } } }));
    assert.ok(!matches({ resources: ['nodes'] }, {}, { objectSelector: { matchLabels: { role: 'other' } } }));
    assert.ok(
      !matches(
        { resources: ['secrets'] },
        { def: secrets, namespace: 'x' },
        { namespaceSelector: { matchLabels: { a: 'b' } } },
      ),
    );
    assert.ok(
      matches(
        { resources: ['secrets'] },
        { def: secrets, namespace: 'x', namespaceLabels: { a: 'b' } },
        { namespaceSelector: { matchLabels: { a: 'b' } } },
      ),
    );
  });
});

describe('API server stand-in: HTTPS', () => {
  it('serves TLS with the CA in its kubeconfig', async () => {
    const s = await ApiServerStandIn.start({ tls: true });
    try {
      assert.match(s.url, /^https:/);
      assert.ok(s.caPem);
      const { core } = clients(s);
      await core.createNode({ body: { metadata: { name: 'tls-node' } } });
      assert.deepEqual(
        (await core.listNode()).items.map((n) => n.metadata?.name),
        ['tls-node'],
      );
    } finally {
      await s.stop();
    }
  });
});
