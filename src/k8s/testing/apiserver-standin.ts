// ApiServerStandIn: an in-repo STAND-IN for kube-apiserver, for tests only. No kube-apiserver can be
// installed on the machines these tests run on, so the controller, the nodemarker and the webhooks are
// tested over real HTTP(S) against this server, which implements the subset of the Kubernetes API our
// components rely on, with the real server's wire behaviour:
//
// - resources: core/v1 namespaces, nodes (+status), secrets, configmaps, events;
//   coordination.k8s.io/v1 leases; admissionregistration.k8s.io/v1 validatingwebhookconfigurations;
//   apiextensions.k8s.io/v1 customresourcedefinitions (read back only: creating one serves nothing);
//   every CRD in deploy/crds (network.openperouter.io/v1alpha1, with their /status subresource);
// - discovery (/api, /api/v1, /apis, /apis/<group>[/<version>]), /version, /healthz, /livez, /readyz;
// - get, list (list resourceVersion, labelSelector, fieldSelector metadata.name/namespace, limit +
//   continue), watch (?watch=true: ADDED/MODIFIED/DELETED/BOOKMARK, allowWatchBookmarks,
//   sendInitialEvents, timeoutSeconds, ERROR 410 Expired when resourceVersion is older than the
//   retained history), create (generateName, 409 AlreadyExists), update (409 Conflict on a stale
//   resourceVersion), patch (merge patch, JSON patch), delete (preconditions, finalizers), /status;
// - one global resourceVersion, uid, creationTimestamp, generation (CRDs: bumped when anything but
//   metadata/status changes); no-op writes change nothing and emit no event;
// - our kinds are pruned, defaulted and validated (schema + CEL, transition rules on update) through
//   src/api's validateObject (see standin-validation.ts): 422 Invalid with details.causes; unknown
//   fields are pruned with a Warning header, or 400 with fieldValidation=Strict;
// - validating admission webhooks from stored ValidatingWebhookConfigurations (standin-admission.ts).
//
// NOT implemented (do not write tests that depend on them): authentication/authorization (any
// token, or none, is accepted), server-side apply (415), strategic merge patch for our kinds (415;
// on built-in kinds it is treated as a JSON merge patch), deletecollection, garbage collection of
// ownerReferences, namespace lifecycle (objects may be created in namespaces that do not exist; deleting
// a Namespace does not delete its contents), mutating webhooks, webhook matchConditions, conversion
// between versions, list snapshots at an older resourceVersion (lists always show the latest state;
// continue tokens page over the latest state), field selectors other than metadata.name/namespace,
// schema validation or defaulting of built-in kinds (stored as given, apart from metadata.name and
// Secret stringData), managedFields, protobuf, Table output, aggregated discovery, /openapi, the
// per-object rules of src/api/object-rules.ts (those are our webhook's job, as on a real cluster),
// watching a single object via GET .../name?watch, legacy /api/v1/watch/ paths, events.k8s.io.
//
// Usage:
//   const apiserver = await ApiServerStandIn.start();          // { tls: true } for HTTPS
//   const client = new KubeClient(kubeConfigFromString(apiserver.kubeconfig));   // src/k8s/client
//   ... apiserver.get('nodes', 'node-1'), apiserver.list('l3vnis', ns), apiserver.seed(obj),
//   apiserver.injectWatchExpiry({ resource: 'nodes' }), apiserver.injectConflict({ resource, name }),
//   apiserver.requests (every request, for "no writes happened" assertions) ...
//   await apiserver.stop();
// Over plain HTTP the kubeconfig sets insecure-skip-tls-verify: our client ignores it for http://, but
// some clients (@kubernetes/client-node 2.x, used by this server's own tests) refuse http:// without it.
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { selfSignedCert } from './self-signed-cert.js';
import { type Operation, runValidatingWebhooks, type ServiceResolver } from './standin-admission.js';
import {
  deepEqual,
  fieldsOf,
  isObject,
  jsonPatch,
  type KObject,
  labelsOf,
  mergePatch,
  meta,
  parseFieldSelector,
  parseLabelSelector,
  type Requirement,
  requirementsMatch,
  str,
} from './standin-json.js';
import {
  apiVersionOf,
  BUILTIN_RESOURCES,
  defaultCrdDir,
  loadCrds,
  type ResourceDef,
  ResourceRegistry,
  resourcesOfCrd,
  storageKey,
} from './standin-resources.js';
import { type StatusCause, StatusError } from './standin-status.js';
import { type EventType, Store, type StoreEvent, type StoreWatcher } from './standin-store.js';
import { checkCustomObject, isOurKind, nameCauses } from './standin-validation.js';

export type { ServiceRef, ServiceResolver } from './standin-admission.js';
export type { KObject } from './standin-json.js';
export { StatusError } from './standin-status.js';

