// src/k8s/client: kubeconfig and in-cluster configuration, credentials (token files, exec plugins,
// client certificates), errors, and the informer (list, watch, bookmarks, 410 relist, rewatch) against
// the API server STAND-IN over real HTTP and HTTPS.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { stringify } from 'yaml';
import { Credentials, TOKEN_FILE_REREAD_MS } from '../src/k8s/client/credentials.js';
import {
  ApiError,
  type ClusterConfig,
  collectionPath,
  Informer,
  inClusterConfig,
  KubeClient,
  kubeConfigFromString,
  loadKubeConfigFiles,
  NODES,
  type Node,
  Resource,
} from '../src/k8s/client/index.js';
import { loadKubeConfig } from '../src/k8s/kubeconfig.js';
import { ApiServerStandIn } from '../src/k8s/testing/apiserver-standin.js';
import { selfSignedCert } from '../src/k8s/testing/self-signed-cert.js';
import { eventually } from './support/eventually.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://api.example:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'team' } }],
    'current-context': 'ctx',
  });
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'k8s-client-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('kubeconfig', () => {
  it('token, CA data, namespace, tls-server-name', async () => {
    const c = kubeConfigFromString(
      kubeconfig(
        { 'certificate-authority-data': b64('CA PEM'), 'tls-server-name': 'kubernetes' },
        { token: 't0k' },
      ),
    );
    assert.equal(c.server, 'https://api.example:6443');
    assert.equal(c.ca?.toString(), 'CA PEM');
    assert.equal(c.tlsServerName, 'kubernetes');
    assert.equal(c.namespace, 'team');
    assert.equal(c.insecureSkipTlsVerify, false);
    assert.deepEqual(await new Credentials(c).current(), { authorization: 'Bearer t0k' });
  });

  it('files relative to the kubeconfig: CA, client certificate and key, token file; insecure', async () => {
    const sub = mkdtempSync(join(dir, 'files-'));
    writeFileSync(join(sub, 'ca.pem'), 'CA');
    writeFileSync(join(sub, 'client.pem'), 'CERT');
    writeFileSync(join(sub, 'client.key'), 'KEY');
    writeFileSync(join(sub, 'token'), 'from-file\n');
    const file = join(sub, 'config');
    writeFileSync(
      file,
      kubeconfig(
        { 'certificate-authority': 'ca.pem', 'insecure-skip-tls-verify': true },
        { 'client-certificate': 'client.pem', 'client-key': 'client.key', tokenFile: 'token' },
      ),
    );
    const c = loadKubeConfigFiles([file]);
    assert.equal(c.ca?.toString(), 'CA');
    assert.equal(c.insecureSkipTlsVerify, true);
    assert.equal(c.user.tokenFile, join(sub, 'token'));
    const auth = await new Credentials(c).current();
    assert.equal(auth.cert?.toString(), 'CERT');
    assert.equal(auth.key?.toString(), 'KEY');
    assert.equal(auth.authorization, 'Bearer from-file');
  });

  it('client certificate and key from data; the data wins over a file', () => {
    const c = kubeConfigFromString(
      kubeconfig(
        {},
        {
          'client-certificate-data': b64('CERT'),
          'client-key-data': b64('KEY'),
          'client-key': '/nonexistent',
        },
      ),
    );
    assert.equal(c.user.clientCertificate?.toString(), 'CERT');
    assert.equal(c.user.clientKey?.toString(), 'KEY');
  });

  it('a $KUBECONFIG list merges, the first file winning', () => {
    const a = join(dir, 'a.yaml');
    const b = join(dir, 'b.yaml');
    writeFileSync(
      a,
      stringify({ 'current-context': 'ctx', users: [{ name: 'u', user: { token: 'first' } }] }),
    );
    writeFileSync(b, kubeconfig({}, { token: 'second' }));
    const c = loadKubeConfig(undefined, { env: { KUBECONFIG: `${a}:${b}` } });
    assert.equal(c.user.token, 'first');
    assert.equal(c.server, 'https://api.example:6443');
  });

  it('errors name the file and the field', () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, kubeconfig({}, { 'client-certificate': 'missing.pem', 'client-key': 'missing.key' }));
    assert.throws(
      () => loadKubeConfigFiles([file]),
      new RegExp(
        `^Error: kubeconfig ${file}: user "u": cannot read client-certificate ${dir}/missing.pem: ENOENT`,
      ),
    );
    assert.throws(
      () => kubeConfigFromString(kubeconfig({}, { 'client-certificate-data': b64('CERT') })),
      /user "u": client-certificate without client-key/,
    );
    assert.throws(
      () => kubeConfigFromString(kubeconfig({}, { 'auth-provider': { name: 'gcp' } })),
      /user "u": auth-provider "gcp" is not supported; use an exec credential plugin/,
    );
    assert.throws(
      () => kubeConfigFromString(stringify({ 'current-context': 'nope', contexts: [] })),
      /current-context "nope" names no context/,
    );
    assert.throws(
      () => kubeConfigFromString(kubeconfig({ server: 'api.example' }, {})),
      /cluster "c": server "api.example" is not a URL/,
    );
    assert.throws(
      () => loadKubeConfigFiles([join(dir, 'absent')]),
      /kubeconfig .*absent: cannot read it: ENOENT/,
    );
  });

  it('precedence: --kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config; else the error', () => {
    const sa = mkdtempSync(join(dir, 'sa-'));
    writeFileSync(join(sa, 'token'), 'sa-token');
    writeFileSync(join(sa, 'ca.crt'), 'SA CA');
    const home = mkdtempSync(join(dir, 'home-'));
    const explicit = join(dir, 'explicit.yaml');
    writeFileSync(explicit, kubeconfig({ server: 'https://explicit:1' }, {}));
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const from = (file: string | undefined, e: NodeJS.ProcessEnv) =>
      loadKubeConfig(file, { env: e, serviceAccountDir: sa, home }).server;
    assert.equal(from(explicit, { ...env, KUBECONFIG: '/nonexistent' }), 'https://explicit:1');
    assert.equal(from(undefined, { ...env, KUBECONFIG: explicit }), 'https://explicit:1');
    assert.equal(from(undefined, env), 'https://10.0.0.1:443');
    assert.throws(
      () => from(undefined, {}),
      /^Error: no Kubernetes API server configured: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account$/,
    );
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube', 'config'), kubeconfig({ server: 'https://home:2' }, {}));
    assert.equal(from(undefined, {}), 'https://home:2');
    assert.equal(from(undefined, env), 'https://10.0.0.1:443', 'in-cluster before ~/.kube/config');
  });
});

