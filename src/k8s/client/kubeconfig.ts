// Kubeconfig files: the clusters/users/contexts YAML kubectl reads, resolved to the ClusterConfig of
// the current context. As kubectl does: several files (a $KUBECONFIG list) merge with the first file
// winning for each name and for current-context; relative paths in a file (certificate files, token
// files, an exec command containing a `/`) are relative to that file's directory.
//
// Supported: server, certificate-authority(-data), insecure-skip-tls-verify, tls-server-name;
// token, tokenFile, username/password, client-certificate(-data), client-key(-data), exec plugins.
// Refused with a clear error: auth-provider (the legacy gcp/azure/oidc plugins: use an exec plugin),
// impersonation (`as`), proxy-url.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ClusterConfig, ExecPlugin, UserCredentials } from './config.js';

type Raw = Record<string, unknown>;

/** One named entry of a file, remembering which file (and so which directory) it came from. */
interface Entry {
  name: string;
  body: Raw;
  file: string;
  dir: string;
}

interface Merged {
  currentContext?: { name: string; file: string };
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, Entry>;
}

const isRecord = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

const EXEC_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

function parseFile(text: string, file: string, into: Merged): void {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new Error(`kubeconfig ${file}: not YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return; // an empty file is allowed, as kubectl allows it
  if (!isRecord(doc)) throw new Error(`kubeconfig ${file}: not a mapping`);
  const dir = dirname(file);
  const current = doc['current-context'];
  if (typeof current === 'string' && current !== '' && !into.currentContext)
    into.currentContext = { name: current, file };
  const section = (key: 'clusters' | 'users' | 'contexts', inner: string) => {
    const list = doc[key];
    if (list === undefined || list === null) return;
    if (!Array.isArray(list)) throw new Error(`kubeconfig ${file}: ${key} must be a list`);
    list.forEach((item: unknown, i) => {
      const name = isRecord(item) ? item['name'] : undefined;
      if (typeof name !== 'string' || name === '')
        throw new Error(`kubeconfig ${file}: ${key}[${i}] has no name`);
      const body = (item as Raw)[inner];
      // First file wins, as kubectl merges.
      if (!into[key].has(name)) into[key].set(name, { name, body: isRecord(body) ? body : {}, file, dir });
    });
  };
  section('clusters', 'cluster');
  section('users', 'user');
  section('contexts', 'context');
}

function str(e: Entry, what: string, field: string): string | undefined {
  const v = e.body[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string')
    throw new Error(`kubeconfig ${e.file}: ${what} "${e.name}": ${field} must be a string`);
  return v;
}

/** `<field>-data` (base64) or `<field>` (a file, relative to the kubeconfig); the data wins, as in kubectl. */
function dataOrFile(e: Entry, what: string, field: string): Buffer | undefined {
  const data = str(e, what, `${field}-data`);
  if (data !== undefined) return Buffer.from(data, 'base64');
  const file = str(e, what, field);
  if (file === undefined) return undefined;
  const path = resolve(e.dir, file);
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(
      `kubeconfig ${e.file}: ${what} "${e.name}": cannot read ${field} ${path}: ${(err as Error).message}`,
    );
  }
}

function execPlugin(e: Entry, raw: unknown): ExecPlugin {
  const where = `kubeconfig ${e.file}: user "${e.name}": exec`;
  if (!isRecord(raw)) throw new Error(`${where} must be a mapping`);
  const command = raw['command'];
  if (typeof command !== 'string' || command === '') throw new Error(`${where}: command is missing`);
  const apiVersion = raw['apiVersion'];
  if (typeof apiVersion !== 'string' || !EXEC_VERSIONS.includes(apiVersion))
    throw new Error(
      `${where}: apiVersion must be one of ${EXEC_VERSIONS.join(', ')} (got ${JSON.stringify(apiVersion)})`,
    );
  const args = raw['args'] ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
    throw new Error(`${where}: args must be a list of strings`);
  const env = raw['env'] ?? [];
  if (!Array.isArray(env) || !env.every((v) => isRecord(v) && typeof v['name'] === 'string'))
    throw new Error(`${where}: env must be a list of {name, value}`);
  return {
    // A command with a slash is a path, relative to the kubeconfig; a bare name is looked up in PATH.
    command: command.includes('/') && !isAbsolute(command) ? resolve(e.dir, command) : command,
    args: args as string[],
    env: (env as Raw[]).map((v) => ({ name: v['name'] as string, value: String(v['value'] ?? '') })),
    apiVersion,
    provideClusterInfo: raw['provideClusterInfo'] === true,
    ...(typeof raw['installHint'] === 'string' ? { installHint: raw['installHint'] } : {}),
  };
}

function userCredentials(e: Entry): UserCredentials {
  const what = 'user';
  if (e.body['auth-provider'] !== undefined) {
    const name = isRecord(e.body['auth-provider']) ? e.body['auth-provider']['name'] : undefined;
    throw new Error(
      `kubeconfig ${e.file}: user "${e.name}": auth-provider ${JSON.stringify(name ?? '')} is not supported; use an exec credential plugin`,
    );
  }
  if (e.body['as'] !== undefined || e.body['as-groups'] !== undefined)
    throw new Error(`kubeconfig ${e.file}: user "${e.name}": impersonation (as) is not supported`);
  const u: UserCredentials = {};
  const token = str(e, what, 'token');
  if (token !== undefined) u.token = token;
  const tokenFile = str(e, what, 'tokenFile');
  if (tokenFile !== undefined) u.tokenFile = resolve(e.dir, tokenFile);
  const username = str(e, what, 'username');
  if (username !== undefined) {
    u.username = username;
    u.password = str(e, what, 'password') ?? '';
  }
  const cert = dataOrFile(e, what, 'client-certificate');
  const key = dataOrFile(e, what, 'client-key');
  if ((cert === undefined) !== (key === undefined))
    throw new Error(
      `kubeconfig ${e.file}: user "${e.name}": ${cert ? 'client-certificate without client-key' : 'client-key without client-certificate'}`,
    );
  if (cert && key) {
    u.clientCertificate = cert;
    u.clientKey = key;
  }
  if (e.body['exec'] !== undefined && e.body['exec'] !== null) u.exec = execPlugin(e, e.body['exec']);
  return u;
}

function resolveContext(m: Merged, files: string[], contextName?: string): ClusterConfig {
  const where = files.length === 1 ? `kubeconfig ${files[0]}` : `kubeconfig ${files.join(':')}`;
  const name = contextName ?? m.currentContext?.name;
  if (name === undefined) throw new Error(`${where}: no current-context`);
  const ctx = m.contexts.get(name);
  if (!ctx) throw new Error(`${where}: current-context "${name}" names no context`);
  const clusterName = str(ctx, 'context', 'cluster');
  if (clusterName === undefined) throw new Error(`kubeconfig ${ctx.file}: context "${name}" has no cluster`);
  const cluster = m.clusters.get(clusterName);
  if (!cluster)
    throw new Error(
      `kubeconfig ${ctx.file}: context "${name}" names cluster "${clusterName}", which is not defined`,
    );
  const server = str(cluster, 'cluster', 'server');
  if (server === undefined)
    throw new Error(`kubeconfig ${cluster.file}: cluster "${clusterName}" has no server`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(
      `kubeconfig ${cluster.file}: cluster "${clusterName}": server ${JSON.stringify(server)} is not a URL`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new Error(
      `kubeconfig ${cluster.file}: cluster "${clusterName}": server must be https:// or http://`,
    );
  if (cluster.body['proxy-url'] !== undefined)
    throw new Error(`kubeconfig ${cluster.file}: cluster "${clusterName}": proxy-url is not supported`);
  const userName = str(ctx, 'context', 'user');
  let user: UserCredentials = {};
  if (userName !== undefined) {
    const entry = m.users.get(userName);
    if (!entry)
      throw new Error(
        `kubeconfig ${ctx.file}: context "${name}" names user "${userName}", which is not defined`,
      );
    user = userCredentials(entry);
  }
  const ca = dataOrFile(cluster, 'cluster', 'certificate-authority');
  const tlsServerName = str(cluster, 'cluster', 'tls-server-name');
  const namespace = str(ctx, 'context', 'namespace');
  return {
    source: `${where} (context ${name})`,
    server: server.replace(/\/+$/, ''),
    ...(ca ? { ca } : {}),
    insecureSkipTlsVerify: cluster.body['insecure-skip-tls-verify'] === true,
    ...(tlsServerName ? { tlsServerName } : {}),
    ...(namespace ? { namespace } : {}),
    user,
  };
}

/** The current context of one or more kubeconfig files (merged as kubectl merges a $KUBECONFIG list). */
export function loadKubeConfigFiles(files: string[], contextName?: string): ClusterConfig {
  const m: Merged = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const f of files) {
    const path = resolve(f);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`kubeconfig ${path}: cannot read it: ${(err as Error).message}`);
    }
    parseFile(text, path, m);
  }
  return resolveContext(
    m,
    files.map((f) => resolve(f)),
    contextName,
  );
}

/**
 * A kubeconfig given as text (tests, the stand-in's kubeconfig); relative paths in it are relative
 * to `dir` (default the working directory).
 */
export function kubeConfigFromString(text: string, dir = process.cwd(), contextName?: string): ClusterConfig {
  const m: Merged = { clusters: new Map(), users: new Map(), contexts: new Map() };
  const file = resolve(dir, '(inline kubeconfig)');
  parseFile(text, file, m);
  return resolveContext(m, [file], contextName);
}