export interface ApiServerStandInOptions {
  /** TCP port (default 0: any free port). */
  port?: number;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Serve HTTPS with a fresh self-signed certificate (its CA is put in the kubeconfig). Default false. */
  tls?: boolean;
  /** Directory of CRD YAML files to serve (default: the repository's deploy/crds). */
  crdDir?: string;
  /** How many change events watches can resume from (default 1000); older resourceVersions get 410. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 60000, as a real server roughly does). */
  bookmarkIntervalMs?: number;
  /** Where webhook clientConfig.service references really listen (e.g. () => ({host:'127.0.0.1', port})). */
  serviceResolver?: ServiceResolver;
  /** Bearer token written into the kubeconfig (never checked). Default `stand-in-token`. */
  token?: string;
}

/** One HTTP request the stand-in answered, for assertions such as "no writes happened". */
export interface RequestRecord {
  method: string;
  path: string;
  /** Raw query string including `?`, or ''. */
  query: string;
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'discovery' | 'other';
  /** Qualified resource, e.g. `nodes` or `l3vnis.network.openperouter.io`. */
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** HTTP status (for watches: the status the stream was opened with). */
  code: number;
}

export const WRITE_VERBS: readonly RequestRecord['verb'][] = ['create', 'update', 'patch', 'delete'];

interface Target {
  def: ResourceDef;
  namespace?: string;
  name?: string;
  sub?: 'status';
}

interface ActiveWatch {
  resource: string;
  close(): void;
}

interface ConflictInjection {
  resource: string;
  name: string;
  namespace?: string;
  remaining: number;
}