describe('in-cluster configuration', () => {
  it('service host and port (IPv6 bracketed), ca.crt, namespace, a token file re-read every minute', async () => {
    const sa = mkdtempSync(join(dir, 'sa-'));
    writeFileSync(join(sa, 'token'), 'one');
    writeFileSync(join(sa, 'ca.crt'), 'CA');
    writeFileSync(join(sa, 'namespace'), 'pods-ns\n');
    const c = inClusterConfig({
      root: sa,
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
    });
    assert.equal(c.server, 'https://[fd00::1]:443');
    assert.equal(c.ca?.toString(), 'CA');
    assert.equal(c.namespace, 'pods-ns');
    let now = 1_000_000;
    const creds = new Credentials(c, () => now);
    assert.equal((await creds.current()).authorization, 'Bearer one');
    writeFileSync(join(sa, 'token'), 'two'); // the kubelet rotated it
    now += TOKEN_FILE_REREAD_MS - 1;
    assert.equal((await creds.current()).authorization, 'Bearer one', 'cached for a minute');
    now += 1;
    assert.equal((await creds.current()).authorization, 'Bearer two');
  });

  it('says what is missing', () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    assert.throws(
      () => inClusterConfig({ root: empty, env: {} }),
      /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT/,
    );
    const env = { KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '1' };
    assert.throws(
      () => inClusterConfig({ root: empty, env }),
      new RegExp(`no service account token at ${empty}/token`),
    );
    writeFileSync(join(empty, 'token'), 't');
    assert.throws(() => inClusterConfig({ root: empty, env }), new RegExp(`cannot read ${empty}/ca.crt`));
  });
});

