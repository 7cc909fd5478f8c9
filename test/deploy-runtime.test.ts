// Deployment, the parts that run: the scripts and probes of the rendered manifests executed here
// (against stand-ins for what only a node has: the router namespace, FRR's daemons), the command-line
// flags the manifests pass checked against the real CLI, FRR's startup files checked by FRR, the
// Dockerfile checked structurally (no Docker daemon here: it is not built), and the objects in
// docs/install.md validated like any manifest.
//
// The objects come from deploy/manifests/openperouter.yaml, which test/deploy.test.ts proves is the
// chart's current render.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, parseAllDocuments } from 'yaml';
import { loadText, toSnapshot } from '../src/api/load.js';
import { applyNodeRules, selectForNode } from '../src/api/node-rules.js';
import { DEFAULT_DAEMONS } from '../src/frr/reloader-server.js';
import { gate, hasFrr } from './support/prereq.js';
import { repoRoot } from './support/scenarios.js';

type Obj = Record<string, unknown>;
const o = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const a = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const manifests = parseAllDocuments(
  readFileSync(join(repoRoot, 'deploy', 'manifests', 'openperouter.yaml'), 'utf8'),
)
  .map((d) => o(d.toJS()))
  .filter((x) => typeof x['kind'] === 'string');

function object(kind: string, name: string): Obj {
  const x = manifests.find((m) => m['kind'] === kind && o(m['metadata'])['name'] === name);
  assert.ok(x, `${kind} ${name}`);
  return x;
}

function container(workload: Obj, name: string): Obj {
  const spec = o(o(o(workload['spec'])['template'])['spec']);
  const c = [...a(spec['initContainers']), ...a(spec['containers'])].map(o).find((x) => x['name'] === name);
  assert.ok(c, name);
  return c;
}

const router = object('DaemonSet', 'openperouter-router');
const controller = object('DaemonSet', 'openperouter-controller');
const nodemarker = object('Deployment', 'openperouter-nodemarker');
const frrStartup = o(object('ConfigMap', 'openperouter-frr-startup')['data']) as Record<string, string>;
const node = process.execPath;
const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

const scratch = mkdtempSync(join(tmpdir(), 'opr-deploy-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let scratchCount = 0;
const scratchDir = (): string => mkdtempSync(join(scratch, `${scratchCount++}-`));

// ---------------------------------------------------------------------------------------------------

describe('reloader probes (exec, Node.js over the unix socket)', () => {
  const reloader = container(router, 'reloader');
  const probe = (kind: string): string[] => a(o(o(reloader[kind])['exec'])['command']).map(String);

  /** Runs the probe's command with this Node.js against a stand-in reloader answering `status`. */
  async function runProbe(kind: string, status: number | 'none' | 'hang'): Promise<number> {
    const [program, ...args] = probe(kind);
    assert.equal(program, 'node');
    const dir = scratchDir();
    const socket = join(dir, 'reloader.sock');
    let server: Server | undefined;
    if (status !== 'none') {
      server = createServer((req, res) => {
        if (status === 'hang') return;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ path: req.url }));
      });
      await new Promise<void>((resolve) => server!.listen(socket, resolve));
    }
    try {
      const replaced = args.map((x) => (x === '/var/run/openperouter/reloader.sock' ? socket : x));
      assert.notDeepEqual(replaced, args, 'the socket path is the last argument');
      return await new Promise<number>((resolve) => {
        execFile(node, replaced, { timeout: 30_000 }, (err) => {
          resolve(err ? Number((err as { code?: unknown }).code ?? 1) : 0);
        });
      });
    } finally {
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    }
  }

  test('readiness: ready only when /readyz answers 200', async () => {
    assert.ok(probe('readinessProbe').some((x) => x.includes("path: '/readyz'")));
    assert.equal(await runProbe('readinessProbe', 200), 0);
    assert.equal(await runProbe('readinessProbe', 503), 1);
    assert.equal(await runProbe('readinessProbe', 'none'), 1);
  });

  test('liveness: alive whenever the reloader answers, even 503 (FRR down is not the reloader dead)', async () => {
    assert.ok(probe('livenessProbe').some((x) => x.includes("path: '/healthz'")));
    assert.equal(await runProbe('livenessProbe', 200), 0);
    assert.equal(await runProbe('livenessProbe', 503), 0);
    assert.equal(await runProbe('livenessProbe', 'none'), 1);
  });

  test('a reloader that never answers fails the probe before the kubelet timeout', async () => {
    const timeoutSeconds = Number(o(reloader['readinessProbe'])['timeoutSeconds']);
    const started = Date.now();
    assert.equal(await runProbe('readinessProbe', 'hang'), 1);
    assert.ok(Date.now() - started < timeoutSeconds * 1000, 'the client timeout is below timeoutSeconds');
  });
});

