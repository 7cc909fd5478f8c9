// The reloader's vtysh fast path (src/frr/fast-path.ts): the pure stanza diff and command plan, then
// against real FRR: for a series of changes (add/remove VNI, neighbor AS and address, route targets,
// dual- to single-stack, several at once) a reloader with the fast path and one without end in the
// same running config, frr-reload.py --test finds nothing left to change after the fast path, and
// every fallback (syntax error, a line FRR prints differently, drift, large or global changes) ends
// where the full path would.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FACTS, render, toObjects, underlayManifest, vniManifests } from '../bench/workload.js';
import { toSnapshot } from '../src/api/load.js';
import {
  diffTrees,
  expectRunning,
  type FrrTree,
  negate,
  parseFrrConfig,
  type StanzaChange,
  syntaxCheckText,
  treeDifferences,
  vtyshCommands,
} from '../src/frr/fast-path.js';
import type { LogFields, Logger } from '../src/frr/log.js';
import { type ReloaderServer, startReloaderServer } from '../src/frr/reloader-server.js';
import { type FrrInstance, startFrr, stopAllFrr } from './support/frr-instance.js';
import { gate, hasFrr, isRoot } from './support/prereq.js';

const HOST = hostname();

/** The bench workload (L3VNI with a dual-stack host session + L2VNI per VNI), with edits. */
function config(
  vnis: number[],
  edit: (m: Record<string, unknown>) => void = () => {},
  underlay: Record<string, unknown> = underlayManifest(),
): string {
  const manifests = [underlay, ...vnis.flatMap((i) => vniManifests(i))];
  for (const m of manifests) edit(m);
  return render(toSnapshot(toObjects(manifests)), { ...FACTS, hostname: HOST }).frr;
}

type Spec = Record<string, unknown> & { hostSession?: Record<string, unknown> & { localCIDR?: object } };
const specOf = (m: Record<string, unknown>, name: string): Spec | undefined =>
  (m['metadata'] as { name: string }).name === name ? (m['spec'] as Spec) : undefined;

function change(prev: string, next: string): StanzaChange {
  const c = diffTrees(parseFrrConfig(prev), parseFrrConfig(next));
  assert.notEqual(typeof c, 'string', String(c));
  return c as StanzaChange;
}

const lines = (t: FrrTree, path: string[]): string[] => [...(t.get(path.join('\n'))?.lines ?? [])];

// ---------------------------------------------------------------------------------------------------