describe('exec credential plugins', () => {
  const plugin = (body: string) => {
    const script = join(dir, `plugin-${Math.random().toString(16).slice(2)}.sh`);
    writeFileSync(script, `#!/bin/sh\n${body}\n`);
    chmodSync(script, 0o755);
    return script;
  };
  const withExec = (command: string, apiVersion = 'client.authentication.k8s.io/v1', extra = {}) =>
    kubeConfigFromString(
      kubeconfig(
        {},
        {
          exec: {
            apiVersion,
            command,
            args: ['--flag', 'x'],
            env: [{ name: 'PLUGIN_VAR', value: 'v' }],
            ...extra,
          },
        },
      ),
    );

  it('runs the command with its args, env and KUBERNETES_EXEC_INFO; caches until expiry', async () => {
    const calls = join(dir, 'calls');
    const script = plugin(
      `echo "$1 $2 $PLUGIN_VAR $KUBERNETES_EXEC_INFO" >> ${calls}\n` +
        `echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token","expirationTimestamp":"'$EXPIRES'"}}'`,
    );
    process.env['EXPIRES'] = new Date(Date.now() + 3600_000).toISOString();
    const c = withExec(script, 'client.authentication.k8s.io/v1', { provideClusterInfo: true });
    let now = Date.now();
    const creds = new Credentials(c, () => now);
    assert.equal((await creds.current()).authorization, 'Bearer exec-token');
    assert.equal((await creds.current()).authorization, 'Bearer exec-token');
    const lines = readFileSync(calls, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1, 'cached');
    assert.match(
      lines[0]!,
      /^--flag x v \{"apiVersion":"client.authentication.k8s.io\/v1","kind":"ExecCredential"/,
    );
    assert.match(lines[0]!, /"interactive":false/);
    assert.match(lines[0]!, /"server":"https:\/\/api.example:6443"/);
    now += 3600_000;
    await creds.current();
    assert.equal(readFileSync(calls, 'utf8').trim().split('\n').length, 2, 'run again after expiry');
    delete process.env['EXPIRES'];
  });

  it('a client certificate from the plugin (v1beta1)', async () => {
    const script = plugin(
      `echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"clientCertificateData":"CERT","clientKeyData":"KEY"}}'`,
    );
    const auth = await new Credentials(withExec(script, 'client.authentication.k8s.io/v1beta1')).current();
    assert.equal(auth.cert, 'CERT');
    assert.equal(auth.key, 'KEY');
    assert.equal(auth.authorization, undefined);
  });

  it('failures say which plugin and why', async () => {
    await assert.rejects(
      new Credentials(withExec(plugin('echo denied >&2; exit 3'))).current(),
      /exec credential plugin .*plugin-.*\.sh exited with 3: denied/,
    );
    await assert.rejects(
      new Credentials(
        withExec(
          plugin(
            `echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}'`,
          ),
        ),
      ).current(),
      /expected an ExecCredential of client.authentication.k8s.io\/v1, got ExecCredential of client.authentication.k8s.io\/v1beta1/,
    );
    await assert.rejects(
      new Credentials(
        withExec(join(dir, 'no-such-plugin'), undefined, { installHint: 'install it' }),
      ).current(),
      /cannot run it: spawn .*no-such-plugin ENOENT\ninstall it/,
    );
    assert.throws(
      () => withExec('x', 'client.authentication.k8s.io/v1alpha1'),
      /exec: apiVersion must be one of/,
    );
  });
});

/** A tiny server answering with what it saw (for credentials the stand-in does not check). */
async function echoServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  tls?: { certPem: string; keyPem: string; clientCa: string },
) {
  const server = tls
    ? createHttpsServer(
        { cert: tls.certPem, key: tls.keyPem, ca: tls.clientCa, requestCert: true, rejectUnauthorized: true },
        handler,
      )
    : createHttpServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('requests', () => {
  it('a 401 re-reads a rotated token file and retries once', async () => {
    const tokenFile = join(dir, 'rotating');
    writeFileSync(tokenFile, 'old');
    const seen: string[] = [];
    const srv = await echoServer((req, res) => {
      seen.push(String(req.headers.authorization));
      const ok = req.headers.authorization === 'Bearer new';
      res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify(
          ok ? { ok } : { kind: 'Status', code: 401, reason: 'Unauthorized', message: 'Unauthorized' },
        ),
      );
    });
    const client = new KubeClient({
      source: 't',
      server: srv.url,
      insecureSkipTlsVerify: false,
      user: { tokenFile },
    });
    await assert.rejects(client.request('GET', '/x'), /^ApiError: GET \/x: 401 Unauthorized: Unauthorized$/);
    assert.deepEqual(seen, ['Bearer old', 'Bearer old'], 'retried once with the file read again');
    writeFileSync(tokenFile, 'new'); // rotated: the cached token is refused, the file read again
    assert.deepEqual(await client.request('GET', '/x'), { ok: true });
    assert.deepEqual(seen.slice(2), ['Bearer old', 'Bearer new']);
    client.close();
    await srv.close();
  });

  it('presents the client certificate (mutual TLS) and verifies the server with the CA', async () => {
    const server = selfSignedCert({ commonName: 'server' });
    const user = selfSignedCert({ commonName: 'alice' });
    const srv = await echoServer(
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ cn: peer.subject?.CN }));
      },
      { ...server, clientCa: user.certPem },
    );
    const config: ClusterConfig = {
      source: 't',
      server: srv.url,
      ca: Buffer.from(server.certPem),
      insecureSkipTlsVerify: false,
      user: { clientCertificate: Buffer.from(user.certPem), clientKey: Buffer.from(user.keyPem) },
    };
    const client = new KubeClient(config);
    assert.deepEqual(await client.request('GET', '/whoami'), { cn: 'alice' });
    client.close();
    const stranger = new KubeClient({ ...config, ca: Buffer.from(user.certPem) });
    await assert.rejects(
      stranger.request('GET', '/whoami'),
      /^Error: GET \/whoami: .*(self.signed|certificate)/i,
    );
    stranger.close();
    await srv.close();
  });
});