describe('router scripts', () => {
  const frrScript = (): string => {
    const cmd = a(container(router, 'frr')['command']).map(String);
    assert.deepEqual(cmd.slice(0, 4), ['/usr/bin/tini', '--', '/bin/bash', '-c']);
    return cmd[4]!;
  };

  test('the frr and frr-config scripts parse (bash -n, sh -n)', () => {
    execFileSync('bash', ['-n', '-c', frrScript()]);
    const init = a(container(router, 'frr-config')['command']).map(String);
    assert.deepEqual(init.slice(0, 2), ['/bin/sh', '-c']);
    execFileSync('sh', ['-n', '-c', init[2]!]);
  });

  /** The frr script with stand-ins: nsenter (entering works when the namespace file exists), frrcommon.sh. */
  function frrStandIn(waitSeconds: number): {
    dir: string;
    netns: string;
    script: string;
    env: NodeJS.ProcessEnv;
  } {
    const dir = scratchDir();
    const netns = join(dir, 'netns', 'perouter');
    writeFileSync(
      join(dir, 'nsenter'),
      [
        '#!/bin/sh',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
        'ns=${1#--net=}; shift',
        '[ -e "$ns" ] || exit 1',
        '[ "$1" = true ] && exit 0',
        `echo "entered $ns: $*" > ${join(dir, 'exec.log')}`,
      ].join('\n'),
    );
    chmodSync(join(dir, 'nsenter'), 0o755);
    writeFileSync(join(dir, 'frrcommon.sh'), 'daemon_list() { echo zebra mgmtd bgpd staticd bfdd; }\n');
    const script = frrScript()
      .replaceAll('/run/netns/perouter', netns)
      .replace('source /usr/lib/frr/frrcommon.sh', `source ${join(dir, 'frrcommon.sh')}`)
      .replace(/SECONDS \+ \d+/, `SECONDS + ${waitSeconds}`);
    assert.notEqual(script, frrScript());
    return { dir, netns, script, env: { ...process.env, PATH: `${dir}:${process.env['PATH'] ?? ''}` } };
  }

  test('frr: waits for the controller to create the namespace, then runs watchfrr inside it', async () => {
    const { dir, netns, script, env } = frrStandIn(30);
    const child = spawn('bash', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    for (let i = 0; i < 100 && !/waiting for the network namespace/.test(out); i++) await sleep(100);
    assert.match(out, /waiting for the network namespace/);
    mkdirSync(join(dir, 'netns'));
    writeFileSync(netns, ''); // the controller's `ip netns add`
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    assert.match(out, /starting FRR in the network namespace/);
    assert.equal(
      readFileSync(join(dir, 'exec.log'), 'utf8').trim(),
      `entered ${netns}: /usr/lib/frr/watchfrr zebra mgmtd bgpd staticd bfdd`,
    );
  });

  test('frr: gives up (exit 1, restarted by the kubelet) when the namespace never appears', () => {
    const { script, env } = frrStandIn(1);
    const r = spawnSync('bash', ['-c', script], { env, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /missing after 120 s: is the openperouter controller running on this node\?/);
  });

  test('frr-config: FRR starts from the last good configuration when there is one', () => {
    const init = a(container(router, 'frr-config')['command']).map(String)[2]!;
    for (const lastGood of ['', 'frr defaults traditional\nhostname last-good\n']) {
      const dir = scratchDir();
      for (const d of ['startup', 'etc', 'state']) mkdirSync(join(dir, d));
      for (const [k, v] of Object.entries(frrStartup)) writeFileSync(join(dir, 'startup', k), v);
      if (lastGood) writeFileSync(join(dir, 'state', 'frr-last-good.conf'), lastGood);
      for (const tool of ['chown', 'chgrp']) {
        writeFileSync(join(dir, tool), `#!/bin/sh\necho "${tool} $*" >> ${join(dir, 'owners.log')}\n`);
        chmodSync(join(dir, tool), 0o755);
      }
      const script = init
        .replaceAll('/startup/', `${join(dir, 'startup')}/`)
        .replaceAll('/etc/frr', join(dir, 'etc'))
        .replaceAll('/var/lib/openperouter/', `${join(dir, 'state')}/`);
      execFileSync('sh', ['-c', script], {
        env: { ...process.env, PATH: `${dir}:${process.env['PATH'] ?? ''}` },
        stdio: 'pipe',
      });
      const conf = readFileSync(join(dir, 'etc', 'frr.conf'), 'utf8');
      assert.equal(conf, lastGood || frrStartup['frr.conf']);
      assert.equal(readFileSync(join(dir, 'etc', 'daemons'), 'utf8'), frrStartup['daemons']);
      assert.equal(readFileSync(join(dir, 'etc', 'vtysh.conf'), 'utf8'), frrStartup['vtysh.conf']);
      assert.equal(
        readFileSync(join(dir, 'owners.log'), 'utf8'),
        `chown -R frr:frr ${join(dir, 'etc')}\nchgrp frrvty ${join(dir, 'etc')}/vtysh.conf\n`,
      );
    }
  });
});

describe('FRR startup files', () => {
  test('daemons: every daemon the reloader waits for is started (zebra, mgmtd and staticd always are)', () => {
    const lines = frrStartup['daemons']!.split('\n');
    const enabled = new Set(['zebra', 'mgmtd', 'staticd']);
    for (const l of lines) {
      const m = /^([a-z0-9]+d)=yes$/.exec(l);
      if (m) enabled.add(m[1]!);
    }
    for (const d of DEFAULT_DAEMONS) assert.ok(enabled.has(d), `${d} is not started`);
    assert.ok(lines.includes('vtysh_enable=yes'));
    assert.match(frrStartup['vtysh.conf']!, /^service integrated-vtysh-config$/m);
    assert.ok(!a(container(router, 'reloader')['args']).some((x) => String(x).startsWith('--daemons')));
  });

  test('the placeholder frr.conf is valid FRR configuration (vtysh --dryrun)', gate(hasFrr), () => {
    const dir = scratchDir();
    writeFileSync(join(dir, 'frr.conf'), frrStartup['frr.conf']!);
    const r = spawnSync('vtysh', ['--dryrun', '-f', join(dir, 'frr.conf')], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});

describe('command-line flags of the manifests', () => {
  const help = (sub: string): { ok: boolean; text: string } => {
    const r = spawnSync(node, [cli, sub, '--help'], { encoding: 'utf8' });
    return { ok: r.status === 0, text: `${r.stdout}${r.stderr}` };
  };
  const flagsOf = (args: unknown[]): string[] =>
    args
      .map(String)
      .filter((x) => x.startsWith('--'))
      .map((x) => x.split('=')[0]!);

  test('reloader: every flag the router pod passes exists', () => {
    const args = a(container(router, 'reloader')['args']);
    assert.equal(args[0], 'reloader');
    const h = help('reloader');
    assert.ok(h.ok, h.text);
    for (const f of flagsOf(args)) assert.ok(h.text.includes(`${f} `), `openperouter reloader has no ${f}`);
  });

  for (const [name, workload] of [
    ['controller', controller],
    ['nodemarker', nodemarker],
  ] as const) {
    const args = a(container(workload, name)['args']);
    test(`${name}: every flag the manifests pass exists`, () => {
      assert.equal(args[0], name);
      const h = help(name);
      assert.ok(h.ok, h.text);
      for (const f of flagsOf(args)) assert.ok(h.text.includes(`${f} `), `openperouter ${name} has no ${f}`);
    });
  }

  test('every container of the image runs the openperouter entrypoint or overrides it knowingly', () => {
    const overridden = ['frr', 'frr-config'];
    for (const w of [router, controller, nodemarker]) {
      const spec = o(o(o(w['spec'])['template'])['spec']);
      for (const c of [...a(spec['initContainers']), ...a(spec['containers'])].map(o)) {
        const name = String(c['name']);
        if (overridden.includes(name)) assert.ok(c['command'], name);
        else {
          assert.equal(c['command'], undefined, `${name} keeps the image entrypoint (tini -- openperouter)`);
          assert.equal(a(c['args'])[0], name === 'reloader' ? 'reloader' : name);
        }
      }
    }
  });
});

describe('Dockerfile (structure only: no Docker daemon here, the image is not built)', () => {
  const text = readFileSync(join(repoRoot, 'deploy', 'Dockerfile'), 'utf8');
  // Instructions with their continuation lines joined, comments dropped.
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), arg: rest.join(' ') };
    });
  const all = (op: string) => instructions.filter((i) => i.op === op).map((i) => i.arg);
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
    engines: { node: string };
  };

  test('only known instructions; multi-stage from the official Node 22 image of the pinned version', () => {
    const known = new Set([
      'ARG',
      'FROM',
      'WORKDIR',
      'COPY',
      'RUN',
      'ENV',
      'ENTRYPOINT',
      'CMD',
      'LABEL',
      'USER',
    ]);
    for (const i of instructions) assert.ok(known.has(i.op), `unknown instruction ${i.op}`);
    const nodeVersion = /^NODE_VERSION=(\S+)$/.exec(all('ARG')[0] ?? '')?.[1];
    assert.equal(nodeVersion, pkg.devDependencies['node'], 'the image runs the Node.js package.json pins');
    assert.match(nodeVersion ?? '', /^22\./);
    assert.equal(pkg.engines.node, '22.x');
    const froms = all('FROM');
    const image = ['node:$', '{NODE_VERSION}-trixie-slim'].join('');
    assert.deepEqual(froms, [`${image} AS build`, image]);
  });

  test('installs FRR 10 with its Python tools, iproute2, nsenter and tini, and checks the versions', () => {
    const runtimeRuns = all('RUN').filter((r) => r.includes('apt-get install'));
    assert.equal(runtimeRuns.length, 1);
    const run = runtimeRuns[0]!;
    for (const p of ['frr', 'frr-pythontools', 'iproute2', 'util-linux', 'tini'])
      assert.match(run, new RegExp(`\\s${p}(\\s|$)`), `apt-get install ${p}`);
    assert.match(run, /--no-install-recommends/);
    assert.match(
      run,
      /dpkg-query -W -f='\$\{Version\}\\n' frr \| grep -q '\^10\\\.'/,
      'fails unless FRR is 10.x',
    );
    assert.match(run, /node --version \| grep -q '\^v22\\\.'/, 'fails unless Node.js is 22');
    assert.match(run, /rm -rf \/var\/lib\/apt\/lists/);
    // Debian 13's FRR is 10.x; the router's scripts use its paths.
    const script = a(container(router, 'frr')['command']).map(String).join('\n');
    assert.match(script, /\/usr\/lib\/frr\/frrcommon\.sh/);
    assert.match(script, /\/usr\/lib\/frr\/watchfrr/);
  });

  test('builds the TypeScript, ships dist and production node_modules, entrypoint tini -- openperouter', () => {
    const runs = all('RUN');
    assert.ok(runs.some((r) => r.includes('npm install') && r.includes('--ignore-scripts')));
    assert.ok(runs.some((r) => r.includes('tsc -p tsconfig.json') && r.includes('npm prune --omit=dev')));
    const copies = all('COPY');
    for (const c of [
      'package.json package-lock.json ./',
      'src ./src',
      '--from=build /src/node_modules ./node_modules',
      '--from=build /src/dist ./dist',
      'bin/openperouter ./bin/openperouter',
    ])
      assert.ok(copies.includes(c), `COPY ${c}`);
    // Every directory the compiled CLI imports from is copied into the build stage.
    for (const dir of ['src', 'lab']) assert.ok(copies.includes(`${dir} ./${dir}`), `COPY ${dir}`);
    assert.ok(
      runs.some((r) => r.includes('ln -s /opt/openperouter/bin/openperouter /usr/local/bin/openperouter')),
    );
    assert.deepEqual(all('WORKDIR').at(-1), '/opt/openperouter');
    assert.equal(all('ENTRYPOINT').at(-1), '["/usr/bin/tini", "--", "/usr/local/bin/openperouter"]');
    // bin/openperouter falls back to the image's node when the pinned one (a dev dependency) is pruned.
    assert.match(
      readFileSync(join(repoRoot, 'bin', 'openperouter'), 'utf8'),
      /\[ -x "\$node" \] \|\| node=node/,
    );
  });

  test('the chart runs the image it describes: tini and the FRR tools at the paths the Dockerfile installs', () => {
    assert.deepEqual(a(container(router, 'frr')['command']).slice(0, 2), ['/usr/bin/tini', '--']);
    for (const w of [router, controller, nodemarker]) {
      const spec = o(o(o(w['spec'])['template'])['spec']);
      for (const c of [...a(spec['initContainers']), ...a(spec['containers'])].map(o))
        assert.equal(c['image'], 'openperouter:0.1.0', String(c['name']));
    }
  });
});