const VERSION_INFO = {
  major: '1',
  minor: '31',
  gitVersion: 'v1.31.0-openperouter-standin',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2024-01-01T00:00:00Z',
  goVersion: 'n/a (API server stand-in)',
  compiler: 'n/a',
  platform: 'linux/amd64',
};

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = '';
  for (let i = 0; i < 5; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(text: string, contentType: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return contentType.includes('yaml') ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw StatusError.badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

function warningHeader(text: string): string {
  return `299 - "${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function withoutMetaAndStatus(o: KObject): KObject {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

export class ApiServerStandIn {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** A kubeconfig (YAML) for kubeConfigFromString (src/k8s/client), or a file (writeKubeconfig). */
  readonly kubeconfig: string;
  /** PEM of the server certificate (its own CA) when started with `tls: true`. */
  readonly caPem: string | undefined;
  /** Every request answered, in arrival order. */
  readonly requests: RequestRecord[] = [];

  private readonly store: Store;
  private readonly registry: ResourceRegistry;
  private readonly server: Server;
  private readonly watches = new Set<ActiveWatch>();
  private readonly pendingExpiry: { resource?: string }[] = [];
  private readonly conflicts: ConflictInjection[] = [];
  private readonly bookmarkIntervalMs: number;
  private readonly serviceResolver: ServiceResolver | undefined;

  private constructor(
    server: Server,
    url: string,
    registry: ResourceRegistry,
    opts: ApiServerStandInOptions,
    caPem: string | undefined,
  ) {
    this.server = server;
    this.url = url;
    this.registry = registry;
    this.caPem = caPem;
    this.store = new Store(opts.historyLimit ?? 1000);
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 60_000;
    this.serviceResolver = opts.serviceResolver;
    const cluster: KObject = { server: url };
    if (caPem) cluster['certificate-authority-data'] = Buffer.from(caPem).toString('base64');
    // Some clients (@kubernetes/client-node 2.x) refuse http:// servers unless TLS verification is skipped.
    else cluster['insecure-skip-tls-verify'] = true;
    this.kubeconfig = stringifyYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'standin', cluster }],
      users: [{ name: 'standin', user: { token: opts.token ?? 'stand-in-token' } }],
      contexts: [{ name: 'standin', context: { cluster: 'standin', user: 'standin', namespace: 'default' } }],
      'current-context': 'standin',
    });
  }

  /** Starts a stand-in API server with the repository's CRDs; `stop()` it when done. */
  static async start(opts: ApiServerStandInOptions = {}): Promise<ApiServerStandIn> {
    const crds = loadCrds(opts.crdDir ?? defaultCrdDir());
    const registry = new ResourceRegistry([...BUILTIN_RESOURCES, ...crds.flatMap(resourcesOfCrd)]);
    const cert = opts.tls ? selfSignedCert({ commonName: 'openperouter-apiserver-standin' }) : undefined;
    const server = cert ? createHttpsServer({ key: cert.keyPem, cert: cert.certPem }) : createHttpServer();
    server.keepAliveTimeout = 60_000;
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const url = `${cert ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const standIn = new ApiServerStandIn(server, url, registry, opts, cert?.certPem);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void standIn.handle(req, res);
    });
    for (const ns of ['default', 'kube-system']) {
      standIn.seed({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns },
        status: { phase: 'Active' },
      });
    }
    for (const crd of crds) standIn.seed(crd);
    return standIn;
  }

  // ---- test helpers

  /** The current (latest) global resourceVersion. */
  get resourceVersion(): number {
    return this.store.resourceVersion;
  }

  /** A stored object (a copy), by resource (`nodes`, `l3vnis`, `leases.coordination.k8s.io`, or kind). */
  get(resource: string, name: string, namespace?: string): KObject | undefined {
    const def = this.registry.lookup(resource);
    const o = this.store.get(storageKey(def), def.namespaced ? (namespace ?? 'default') : undefined, name);
    return o ? structuredClone(o) : undefined;
  }

  /** Stored objects (copies) sorted by namespace/name; all namespaces unless `namespace` is given. */
  list(resource: string, namespace?: string): KObject[] {
    return this.store
      .list(storageKey(this.registry.lookup(resource)), namespace)
      .map((o) => structuredClone(o));
  }

  /**
   * Puts an object straight into storage (no validation, no webhooks; watches see it), creating or
   * replacing it. Fills in uid, creationTimestamp, generation and the namespace (`default`).
   */
  seed(object: KObject): KObject {
    const def = this.registry.byKind(str(object['apiVersion']) ?? '', str(object['kind']) ?? '');
    if (!def)
      throw new Error(
        `API server stand-in: no resource serves ${String(object['apiVersion'])} ${String(object['kind'])}`,
      );
    const obj = structuredClone(object);
    const m = meta(obj);
    if (def.namespaced) m['namespace'] = str(m['namespace']) ?? 'default';
    else delete m['namespace'];
    const name = str(m['name']);
    if (!name) throw new Error('API server stand-in: seed() needs metadata.name');
    const old = this.store.get(storageKey(def), str(m['namespace']), name);
    const oldMeta = old ? meta(old) : {};
    m['uid'] = str(oldMeta['uid']) ?? str(m['uid']) ?? randomUUID();
    m['creationTimestamp'] = str(oldMeta['creationTimestamp']) ?? now();
    if (def.generation && typeof m['generation'] !== 'number') m['generation'] = 1;
    this.builtinDefaults(def, obj);
    return structuredClone(this.store.commit(old ? 'MODIFIED' : 'ADDED', storageKey(def), obj, old));
  }

  /**
   * Makes the next watch request that resumes from a resourceVersion (of `resource`, or of any
   * resource) answer an ERROR event with a 410 Expired Status, as a real server does when the
   * resourceVersion has been compacted. Unless `closeActive` is false, open watches of that resource
   * are closed too, so clients resume (and hit the 410) now.
   */
  injectWatchExpiry(opts: { resource?: string; closeActive?: boolean } = {}): void {
    const resource = opts.resource ? storageKey(this.registry.lookup(opts.resource)) : undefined;
    this.pendingExpiry.push(resource ? { resource } : {});
    if (opts.closeActive !== false) this.closeWatches(opts.resource);
  }

  /** Forgets all watch history: every watch resuming from an older resourceVersion gets 410. */
  compactHistory(): void {
    this.store.compact();
  }

  /** Ends open watch streams (all, or of one resource), as a real server does at its watch timeout. */
  closeWatches(resource?: string): void {
    const key = resource ? storageKey(this.registry.lookup(resource)) : undefined;
    for (const w of [...this.watches]) if (!key || w.resource === key) w.close();
  }

  /** The next `count` (default 1) update/patch requests for this object fail with 409 Conflict. */
  injectConflict(target: { resource: string; name: string; namespace?: string; count?: number }): void {
    const def = this.registry.lookup(target.resource);
    this.conflicts.push({
      resource: storageKey(def),
      name: target.name,
      ...(def.namespaced ? { namespace: target.namespace ?? 'default' } : {}),
      remaining: target.count ?? 1,
    });
  }

  async writeKubeconfig(path: string): Promise<void> {
    await writeFile(path, this.kubeconfig, { mode: 0o600 });
  }

  async stop(): Promise<void> {
    this.closeWatches();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://stand-in');
    const record: RequestRecord = {
      method: req.method ?? 'GET',
      path: u.pathname,
      query: u.search,
      verb: 'other',
      code: 0,
    };
    this.requests.push(record);
    res.on('finish', () => {
      record.code = res.statusCode;
    });
    try {
      await this.dispatch(req, res, u, record);
    } catch (err) {
      const se = err instanceof StatusError ? err : StatusError.internal((err as Error).message);
      record.code = se.code;
      if (res.headersSent) res.end();
      else this.sendJson(res, se.code, se.toStatus());
    }
  }

  private sendJson(res: ServerResponse, code: number, body: unknown, warnings: string[] = []): void {
    const text = JSON.stringify(body);
    const headers: Record<string, string | string[]> = {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(text)),
      'Cache-Control': 'no-cache, private',
    };
    if (warnings.length > 0) headers['Warning'] = warnings.map(warningHeader);
    res.writeHead(code, headers);
    res.end(text);
  }

  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    u: URL,
    record: RequestRecord,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const segs = u.pathname.split('/').filter((s) => s !== '');
    if (method === 'GET') {
      const doc = this.discovery(u.pathname, segs);
      if (doc !== undefined) {
        record.verb = 'discovery';
        if (typeof doc === 'string') {
          res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end(doc);
        } else this.sendJson(res, 200, doc);
        return;
      }
    }
    const t = this.target(segs);
    record.resource = t.def.group ? `${t.def.plural}.${t.def.group}` : t.def.plural;
    if (t.namespace) record.namespace = t.namespace;
    if (t.name) record.name = t.name;
    if (t.sub) record.subresource = t.sub;
    const q = u.searchParams;
    const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
    switch (method) {
      case 'GET':
        if (t.name) {
          record.verb = 'get';
          this.sendJson(res, 200, this.mustGet(t));
        } else if (q.get('watch') === 'true' || q.get('watch') === '1') {
          record.verb = 'watch';
          this.watch(t, q, req, res);
        } else {
          record.verb = 'list';
          this.sendJson(res, 200, this.listOf(t, q));
        }
        return;
      case 'POST': {
        if (t.name || (t.def.namespaced && !t.namespace)) throw StatusError.methodNotAllowed();
        record.verb = 'create';
        const out = await this.create(t, parseBody(await readBody(req), contentType), q);
        this.sendJson(res, 201, out.object, out.warnings);
        return;
      }
      case 'PUT': {
        if (!t.name) throw StatusError.methodNotAllowed();
        record.verb = 'update';
        const body = parseBody(await readBody(req), contentType);
        const out = await this.update(t, body, q);
        this.sendJson(res, 200, out.object, out.warnings);
        return;
      }
      case 'PATCH': {
        if (!t.name) throw StatusError.methodNotAllowed();
        record.verb = 'patch';
        const text = await readBody(req);
        const out = await this.patch(t, text, contentType, q);
        this.sendJson(res, 200, out.object, out.warnings);
        return;
      }
      case 'DELETE': {
        if (!t.name || t.sub) throw StatusError.methodNotAllowed();
        record.verb = 'delete';
        const out = await this.remove(t, parseBody(await readBody(req), 'application/json'), q);
        this.sendJson(res, 200, out.object, out.warnings);
        return;
      }
      default:
        throw StatusError.methodNotAllowed();
    }
  }

  private discovery(path: string, segs: string[]): KObject | string | undefined {
    if (path === '/version' || path === '/version/') return VERSION_INFO;
    if (['/healthz', '/livez', '/readyz'].includes(path)) return 'ok';
    if (segs.length === 0) {
      return { paths: ['/api', '/api/v1', '/apis', '/healthz', '/livez', '/readyz', '/version'] };
    }
    if (segs[0] === 'api') {
      if (segs.length === 1) return this.registry.apiVersions(new URL(this.url).host);
      if (segs.length === 2) {
        const list = segs[1] === 'v1' ? this.registry.resourceList('', 'v1') : undefined;
        if (!list) throw StatusError.pathNotFound();
        return list;
      }
    }
    if (segs[0] === 'apis' && segs.length <= 3) {
      if (segs.length === 1) return this.registry.apiGroupList();
      const doc =
        segs.length === 2 ? this.registry.apiGroup(segs[1]!) : this.registry.resourceList(segs[1]!, segs[2]!);
      if (!doc) throw StatusError.pathNotFound();
      return doc;
    }
    return undefined;
  }

  private target(segs: string[]): Target {
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs[1] === 'v1' && segs.length > 2) {
      group = '';
      version = 'v1';
      rest = segs.slice(2);
    } else if (segs[0] === 'apis' && segs.length > 3) {
      group = segs[1]!;
      version = segs[2]!;
      rest = segs.slice(3);
    } else throw StatusError.pathNotFound();
    let namespace: string | undefined;
    if (
      rest[0] === 'namespaces' &&
      rest.length >= 3 &&
      this.registry.find(group, version, rest[2]!)?.namespaced
    ) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    if (rest.length > 3) throw StatusError.pathNotFound();
    const [plural, name, sub] = rest as [string, string | undefined, string | undefined];
    const def = this.registry.find(group, version, plural);
    if (!def) throw StatusError.pathNotFound();
    if (def.namespaced && name !== undefined && namespace === undefined) throw StatusError.pathNotFound();
    if (!def.namespaced && namespace !== undefined) throw StatusError.pathNotFound();
    if (sub !== undefined && (sub !== 'status' || !def.status)) throw StatusError.pathNotFound();
    return {
      def,
      ...(namespace !== undefined ? { namespace } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(sub !== undefined ? { sub: 'status' as const } : {}),
    };
  }

  private current(t: Target): KObject | undefined {
    return this.store.get(storageKey(t.def), t.namespace, t.name ?? '');
  }

  private mustGet(t: Target): KObject {
    const o = this.current(t);
    if (!o) throw StatusError.notFound(t.def, t.name ?? '');
    return o;
  }

  // ---- list and watch

  private selectors(t: Target, q: URLSearchParams): (o: KObject) => boolean {
    const labels: Requirement[] = parseLabelSelector(q.get('labelSelector') ?? '');
    const fields: Requirement[] = parseFieldSelector(q.get('fieldSelector') ?? '', t.def.custom);
    return (o) => requirementsMatch(labels, labelsOf(o)) && requirementsMatch(fields, fieldsOf(o));
  }

  private listOf(t: Target, q: URLSearchParams): KObject {
    const matches = this.selectors(t, q);
    let items = this.store.list(storageKey(t.def), t.namespace).filter(matches);
    const keyOf = (o: KObject) => `${str(meta(o)['namespace']) ?? ''}/${str(meta(o)['name']) ?? ''}`;
    const cont = q.get('continue');
    if (cont) {
      let after: string;
      try {
        after = String(
          (JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { start: unknown }).start,
        );
      } catch {
        throw StatusError.badRequest('continue key is not valid: illegal base64 data');
      }
      items = items.filter((o) => keyOf(o) > after);
    }
    const limit = Number(q.get('limit') ?? '0');
    const listMeta: KObject = { resourceVersion: String(this.store.resourceVersion) };
    if (limit > 0 && items.length > limit) {
      listMeta['remainingItemCount'] = items.length - limit;
      items = items.slice(0, limit);
      const last = items[items.length - 1];
      listMeta['continue'] = Buffer.from(JSON.stringify({ start: last ? keyOf(last) : '' })).toString(
        'base64url',
      );
    }
    return {
      kind: t.def.listKind,
      apiVersion: apiVersionOf(t.def),
      metadata: listMeta,
      // Like the real server, items of built-in lists carry no kind/apiVersion; custom resources do.
      items: items.map((o) => {
        if (t.def.custom) return o;
        const { kind: _k, apiVersion: _a, ...rest } = o;
        return rest;
      }),
    };
  }

  private watch(t: Target, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    const matches = this.selectors(t, q);
    const resource = storageKey(t.def);
    const rvParam = q.get('resourceVersion') ?? '';
    const resume = rvParam !== '' && rvParam !== '0';
    const from = resume ? Number(rvParam) : this.store.resourceVersion;
    if (resume && !/^\d+$/.test(rvParam)) {
      throw StatusError.badRequest(
        `resourceVersion: Invalid value: "${rvParam}": must be a non-negative integer`,
      );
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    const send = (type: EventType | 'BOOKMARK' | 'ERROR', object: unknown) => {
      if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    if (resume) {
      const expiry = this.pendingExpiry.findIndex((p) => p.resource === undefined || p.resource === resource);
      if (expiry >= 0 || from < this.store.compactedRv) {
        if (expiry >= 0) this.pendingExpiry.splice(expiry, 1);
        const oldest = Math.max(this.store.compactedRv, from + 1);
        send('ERROR', StatusError.expired(`too old resource version: ${from} (${oldest})`).toStatus());
        res.end();
        return;
      }
    }
    const inNamespace = (o: KObject) =>
      t.namespace === undefined || str(meta(o)['namespace']) === t.namespace;
    const deliver = (ev: StoreEvent) => {
      if (!inNamespace(ev.object)) return;
      const now = matches(ev.object);
      if (ev.type !== 'MODIFIED') {
        if (now) send(ev.type, ev.object);
        return;
      }
      const before = ev.old ? matches(ev.old) : false;
      if (before && now) send('MODIFIED', ev.object);
      else if (!before && now) send('ADDED', ev.object);
      else if (before && !now) send('DELETED', ev.object);
    };
    const bookmark = (annotations?: Record<string, string>) =>
      send('BOOKMARK', {
        kind: t.def.kind,
        apiVersion: apiVersionOf(t.def),
        metadata: {
          resourceVersion: String(this.store.resourceVersion),
          ...(annotations ? { annotations } : {}),
        },
      });
    if (resume) {
      for (const ev of this.store.since(resource, from)) deliver(ev);
    } else {
      // No resourceVersion (or "0"): synthetic ADDED events for the current state, then changes.
      for (const o of this.store.list(resource, t.namespace)) if (matches(o)) send('ADDED', o);
    }
    if (q.get('sendInitialEvents') === 'true') bookmark({ 'k8s.io/initial-events-end': 'true' });

    const allowBookmarks = q.get('allowWatchBookmarks') === 'true';
    const timers: NodeJS.Timeout[] = [];
    const watcher: StoreWatcher = { resource, deliver };
    const active: ActiveWatch = {
      resource,
      close: () => {
        this.store.watchers.delete(watcher);
        this.watches.delete(active);
        for (const tm of timers) clearTimeout(tm);
        if (!res.writableEnded) res.end();
      },
    };
    if (allowBookmarks) timers.push(setInterval(() => bookmark(), this.bookmarkIntervalMs));
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? '0');
    if (timeoutSeconds > 0) {
      timers.push(
        setTimeout(() => {
          if (allowBookmarks) bookmark();
          active.close();
        }, timeoutSeconds * 1000),
      );
    }
    this.store.watchers.add(watcher);
    this.watches.add(active);
    req.on('close', () => active.close());
    res.on('close', () => active.close());
  }

  // ---- writes

  private checkTypeMeta(def: ResourceDef, obj: KObject): void {
    const av = str(obj['apiVersion']);
    const kind = str(obj['kind']);
    if (def.custom && !kind)
      throw StatusError.badRequest(`Object 'Kind' is missing in '${JSON.stringify(obj)}'`);
    if (def.custom && !av)
      throw StatusError.badRequest(`Object 'apiVersion' is missing in '${JSON.stringify(obj)}'`);
    if (av && av !== apiVersionOf(def)) {
      throw StatusError.badRequest(
        `the API version in the data (${av}) does not match the expected API version (${apiVersionOf(def)})`,
      );
    }
    if (kind && kind !== def.kind) {
      throw StatusError.badRequest(
        `the kind in the data (${kind}) does not match the expected kind (${def.kind})`,
      );
    }
    obj['apiVersion'] = apiVersionOf(def);
    obj['kind'] = def.kind;
  }

  private checkNamespace(t: Target, obj: KObject): void {
    const m = meta(obj);
    if (t.def.namespaced) {
      const ns = str(m['namespace']);
      if (ns && ns !== t.namespace) {
        throw StatusError.badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      m['namespace'] = t.namespace;
    } else delete m['namespace'];
  }

  private builtinDefaults(def: ResourceDef, obj: KObject): void {
    if (def.group === '' && def.plural === 'secrets') {
      if (isObject(obj['stringData'])) {
        const data = isObject(obj['data']) ? obj['data'] : {};
        for (const [k, v] of Object.entries(obj['stringData']))
          data[k] = Buffer.from(String(v)).toString('base64');
        obj['data'] = data;
      }
      delete obj['stringData'];
      if (obj['type'] === undefined) obj['type'] = 'Opaque';
    }
  }

  /** Prunes/defaults/validates our kinds; metadata.name for all. Returns the object to store. */
  private validate(t: Target, obj: KObject, q: URLSearchParams, warnings: string[], old?: KObject): KObject {
    const name = str(meta(obj)['name']) ?? '';
    const causes: StatusCause[] = old ? [] : nameCauses(name);
    let out = obj;
    if (isOurKind(obj)) {
      const checked = checkCustomObject(obj, old);
      const mode = q.get('fieldValidation') ?? 'Warn';
      if (checked.unknownFields.length > 0) {
        const list = checked.unknownFields.map((f) => `unknown field "${f}"`);
        if (mode === 'Strict') {
          throw StatusError.badRequest(
            `${t.def.kind} in version "${t.def.version}" cannot be handled as a ${t.def.kind}: strict decoding error: ${list.join(', ')}`,
          );
        }
        if (mode !== 'Ignore') warnings.push(...list);
      }
      causes.push(...checked.causes);
      out = checked.object;
    }
    if (causes.length > 0) throw StatusError.invalid(t.def, name, causes);
    return out;
  }

  private async admit(
    t: Target,
    operation: Operation,
    name: string,
    object: KObject | undefined,
    oldObject: KObject | undefined,
    dryRun: boolean,
  ): Promise<string[]> {
    const configs = this.store.list(storageKey(this.registry.lookup('validatingwebhookconfigurations')));
    if (configs.length === 0) return [];
    const ns = t.namespace ? this.store.get('/namespaces', undefined, t.namespace) : undefined;
    return runValidatingWebhooks(
      configs,
      {
        def: t.def,
        operation,
        ...(t.sub ? { subResource: t.sub } : {}),
        name,
        ...(t.namespace ? { namespace: t.namespace } : {}),
        ...(object ? { object } : {}),
        ...(oldObject ? { oldObject } : {}),
        dryRun,
        namespaceLabels: labelsOf(ns),
      },
      this.serviceResolver,
    );
  }

  private async create(
    t: Target,
    body: unknown,
    q: URLSearchParams,
  ): Promise<{ object: KObject; warnings: string[] }> {
    if (!isObject(body)) throw StatusError.badRequest('the body of the request must be a JSON object');
    const obj = structuredClone(body);
    this.checkTypeMeta(t.def, obj);
    this.checkNamespace(t, obj);
    const m = meta(obj);
    if (str(m['resourceVersion']))
      throw StatusError.internal('resourceVersion should not be set on objects to be created');
    let name = str(m['name']) ?? '';
    if (!name) {
      const prefix = str(m['generateName']);
      if (!prefix) {
        throw StatusError.invalid(t.def, '', [
          {
            reason: 'FieldValueRequired',
            message: 'Required value: name or generateName is required',
            field: 'metadata.name',
          },
        ]);
      }
      name = `${prefix}${randomSuffix()}`;
      m['name'] = name;
    }
    for (const k of ['deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'managedFields'])
      delete m[k];
    m['uid'] = randomUUID();
    m['creationTimestamp'] = now();
    if (t.def.generation) m['generation'] = 1;
    else delete m['generation'];
    // Custom resources with a status subresource cannot set status on create.
    if (t.def.custom && t.def.status) delete obj['status'];
    if (t.def.group === '' && t.def.plural === 'namespaces' && obj['status'] === undefined)
      obj['status'] = { phase: 'Active' };
    this.builtinDefaults(t.def, obj);
    const warnings: string[] = [];
    const toStore = this.validate(t, obj, q, warnings);
    const dryRun = q.get('dryRun') === 'All';
    warnings.push(...(await this.admit(t, 'CREATE', name, toStore, undefined, dryRun)));
    const key = storageKey(t.def);
    if (this.store.get(key, t.namespace, name)) throw StatusError.alreadyExists(t.def, name);
    if (dryRun) return { object: toStore, warnings };
    return { object: this.store.commit('ADDED', key, toStore), warnings };
  }

  private takeConflict(t: Target): boolean {
    const i = this.conflicts.findIndex(
      (c) => c.resource === storageKey(t.def) && c.name === t.name && c.namespace === t.namespace,
    );
    const c = i >= 0 ? this.conflicts[i] : undefined;
    if (!c) return false;
    c.remaining -= 1;
    if (c.remaining <= 0) this.conflicts.splice(i, 1);
    return true;
  }

  private async update(
    t: Target,
    body: unknown,
    q: URLSearchParams,
  ): Promise<{ object: KObject; warnings: string[] }> {
    const old = this.mustGet(t);
    return this.replace(t, old, body, q);
  }

  private async patch(
    t: Target,
    text: string,
    contentType: string,
    q: URLSearchParams,
  ): Promise<{ object: KObject; warnings: string[] }> {
    const old = this.mustGet(t);
    let patched: unknown;
    switch (contentType) {
      case 'application/merge-patch+json':
        patched = mergePatch(old, parseBody(text, 'application/json') ?? {});
        break;
      case 'application/json-patch+json':
        patched = jsonPatch(old, parseBody(text, 'application/json') ?? []);
        break;
      case 'application/strategic-merge-patch+json':
        if (t.def.custom) {
          throw StatusError.unsupportedMediaType([
            'application/json-patch+json',
            'application/merge-patch+json',
            'application/apply-patch+yaml',
          ]);
        }
        // Approximation: built-in kinds get a JSON merge patch (lists are replaced, not merged by key).
        patched = mergePatch(old, parseBody(text, 'application/json') ?? {});
        break;
      case 'application/apply-patch+yaml':
      case 'application/apply-patch+cbor':
        throw new StatusError(
          415,
          'UnsupportedMediaType',
          'server-side apply is not implemented by the API server stand-in (use a merge or JSON patch)',
        );
      default:
        throw StatusError.unsupportedMediaType([
          'application/json-patch+json',
          'application/merge-patch+json',
          'application/apply-patch+yaml',
          ...(t.def.custom ? [] : ['application/strategic-merge-patch+json']),
        ]);
    }
    if (!isObject(patched)) throw StatusError.badRequest('the patched object is not a JSON object');
    return this.replace(t, old, patched, q);
  }

  /** PUT semantics, shared by update and patch (a patch is a PUT of the patched object). */
  private async replace(
    t: Target,
    old: KObject,
    body: unknown,
    q: URLSearchParams,
  ): Promise<{ object: KObject; warnings: string[] }> {
    if (!isObject(body)) throw StatusError.badRequest('the body of the request must be a JSON object');
    const name = t.name ?? '';
    let obj = structuredClone(body);
    this.checkTypeMeta(t.def, obj);
    this.checkNamespace(t, obj);
    const oldMeta = meta(old);
    const m = meta(obj);
    const bodyName = str(m['name']);
    if (bodyName && bodyName !== name) {
      throw StatusError.badRequest(
        `the name of the object (${bodyName}) does not match the name on the URL (${name})`,
      );
    }
    m['name'] = name;
    if (this.takeConflict(t)) throw StatusError.conflict(t.def, name);
    const rv = str(m['resourceVersion']);
    if (rv && rv !== oldMeta['resourceVersion']) throw StatusError.conflict(t.def, name);
    const uid = str(m['uid']);
    if (uid && uid !== oldMeta['uid']) {
      throw StatusError.conflict(
        t.def,
        name,
        `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${String(oldMeta['uid'])}`,
      );
    }
    if (t.sub === 'status') {
      // The status subresource changes only .status.
      const next = structuredClone(old);
      if (obj['status'] !== undefined) next['status'] = obj['status'];
      else delete next['status'];
      obj = next;
    } else if (t.def.status) {
      // The main resource ignores .status when there is a status subresource.
      if (old['status'] !== undefined) obj['status'] = structuredClone(old['status']);
      else delete obj['status'];
    }
    const nm = meta(obj);
    for (const k of [
      'uid',
      'creationTimestamp',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'generation',
      'resourceVersion',
    ]) {
      if (oldMeta[k] !== undefined) nm[k] = structuredClone(oldMeta[k]);
      else delete nm[k];
    }
    delete nm['managedFields'];
    this.builtinDefaults(t.def, obj);
    const warnings: string[] = [];
    const toStore = this.validate(t, obj, q, warnings, old);
    if (t.def.generation && !deepEqual(withoutMetaAndStatus(toStore), withoutMetaAndStatus(old))) {
      const g = oldMeta['generation'];
      meta(toStore)['generation'] = (typeof g === 'number' ? g : 0) + 1;
    }
    const dryRun = q.get('dryRun') === 'All';
    warnings.push(...(await this.admit(t, 'UPDATE', name, toStore, old, dryRun)));
    const key = storageKey(t.def);
    const latest = this.store.get(key, t.namespace, name);
    if (!latest) throw StatusError.notFound(t.def, name);
    if (rv && meta(latest)['resourceVersion'] !== rv) throw StatusError.conflict(t.def, name);
    if (deepEqual(toStore, latest)) return { object: latest, warnings }; // no-op: no new resourceVersion, no event
    if (dryRun) return { object: toStore, warnings };
    const finalizers = meta(toStore)['finalizers'];
    if (meta(toStore)['deletionTimestamp'] && (!Array.isArray(finalizers) || finalizers.length === 0)) {
      return { object: this.store.commit('DELETED', key, toStore, latest), warnings };
    }
    return { object: this.store.commit('MODIFIED', key, toStore, latest), warnings };
  }

  private async remove(
    t: Target,
    body: unknown,
    q: URLSearchParams,
  ): Promise<{ object: KObject; warnings: string[] }> {
    const old = this.mustGet(t);
    const name = t.name ?? '';
    const oldMeta = meta(old);
    const pre = isObject(body) && isObject(body['preconditions']) ? body['preconditions'] : {};
    const preUid = str(pre['uid']);
    if (preUid && preUid !== oldMeta['uid']) {
      throw StatusError.conflict(
        t.def,
        name,
        `Precondition failed: UID in precondition: ${preUid}, UID in object meta: ${String(oldMeta['uid'])}`,
      );
    }
    const preRv = str(pre['resourceVersion']);
    if (preRv && preRv !== oldMeta['resourceVersion']) {
      throw StatusError.conflict(
        t.def,
        name,
        `Precondition failed: ResourceVersion in precondition: ${preRv}, ResourceVersion in object meta: ${String(oldMeta['resourceVersion'])}`,
      );
    }
    const dryRun =
      q.get('dryRun') === 'All' ||
      (isObject(body) && Array.isArray(body['dryRun']) && body['dryRun'].includes('All'));
    const warnings = await this.admit({ ...t }, 'DELETE', name, undefined, old, dryRun);
    const key = storageKey(t.def);
    const finalizers = oldMeta['finalizers'];
    if (Array.isArray(finalizers) && finalizers.length > 0) {
      // Finalizers hold the object: deletion only marks it.
      if (oldMeta['deletionTimestamp'] || dryRun) return { object: old, warnings };
      const marked = structuredClone(old);
      meta(marked)['deletionTimestamp'] = now();
      meta(marked)['deletionGracePeriodSeconds'] = 0;
      if (t.def.generation)
        meta(marked)['generation'] =
          (typeof oldMeta['generation'] === 'number' ? oldMeta['generation'] : 0) + 1;
      return { object: this.store.commit('MODIFIED', key, marked, old), warnings };
    }
    const gone = dryRun ? old : this.store.commit('DELETED', key, old);
    if (t.def.custom) return { object: gone, warnings };
    return {
      object: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: {
          name,
          ...(t.def.group ? { group: t.def.group } : {}),
          kind: t.def.plural,
          uid: oldMeta['uid'],
        },
      },
      warnings,
    };
  }
}

/** Starts an ApiServerStandIn (same as ApiServerStandIn.start). */
export function startApiServerStandIn(opts: ApiServerStandInOptions = {}): Promise<ApiServerStandIn> {
  return ApiServerStandIn.start(opts);
}