for (const tls of [false, true]) {
  describe(`informer and requests against the stand-in over ${tls ? 'HTTPS (CA verified)' : 'HTTP'}`, () => {
    let s: ApiServerStandIn;
    let client: KubeClient;
    let nodes: Resource<Node>;
    before(async () => {
      s = await ApiServerStandIn.start({ tls, bookmarkIntervalMs: 200 });
      client = new KubeClient(kubeConfigFromString(s.kubeconfig));
      nodes = new Resource<Node>(client, NODES);
    });
    after(async () => {
      client.close();
      await s.stop();
    });

    it('errors carry the code, the Status and the request', async () => {
      const err = await nodes
        .mergePatch('ghost', { metadata: { labels: { a: 'b' } } })
        .catch((e: unknown) => e);
      assert.ok(err instanceof ApiError);
      assert.equal(err.code, 404);
      assert.equal(err.reason, 'NotFound');
      assert.equal(err.message, 'PATCH /api/v1/nodes/ghost: 404 Not Found: nodes "ghost" not found');
      await nodes.create({ metadata: { name: 'dup' } });
      const dup = await nodes.create({ metadata: { name: 'dup' } }).catch((e: unknown) => e);
      assert.ok(dup instanceof ApiError && dup.code === 409 && dup.reason === 'AlreadyExists');
      const stale = await nodes
        .mergePatch('dup', { metadata: { resourceVersion: '1', labels: { x: 'y' } } })
        .catch((e: unknown) => e);
      assert.ok(
        stale instanceof ApiError && stale.code === 409 && stale.reason === 'Conflict',
        String(stale),
      );
      await nodes.delete('dup');
    });

    it('list + watch: events, bookmarks, rewatch after the server ends the watch, 410 → relist with deletes', async () => {
      s.seed({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'a' } });
      s.seed({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'b' } });
      const log: string[] = [];
      let errors = 0;
      const informer = new Informer<Node>({
        client,
        path: collectionPath(NODES),
        onAdd: (n) => log.push(`add ${n.metadata?.name}`),
        onUpdate: (n) => log.push(`update ${n.metadata?.name}`),
        onDelete: (n) => log.push(`delete ${n.metadata?.name}`),
        onError: () => errors++,
      });
      await informer.start();
      assert.equal(informer.synced, true);
      assert.deepEqual(log.sort(), ['add a', 'add b']);
      log.length = 0;

      await nodes.create({ metadata: { name: 'c' } });
      await nodes.mergePatch('a', { metadata: { labels: { rack: '1' } } });
      await nodes.delete('b');
      await eventually(() => log.length === 3, 'three watch events');
      assert.deepEqual(log, ['add c', 'update a', 'delete b']);
      assert.equal(informer.get('a')?.metadata?.labels?.['rack'], '1');

      // Bookmarks move the resourceVersion on without object events (another resource changes).
      s.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'elsewhere' } });
      const global = String(s.resourceVersion);
      await eventually(
        () => informer.resourceVersion === global,
        'a bookmark with the latest resourceVersion',
      );

      // The server ends the watch (its timeout): the informer resumes from its resourceVersion, no list.
      const lists = () => s.requests.filter((r) => r.verb === 'list' && r.resource === 'nodes').length;
      const listsBefore = lists();
      const watchesBefore = s.requests.filter((r) => r.verb === 'watch').length;
      s.closeWatches('nodes');
      await eventually(
        () => s.requests.filter((r) => r.verb === 'watch').length > watchesBefore,
        'a new watch',
      );
      const rewatch = s.requests.filter((r) => r.verb === 'watch').at(-1)!;
      assert.match(rewatch.query, new RegExp(`resourceVersion=${informer.resourceVersion}(&|$)`));
      assert.match(rewatch.query, /allowWatchBookmarks=true/);
      assert.equal(lists(), listsBefore);

      // While it is stopped, 'c' goes and 'd' comes, and the history is compacted: resuming gets an
      // ERROR 410, the informer lists again and reports the difference.
      informer.stop();
      s.seed({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'd' } });
      await nodes.delete('c');
      s.compactHistory();
      log.length = 0;
      await informer.start();
      await eventually(() => log.length === 2, 'the relist differences');
      assert.deepEqual(log.sort(), ['add d', 'delete c']);
      assert.equal(lists(), listsBefore + 1);
      assert.deepEqual(
        informer
          .list()
          .map((n) => n.metadata?.name)
          .sort(),
        ['a', 'd'],
      );

      // An injected expiry on a live watch: closed, resumed, 410, relisted; nothing changed, no events.
      log.length = 0;
      s.injectWatchExpiry({ resource: 'nodes' });
      await eventually(() => lists() === listsBefore + 2, 'a relist after the 410');
      await nodes.mergePatch('d', { metadata: { labels: { after: 'relist' } } });
      await eventually(() => log.includes('update d'), 'events after the relist');
      assert.deepEqual(log, ['update d']);
      assert.equal(errors, 0);
      informer.stop();
    });

    it('another failure goes to onError and is retried with a doubling delay until stop()', async () => {
      const failures: [unknown, number][] = [];
      const informer = new Informer<Node>({
        client,
        path: '/apis/network.openperouter.io/v1alpha1/nothings',
        retryInitialMs: 20,
        retryMaxMs: 50,
        onError: (e, retryInMs) => failures.push([e, retryInMs]),
      });
      await informer.start();
      assert.equal(informer.synced, false);
      assert.equal(failures.length, 1);
      const [first] = failures[0] ?? [];
      assert.ok(first instanceof ApiError && first.code === 404, String(first));
      await eventually(() => failures.length >= 4, 'three retries');
      informer.stop();
      assert.deepEqual(
        failures.slice(0, 4).map(([, ms]) => ms),
        [20, 40, 50, 50],
      );
      const after = failures.length;
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(failures.length, after, 'no retry after stop()');
    });
  });
}