describe('fast path: parsing and planning (pure)', () => {
  test("our rendering and FRR's running-config spelling parse into the same contexts", () => {
    const ours = [
      'frr defaults traditional',
      'hostname h',
      'vrf red',
      ' vni 100',
      'exit-vrf',
      'route-map allowall permit 1',
      'exit',
      'router bgp 64514 vrf red',
      ' bgp router-id 10.0.0.2',
      ' address-family ipv4 unicast',
      '  network 10.0.0.3/32',
      ' exit-address-family',
      'exit',
      '',
    ].join('\n');
    const running = [
      'Building configuration...',
      '',
      'Current configuration:',
      '!',
      'frr defaults traditional',
      'hostname h',
      '!',
      'vrf red',
      ' vni 100',
      'exit-vrf',
      '!',
      'router bgp 64514 vrf red',
      ' bgp router-id 10.0.0.2',
      ' !',
      ' address-family ipv4 unicast',
      '  network 10.0.0.3/32',
      ' exit-address-family',
      'exit',
      '!',
      'route-map allowall permit 1',
      'exit',
      '!',
      'end',
      '',
    ].join('\n');
    const a = parseFrrConfig(ours);
    const b = parseFrrConfig(running);
    assert.deepEqual(treeDifferences(a, b), []);
    assert.deepEqual(lines(a, []), ['frr defaults traditional', 'hostname h']);
    assert.deepEqual(lines(a, ['vrf red']), ['vni 100']);
    assert.ok(a.has('route-map allowall permit 1'), 'an empty stanza closed by exit is a context');
    assert.deepEqual(lines(a, ['router bgp 64514 vrf red', 'address-family ipv4 unicast']), [
      'network 10.0.0.3/32',
    ]);
    assert.throws(() => parseFrrConfig('router bgp 1\n   neighbor x remote-as 2\n'), /indentation jumps/);
  });

  test('adding a VNI: new contexts in file order, entered from configure terminal', () => {
    const c = change(config([0, 1]), config([0, 1, 2]));
    assert.equal(c.removeContexts.length + c.removeLines.length, 0);
    const cmds = vtyshCommands(c);
    assert.deepEqual(cmds.slice(0, 4), ['configure terminal', 'vrf b2', 'vni 10002', 'end']);
    assert.deepEqual(cmds.slice(4, 7), [
      'configure terminal',
      'router bgp 64514 vrf b2',
      'bgp router-id 10.0.0.2',
    ]);
    assert.ok(cmds.includes('address-family ipv6 unicast'));
    assert.equal(cmds[cmds.length - 1], 'end');
    // Every context line is entered from the node above it, never from a sibling.
    for (let i = 1; i < cmds.length; i++) {
      if (/^(vrf|router bgp) /.test(cmds[i]!)) assert.equal(cmds[i - 1], 'configure terminal');
    }
  });

  test('removing a VNI: `no router bgp … vrf` before `no vrf`, nothing inside them', () => {
    const c = change(config([0, 1, 2]), config([0, 2]));
    assert.deepEqual(vtyshCommands(c), [
      'configure terminal',
      'no router bgp 64514 vrf b1',
      'no vrf b1',
      'end',
    ]);
    assert.equal(c.addLines.length, 0);
  });

  test('a neighbor whose AS changes is deleted and re-created with all its lines', () => {
    const c = change(
      config([0, 1]),
      config([0, 1], (m) => {
        const s = specOf(m, 'b1');
        if (s?.hostSession) s.hostSession['hostASN'] = 64600;
      }),
    );
    const cmds = vtyshCommands(c);
    assert.ok(cmds.includes('no neighbor 10.0.1.3 remote-as 64515'));
    assert.ok(cmds.includes('neighbor 10.0.1.3 remote-as 64600'));
    assert.ok(cmds.includes('neighbor 10.0.1.3 activate'), 're-activated after the re-creation');
    assert.ok(!cmds.includes('no neighbor 10.0.1.3 activate'), 'not deleted line by line');
    assert.deepEqual(c.resetNeighbors.sort(), [
      'router bgp 64514 vrf b1 > 10.0.1.3',
      'router bgp 64514 vrf b1 > fd00:1::3',
    ]);
  });

  test('an address family that disappears is emptied line by line; `no` lines are removed by their positive form', () => {
    const c = change(
      config([0]),
      config([0], (m) => {
        const s = specOf(m, 'b0');
        if (s?.hostSession) s.hostSession['localCIDR'] = { ipv4: '10.0.0.0/24' };
      }),
    );
    const cmds = vtyshCommands(c);
    assert.ok(cmds.includes('no neighbor fd00::3 remote-as 64515'));
    assert.ok(!cmds.some((l) => /^no address-family/.test(l)));
    assert.equal(negate('no bgp default ipv4-unicast'), 'bgp default ipv4-unicast');
    assert.match(
      syntaxCheckText(c),
      /^router bgp 64514 vrf b0\n no neighbor fd00::3 remote-as 64515\nexit$/m,
    );
  });

  test('global lines and unparsable layouts are not for the fast path', () => {
    const base = config([0]);
    assert.equal(
      diffTrees(
        parseFrrConfig(base),
        parseFrrConfig(base.replace('log stdout informational', 'log stdout warnings')),
      ),
      'global lines changed',
    );
  });

  test('the predicted running config: the one before, minus what goes, plus what comes', () => {
    const before = parseFrrConfig(`frr version 8.4.4\nservice integrated-vtysh-config\n${config([0, 1])}`);
    const c = change(config([0, 1]), config([1, 2]));
    const predicted = expectRunning(before, c);
    const want = parseFrrConfig(`frr version 8.4.4\nservice integrated-vtysh-config\n${config([1, 2])}`);
    assert.deepEqual(treeDifferences(predicted, want), []);
    assert.notDeepEqual(treeDifferences(before, want), []);
  });
});