describe('docs/install.md', () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'install.md'), 'utf8');

  test('its example objects are valid and fit together on one node', () => {
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => m[1]!)
      .filter((b) => b.includes('network.openperouter.io/v1alpha1'));
    assert.ok(blocks.length > 0);
    const r = loadText(blocks.join('\n---\n'), 'docs/install.md');
    assert.deepEqual(r.issues, []);
    assert.ok(r.objects.length >= 2);
    const selection = applyNodeRules(selectForNode(toSnapshot(r.objects), {}));
    assert.deepEqual(selection.failures, []);
  });

  test('it documents every value of the chart', () => {
    const values = parse(
      readFileSync(join(repoRoot, 'deploy', 'helm', 'openperouter', 'values.yaml'), 'utf8'),
    ) as Obj;
    const keys = (v: Obj, prefix: string): string[] =>
      Object.entries(v).flatMap(([k, x]) =>
        x !== null && typeof x === 'object' && !Array.isArray(x) && Object.keys(x as Obj).length > 0
          ? keys(x as Obj, `${prefix}${k}.`)
          : [`${prefix}${k}`],
      );
    for (const k of keys(values, '')) {
      if (k.startsWith('updateStrategy.')) continue;
      assert.ok(doc.includes(`\`${k}\``), `docs/install.md does not mention \`${k}\``);
    }
  });
});