// ---------------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

function post(socketPath: string, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method: 'POST',
        path: '/frr',
        headers: { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const quiet = (): Logger & { records: LogFields[] } => {
  const records: LogFields[] = [];
  const at = (level: string) => (f: LogFields, msg: string) => {
    records.push({ level, msg, ...f });
  };
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
};

describe('fast path against real FRR: same running config as frr-reload.py', gate(isRoot, hasFrr), () => {
  let fastFrr: FrrInstance;
  let fullFrr: FrrInstance;
  let dir = '';
  const servers: ReloaderServer[] = [];
  const sock = (n: string): string => join(dir, n, 'reloader.sock');
  const timings: Record<string, unknown>[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oprt-fast-'));
    [fastFrr, fullFrr] = await Promise.all([startFrr({ name: 'fp-fast' }), startFrr({ name: 'fp-full' })]);
    for (const [name, frr, max] of [
      ['fast', fastFrr, 400],
      ['full', fullFrr, 0],
    ] as const) {
      servers.push(
        await startReloaderServer({
          socketPath: sock(name),
          stateFile: join(dir, name, 'state.conf'),
          target: { pathspace: frr.ns, netns: frr.ns },
          restartCheckIntervalMs: 0,
          fastPathMaxLines: max,
          logger: quiet(),
        }),
      );
    }
  });

  after(async () => {
    for (const s of servers) await s.close();
    await stopAllFrr();
    await rm(dir, { recursive: true, force: true });
    if (timings.length > 0) process.stderr.write(`# fast path timings ${JSON.stringify(timings)}\n`);
  });

  /** Posts to both reloaders; the fast one must take `expectPath`; both must end in the same running config. */
  async function both(text: string, expectPath: 'fast' | 'full' | 'any', what: string): Promise<Answer> {
    const [f, s] = await Promise.all([post(sock('fast'), text), post(sock('full'), text)]);
    assert.equal(s.status, 200, `${what} (full): ${JSON.stringify(s.json)}`);
    assert.equal(f.status, 200, `${what} (fast): ${JSON.stringify(f.json)}`);
    if (expectPath !== 'any') {
      assert.equal(f.json['path'], expectPath, `${what}: ${JSON.stringify(f.json['fastPath'])}`);
    }
    assert.equal(s.json['path'], 'full');
    timings.push({
      what,
      fast: f.json['durationMs'],
      full: s.json['durationMs'],
      fastPath: f.json['fastPath'],
    });
    const [rf, rs] = await Promise.all([fastFrr.runningConfig(), fullFrr.runningConfig()]);
    assert.deepEqual(
      treeDifferences(parseFrrConfig(rs), parseFrrConfig(rf)),
      [],
      `${what}: running configs differ`,
    );
    const left = await fastFrr.pendingChanges(text);
    assert.deepEqual(
      [left.toAdd, left.toDelete],
      [[], []],
      `${what}: frr-reload.py --test after the fast path`,
    );
    return f;
  }

  const rtEdit =
    (name: string, rts: string[]) =>
    (m: Record<string, unknown>): void => {
      const s = specOf(m, name);
      if (s?.hostSession) {
        s['importRTs'] = rts;
        s['exportRTs'] = rts.slice(0, 1);
      }
    };

  test('the first config goes through frr-reload.py on both', async () => {
    await both(config([0, 1, 2, 3]), 'full', 'initial');
  });

  const steps: [string, () => string][] = [
    ['add a VNI', () => config([0, 1, 2, 3, 4])],
    ['remove a VNI', () => config([0, 1, 3, 4])],
    [
      'change a host neighbor AS',
      () =>
        config([0, 1, 3, 4], (m) => {
          const s = specOf(m, 'b1');
          if (s?.hostSession) s.hostSession['hostASN'] = 64600;
        }),
    ],
    ['set route targets', () => config([0, 1, 3, 4], rtEdit('b3', ['64514:3', '64514:33']))],
    ['change route targets', () => config([0, 1, 3, 4], rtEdit('b3', ['64514:333', '64514:33']))],
    [
      'change the ToR neighbor address',
      () =>
        config([0, 1, 3, 4], rtEdit('b3', ['64514:333']), underlayManifest({ torAddress: '192.168.11.9' })),
    ],
    [
      'dual stack to IPv4 only',
      () =>
        config(
          [0, 1, 3, 4],
          (m) => {
            const s = specOf(m, 'b0');
            if (s?.hostSession) s.hostSession['localCIDR'] = { ipv4: '10.0.0.0/24' };
          },
          underlayManifest({ torAddress: '192.168.11.9' }),
        ),
    ],
    ['several VNIs added and removed at once', () => config([1, 4, 5, 6, 7])],
    ['back to the first config', () => config([0, 1, 2, 3])],
  ];
  for (const [what, text] of steps) {
    test(`${what}: fast path, same running config as frr-reload.py`, async () => {
      const r = await both(text(), 'fast', what);
      assert.equal(r.json['reloads'], 0);
      assert.equal((r.json['fastPath'] as { used: boolean }).used, true);
    });
  }

  test("a syntax error: vtysh's check refuses it before FRR is touched; 422 with FRR's words", async () => {
    const good = config([0, 1, 2, 3]);
    const runningBefore = await fastFrr.runningConfig();
    const bad = good.replace('router bgp 64514 vrf b2\n', 'router bgp 64514 vrf b2\n frobnicate now\n');
    const r = await post(sock('fast'), bad);
    assert.equal(r.status, 422, JSON.stringify(r.json));
    assert.match(String(r.json['message']), /Unknown command: {2}frobnicate now/);
    assert.equal((r.json['fastPath'] as { reason: string }).reason, 'syntax');
    assert.equal(await fastFrr.runningConfig(), runningBefore);
    assert.equal(await readFile(join(dir, 'fast', 'state.conf'), 'utf8'), good);
    // FRR still runs `good`: the next small change takes the fast path again.
    await both(config([0, 1, 2, 3, 8]), 'fast', 'after a rejected config');
  });

  test('a line FRR prints differently: the verification fails, frr-reload.py converges it', async () => {
    const text = config([0, 1, 2, 3, 8]).replace(
      '  network 10.0.8.3/32\n',
      '  network 10.0.8.3/32\n  network 10.77.0.1/24\n',
    );
    const r = await both(text, 'full', 'unmasked prefix');
    const fp = r.json['fastPath'] as { used: boolean; reason: string; message: string };
    assert.deepEqual([fp.used, fp.reason], [false, 'mismatch']);
    assert.match(fp.message, /network 10\.77\.0\.0\/24/);
  });

  test('FRR changed behind the reloader (a line removed, a line added): the fast path falls back, frr-reload.py repairs', async () => {
    await both(config([0, 1, 2, 3]), 'fast', 'reset');
    // Removed behind our back, and removed by the next change too: whichever path is taken (vtysh
    // accepts deleting a neighbor that is gone), FRR must end where frr-reload.py puts it.
    await fastFrr.vtysh(
      'configure terminal',
      'router bgp 64514 vrf b2',
      'no neighbor fd00:2::3 remote-as 64515',
    );
    const v4only = config([0, 1, 2, 3], (m) => {
      const s = specOf(m, 'b2');
      if (s?.hostSession) s.hostSession['localCIDR'] = { ipv4: '10.0.2.0/24' };
    });
    await both(v4only, 'any', 'drift (removed)');
    // Added behind our back, in a stanza the next change does not touch.
    await fastFrr.vtysh('configure terminal', 'router bgp 64514 vrf b1', 'bgp router-id 10.0.0.9');
    const r2 = await both(config([0, 1, 2, 3]), 'full', 'drift (added)');
    assert.equal((r2.json['fastPath'] as { reason: string }).reason, 'mismatch');
  });

  test('large or global changes go straight to frr-reload.py', async () => {
    const big = config(Array.from({ length: 30 }, (_, i) => i));
    const r = await both(big, 'full', 'large');
    assert.equal((r.json['fastPath'] as { reason: string }).reason, 'too-large');
    const g = await both(big.replace('log stdout informational', 'log stdout warnings'), 'full', 'global');
    assert.equal((g.json['fastPath'] as { reason: string }).reason, 'not-suitable');
  });
});
