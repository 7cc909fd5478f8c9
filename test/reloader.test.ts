// The reloader (src/frr/reloader-server.ts) and its client, against real FRR instances over a real
// unix socket: apply, no-op, rejection, serialisation, state file, FRR restart re-apply, probes,
// HTTP errors, client retries, graceful shutdown of the `reloader` subcommand.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type CommandRunner, runCommand } from '../src/frr/exec.js';
import { FrrReload, frrErrorText, parseReloadTest, parserRejection } from '../src/frr/frr-reload.js';
import type { LogFields, Logger } from '../src/frr/log.js';
import { applyFrrConfig, ReloaderError, reloaderHealth } from '../src/frr/reloader-client.js';
import { type ReloaderServer, startReloaderServer } from '../src/frr/reloader-server.js';
import { waitFor } from './support/eventually.js';
import { type FrrDaemon, type FrrInstance, repoRoot, startFrr, stopAllFrr } from './support/frr-instance.js';
import { gate, hasFrr, isRoot } from './support/prereq.js';

const exec = promisify(execFile);
const HOST = hostname();
const RELOAD = '/usr/lib/frr/frr-reload.py';

// ---------------------------------------------------------------------------------------------------
// helpers

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

function http(
  socketPath: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string | number> = { ...headers };
    if (body !== undefined) {
      h['content-length'] = Buffer.byteLength(body);
      h['content-type'] ??= 'text/plain';
    }
    const req = request({ socketPath, method, path, headers: h }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = { raw: text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A logger that keeps every record (and prints nothing). */
function memoryLogger(): Logger & { records: LogFields[] } {
  const records: LogFields[] = [];
  const at =
    (level: string) =>
    (fields: LogFields, msg: string): void => {
      records.push({ level, msg, ...fields });
    };
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

interface ReloadCall {
  mode: string;
  start: number;
  end: number;
  /** `network …` lines of the candidate, to tell the configs apart. */
  networks: string[];
}

/** The real runner, recording every frr-reload.py run (mode, time span, candidate's networks). */
function recordingRunner(): { runner: CommandRunner; calls: ReloadCall[] } {
  const calls: ReloadCall[] = [];
  const runner: CommandRunner = async (file, args, opts) => {
    if (!args.includes(RELOAD)) return runCommand(file, args, opts);
    const mode = args.find((a) => a === '--test' || a === '--reload') ?? '?';
    const candidate = args[args.length - 1] ?? '';
    const text = await readFile(candidate, 'utf8').catch(() => '');
    const networks = text
      .split('\n')
      .filter((l) => /^\s*network /.test(l))
      .map((l) => l.trim());
    const start = performance.now();
    const r = await runCommand(file, args, opts);
    calls.push({ mode, start, end: performance.now(), networks });
    return r;
  };
  return { runner, calls };
}

const bgpConfig = (asn: number, rid: string, peer: string, peerAs: number, networks: string[] = []): string =>
  [
    `hostname ${HOST}`,
    '!',
    `router bgp ${asn}`,
    ' no bgp ebgp-requires-policy',
    ' no bgp network import-check',
    ' no bgp default ipv4-unicast',
    ` bgp router-id ${rid}`,
    ` neighbor ${peer} remote-as ${peerAs}`,
    ` neighbor ${peer} timers 3 9`,
    ` neighbor ${peer} timers connect 1`,
    ' !',
    ' address-family ipv4 unicast',
    ...networks.map((n) => `  network ${n}`),
    `  neighbor ${peer} activate`,
    ' exit-address-family',
    'exit',
    '!',
    '',
  ].join('\n');

const configA = (...networks: string[]): string =>
  bgpConfig(64514, '10.0.0.1', '192.168.77.2', 64515, networks);
const configB = bgpConfig(64515, '10.0.0.2', '192.168.77.1', 64514);

interface NeighborState {
  bgpState?: string;
  bgpTimerUpMsec?: number;
  connectionsEstablished?: number;
  connectionsDropped?: number;
}

/** The session identity: a reset bumps connectionsDropped (and connectionsEstablished once it is back). */
const sessionId = (n: NeighborState): string => `${n.connectionsEstablished}/${n.connectionsDropped}`;

async function neighbor(frr: FrrInstance, ip: string): Promise<NeighborState> {
  const j = JSON.parse(await frr.vtysh(`show bgp neighbors ${ip} json`)) as Record<string, NeighborState>;
  return j[ip] ?? {};
}

async function pidOf(frr: FrrInstance, d: FrrDaemon): Promise<number> {
  return Number((await readFile(join(frr.runDir, `${d}.pid`), 'utf8')).trim());
}

async function gone(pid: number): Promise<boolean> {
  try {
    const s = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/** Kills daemons of the instance (by the pids in their pid files) and waits until they are gone. */
async function killDaemons(frr: FrrInstance, daemons: FrrDaemon[]): Promise<void> {
  const pids = await Promise.all(daemons.map((d) => pidOf(frr, d)));
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  await waitFor('daemons to die', async () =>
    (await Promise.all(pids.map(gone))).every(Boolean) ? true : undefined,
  );
}

/** Starts daemons exactly as startFrr does (empty config: nothing loads frr.conf). */
async function startDaemons(frr: FrrInstance, daemons: FrrDaemon[]): Promise<void> {
  const one = async (d: FrrDaemon): Promise<void> => {
    const args = [
      'netns',
      'exec',
      frr.ns,
      `/usr/lib/frr/${d}`,
      '-d',
      '-N',
      frr.ns,
      '-P',
      '0',
      '-u',
      'frr',
      '-g',
      'frr',
    ];
    args.push('-i', join(frr.runDir, `${d}.pid`), '--log', `file:${join(frr.runDir, `${d}.log`)}`);
    if (d === 'bfdd') args.push('--bfdctl', join(frr.runDir, 'bfdd.sock'));
    await exec('ip', args, { timeout: 15_000 });
  };
  if (daemons.includes('zebra')) await one('zebra');
  await Promise.all(daemons.filter((d) => d !== 'zebra').map(one));
}

// ---------------------------------------------------------------------------------------------------
// no FRR needed

describe('frr-reload.py output parsing', () => {
  test('parseReloadTest joins contexts and drops bare context lines that have commands', () => {
    const out = [
      '',
      'Lines To Delete',
      '===============',
      'no hostname vm',
      'ip forwarding',
      '',
      'Lines To Add',
      '============',
      'router bgp 64514',
      'router bgp 64514',
      ' bgp router-id 10.0.0.1',
      'router bgp 64514',
      ' address-family ipv4 unicast',
      '  network 10.1.0.0/24 ',
      'bfd',
      '',
    ].join('\n');
    assert.deepEqual(parseReloadTest(out), {
      toDelete: ['no hostname vm', 'ip forwarding'],
      toAdd: [
        'router bgp 64514 > bgp router-id 10.0.0.1',
        'router bgp 64514 > address-family ipv4 unicast > network 10.1.0.0/24',
        'bfd',
      ],
    });
    assert.deepEqual(parseReloadTest(''), { toAdd: [], toDelete: [] });
  });

  test("parserRejection decodes vtysh's error out of frr-reload.py's Python bytes literal", () => {
    const stderr = [
      '2026-11-22 04:45:01,534  INFO: Loading Config object from file /tmp/x.conf',
      '2026-11-22 04:45:01,651   ERROR: vtysh failed to process new configuration: vtysh (mark file) exited with status 2:',
      "b'line 6: % Unknown command:  neighbor 192.168.11.2 frobnicate\\n\\n'",
      '2026-11-22 04:45:01,651  INFO: Loading Config object from vtysh show running',
    ].join('\n');
    assert.equal(parserRejection(stderr), 'line 6: % Unknown command:  neighbor 192.168.11.2 frobnicate');
    assert.equal(parserRejection('all fine'), undefined);
  });

  test('frrErrorText keeps what explains a failed reload, without INFO chatter or timestamps', () => {
    const stdout = 'va is directly connected peer, cannot accept disable-connected-check\n';
    const stderr = [
      '2026-11-22 04:46:22,210  INFO: Called via "Namespace(...)"',
      "['router bgp 64514\\n neighbor va disable-connected-check\\n']",
      'line 5: Failure to communicate[13] to bgpd, line:  neighbor va disable-connected-check',
      '',
      '2026-11-22 04:46:23,082 WARNING: frr-reload.py failed due to',
      'vtysh (exec file) exited with status 13',
    ].join('\n');
    assert.equal(
      frrErrorText(stdout, stderr),
      [
        'va is directly connected peer, cannot accept disable-connected-check',
        'line 5: Failure to communicate[13] to bgpd, line:  neighbor va disable-connected-check',
        'vtysh (exec file) exited with status 13',
      ].join('\n'),
    );
  });
});

describe('reloader client against a scripted server', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oprt-reloader-client-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const serve = async (
    path: string,
    answers: Array<{ status: number; body: unknown }>,
  ): Promise<{ hits: () => number; close: () => Promise<void> }> => {
    let n = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const a = answers[Math.min(n, answers.length - 1)]!;
        n++;
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(a.body));
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
    return { hits: () => n, close: () => new Promise<void>((r) => server.close(() => r())) };
  };

  test('retries 5xx with backoff, then returns the answer', async () => {
    const s = await serve(join(dir, 'a.sock'), [
      { status: 500, body: { error: 'reload-failed', message: 'boom' } },
      { status: 503, body: { error: 'shutting-down' } },
      { status: 200, body: { applied: true, durationMs: 12, reloads: 1 } },
    ]);
    try {
      const t0 = Date.now();
      const r = await applyFrrConfig(join(dir, 'a.sock'), 'x\n', { retries: 3, backoffMs: 20 });
      assert.deepEqual([r.applied, r.durationMs, r.attempts, r.details['reloads']], [true, 12, 3, 1]);
      assert.ok(Date.now() - t0 >= 20 + 40, 'backoff doubles');
      assert.equal(s.hits(), 3);
    } finally {
      await s.close();
    }
  });

  test('gives up after the retries with the last FRR message; 4xx other than 422 is final too', async () => {
    const s = await serve(join(dir, 'b.sock'), [
      { status: 500, body: { error: 'x', message: 'FRR says no' } },
    ]);
    try {
      await assert.rejects(applyFrrConfig(join(dir, 'b.sock'), 'x\n', { retries: 2, backoffMs: 1 }), (e) => {
        assert.ok(e instanceof ReloaderError);
        assert.deepEqual([e.kind, e.status, e.frrMessage, e.attempts], ['failed', 500, 'FRR says no', 3]);
        return true;
      });
    } finally {
      await s.close();
    }
    const t = await serve(join(dir, 'c.sock'), [
      { status: 413, body: { error: 'too-large', message: 'big' } },
    ]);
    try {
      await assert.rejects(applyFrrConfig(join(dir, 'c.sock'), 'x\n', { retries: 2, backoffMs: 1 }), {
        kind: 'protocol',
        status: 413,
      });
      assert.equal(t.hits(), 1);
    } finally {
      await t.close();
    }
  });

  test('per-request timeout counts as unreachable and is retried', async () => {
    const path = join(dir, 'slow.sock');
    let n = 0;
    const server = createServer((req, res) => {
      n++;
      req.resume();
      if (n === 1) return; // never answers
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"applied":false,"durationMs":0}');
    });
    await new Promise<void>((r) => server.listen(path, r));
    try {
      const r = await applyFrrConfig(path, 'x\n', { timeoutMs: 200, retries: 1, backoffMs: 1 });
      assert.deepEqual([r.applied, r.attempts], [false, 2]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// real FRR

describe('reloader against real FRR', gate(isRoot, hasFrr), () => {
  let a: FrrInstance;
  let b: FrrInstance;
  let dir = '';
  let server: ReloaderServer | undefined;
  const servers: ReloaderServer[] = [];
  const log = memoryLogger();
  const rec = recordingRunner();
  const sock = (): string => join(dir, 'run', 'reloader.sock');
  const stateFile = (): string => join(dir, 'state', 'frr-last-good.conf');
  const reloads = (mode?: string): number =>
    rec.calls.filter((c) => mode === undefined || c.mode === mode).length;
  const post = (text: string | Buffer, headers: Record<string, string> = {}): Promise<HttpAnswer> =>
    http(sock(), 'POST', '/frr', text, headers);
  const timings: Record<string, unknown> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oprt-reloader-'));
    [a, b] = await Promise.all([startFrr({ name: 'rl-pe' }), startFrr({ name: 'rl-peer' })]);
    // A veth between the two namespaces and a BGP session over it (B configured directly).
    await exec('ip', [
      'link',
      'add',
      'va',
      'netns',
      a.ns,
      'type',
      'veth',
      'peer',
      'name',
      'vb',
      'netns',
      b.ns,
    ]);
    await exec('ip', ['-n', a.ns, 'addr', 'add', '192.168.77.1/30', 'dev', 'va']);
    await exec('ip', ['-n', b.ns, 'addr', 'add', '192.168.77.2/30', 'dev', 'vb']);
    await exec('ip', ['-n', a.ns, 'link', 'set', 'va', 'up']);
    await exec('ip', ['-n', b.ns, 'link', 'set', 'vb', 'up']);
    const rb = await b.reload(configB);
    assert.ok(rb.ok, rb.output);
    server = await startReloaderServer({
      socketPath: sock(),
      stateFile: stateFile(),
      target: { pathspace: a.ns, netns: a.ns },
      restartCheckIntervalMs: 200,
      runner: rec.runner,
      logger: log,
      // These tests are about the frr-reload.py path; the vtysh fast path has test/frr-fast-path.test.ts.
      fastPathMaxLines: 0,
    });
    servers.push(server);
  });

  after(async () => {
    for (const s of servers) await s.close();
    await stopAllFrr();
    await rm(dir, { recursive: true, force: true });
    if (Object.keys(timings).length > 0)
      process.stderr.write(`# reloader timings ${JSON.stringify(timings)}\n`);
  });

  test('the socket is 0600 in a 0700 directory created for it', async () => {
    const s = await stat(sock());
    assert.ok(s.isSocket());
    assert.equal(s.mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'run'))).mode & 0o777, 0o700);
  });

  test('POST /frr applies a config: running-config has it, the state file holds it', async () => {
    const conf = configA('10.1.0.0/24');
    const r = await post(conf);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json['applied'], true);
    assert.equal(r.json['reloads'], 1);
    assert.equal(typeof r.json['durationMs'], 'number');
    timings['applyFirst'] = { durationMs: r.json['durationMs'], steps: r.json['timings'] };
    const running = await a.runningConfig();
    assert.match(running, /^ neighbor 192\.168\.77\.2 remote-as 64515$/m);
    assert.match(running, /^ {2}network 10\.1\.0\.0\/24$/m);
    assert.equal(await readFile(stateFile(), 'utf8'), conf);
    assert.equal((await stat(stateFile())).mode & 0o777, 0o600);
    const established = await waitFor('BGP session', async () =>
      (await neighbor(a, '192.168.77.2')).bgpState === 'Established' ? true : undefined,
    );
    assert.ok(established);
  });

  test('the same config again: applied=false, no frr-reload.py run, BGP session untouched', async () => {
    const conf = configA('10.1.0.0/24');
    const before = await neighbor(a, '192.168.77.2');
    assert.equal(before.bgpState, 'Established');
    const calls = reloads();
    const t0 = Date.now();
    const r = await post(conf);
    assert.equal(r.status, 200);
    assert.equal(r.json['applied'], false);
    timings['noop'] = { durationMs: r.json['durationMs'], roundTripMs: Date.now() - t0 };
    assert.equal(reloads(), calls, 'no frr-reload.py invocation for an unchanged config');
    await sleep(1500);
    const now = await neighbor(a, '192.168.77.2');
    assert.equal(now.bgpState, 'Established');
    assert.equal(sessionId(now), sessionId(before), 'session was not reset');
    assert.ok(
      (now.bgpTimerUpMsec ?? 0) - (before.bgpTimerUpMsec ?? 0) >= Date.now() - t0 - 1000,
      'uptime kept growing',
    );
  });

  test('a changed config is applied without resetting the session (one more network)', async () => {
    const before = await neighbor(a, '192.168.77.2');
    const r = await post(configA('10.1.0.0/24', '10.2.0.0/24'));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual([r.json['applied'], r.json['reloads']], [true, 1]);
    assert.deepEqual(r.json['changes'], { add: 1, delete: 0 });
    timings['applyChange'] = { durationMs: r.json['durationMs'], steps: r.json['timings'] };
    await sleep(500);
    const now = await neighbor(a, '192.168.77.2');
    assert.deepEqual([now.bgpState, sessionId(now)], ['Established', sessionId(before)]);
  });

  test("a syntax error: 422 with FRR's message, nothing applied, state file unchanged", async () => {
    const runningBefore = await a.runningConfig();
    const stateBefore = await readFile(stateFile(), 'utf8');
    const calls = reloads('--reload');
    const bad = configA('10.9.0.0/24').replace(
      ' bgp router-id 10.0.0.1',
      ' bgp router-id 10.0.0.1\n frobnicate now',
    );
    const r = await post(bad);
    assert.equal(r.status, 422, JSON.stringify(r.json));
    assert.equal(r.json['error'], 'rejected');
    assert.match(String(r.json['message']), /^line \d+: % Unknown command: {2}frobnicate now$/);
    assert.equal(reloads('--reload'), calls, 'no --reload after a rejected --test');
    assert.equal(await a.runningConfig(), runningBefore);
    assert.equal(await readFile(stateFile(), 'utf8'), stateBefore);
  });

  test('a config FRR never converges to: 500 with the remaining lines; FRR state then re-applied', async () => {
    const good = await readFile(stateFile(), 'utf8');
    const r = await post(good.replace(`hostname ${HOST}\n`, `hostname ${HOST}\nlog stdout info\n`));
    assert.equal(r.status, 500, JSON.stringify(r.json));
    assert.equal(r.json['error'], 'not-converged');
    assert.match(String(r.json['message']), /^\+ log stdout info$/m);
    assert.deepEqual(r.json['remaining'], {
      toAdd: ['log stdout info'],
      toDelete: ['no log stdout informational'],
    });
    assert.equal(await readFile(stateFile(), 'utf8'), good, 'a failed config is not the last good one');
    // The failed reload changed FRR: re-posting the last good config must go to FRR, not be skipped.
    const back = await post(good);
    assert.deepEqual([back.status, back.json['applied'], back.json['reloads']], [200, true, 1]);
    assert.doesNotMatch(await a.runningConfig(), /^log stdout/m);
  });

  test("a config FRR refuses while applying: 500 with FRR's message; the last good one still re-applies", async () => {
    const good = await readFile(stateFile(), 'utf8');
    const bad = good.replace(
      ' neighbor 192.168.77.2 timers connect 1\n',
      ' neighbor 192.168.77.2 timers connect 1\n neighbor va interface remote-as external\n neighbor va disable-connected-check\n',
    );
    assert.notEqual(bad, good);
    const r = await post(bad);
    assert.equal(r.status, 500, JSON.stringify(r.json));
    assert.equal(r.json['error'], 'reload-failed');
    const message = String(r.json['message']);
    assert.match(
      message,
      /^frr-reload\.py --reload exited 1 \(pass 1\); frr-reload\.py --reload exited 1 \(pass 2\):$/m,
    );
    assert.match(message, /^va is directly connected peer, cannot accept disable-connected-check$/m);
    assert.doesNotMatch(message, /INFO|failed due to/);
    assert.match(String(r.json['message']), /^line \d+: Failure to communicate\[13\] to bgpd/m);
    assert.deepEqual((r.json['remaining'] as { toAdd: string[] }).toAdd, [
      'router bgp 64514 > neighbor va disable-connected-check',
    ]);
    assert.equal(await readFile(stateFile(), 'utf8'), good);
    const back = await post(good);
    assert.deepEqual([back.status, back.json['applied']], [200, true], JSON.stringify(back.json));
    assert.doesNotMatch(await a.runningConfig(), /neighbor va/);
  });

  test('a vrf stanza frr-reload.py 8.4 misapplies with exit 0 is repaired by the verify + second pass', async () => {
    const fixture = await readFile(
      join(repoRoot(), 'test', 'fixtures', 'frr', 'vrf-after-router-bgp.conf'),
      'utf8',
    );
    const v = await startFrr({ name: 'rl-vrf', daemons: ['bgpd'] });
    try {
      const frr = new FrrReload({ target: { pathspace: v.ns, netns: v.ns }, runner: rec.runner });
      const from = rec.calls.length;
      const r = await frr.apply(fixture.replace('hostname worker-1', `hostname ${HOST}`));
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.reloads, 2);
      assert.deepEqual(
        rec.calls.slice(from).map((c) => c.mode),
        ['--test', '--reload', '--test', '--reload', '--test'],
      );
      const running = await v.runningConfig();
      assert.match(running, /^vrf red\n vni 100\nexit-vrf$/m);
      assert.doesNotMatch(running, /vrf-policy|vnc/);
    } finally {
      await v.stop();
    }
  });

  test('concurrent POSTs are applied one after another, in order, and the last one wins', async () => {
    const confs = ['10.3.0.0/24', '10.4.0.0/24', '10.5.0.0/24'].map((n) => configA('10.1.0.0/24', n));
    const from = rec.calls.length;
    const pending: Promise<HttpAnswer>[] = [];
    for (const c of confs) {
      pending.push(post(c));
      await sleep(40);
    }
    const answers = await Promise.all(pending);
    for (const r of answers)
      assert.deepEqual([r.status, r.json['applied']], [200, true], JSON.stringify(r.json));
    const mine = rec.calls.slice(from).toSorted((x, y) => x.start - y.start);
    for (let i = 1; i < mine.length; i++) {
      assert.ok(mine[i]!.start >= mine[i - 1]!.end, 'frr-reload.py runs never overlap');
    }
    const order = mine
      .filter((c) => c.mode === '--reload')
      .map((c) => c.networks[1])
      .filter((n, i, all) => n !== all[i - 1]);
    assert.deepEqual(order, ['network 10.3.0.0/24', 'network 10.4.0.0/24', 'network 10.5.0.0/24']);
    const running = await a.runningConfig();
    assert.match(running, /^ {2}network 10\.5\.0\.0\/24$/m);
    assert.doesNotMatch(running, /10\.[34]\.0\.0/);
    assert.equal(await readFile(stateFile(), 'utf8'), confs[2]);
    assert.ok((answers[2]!.json['queuedMs'] as number) > 0, 'the last one waited in the queue');
  });

  test('healthz and readyz: 200 with the daemons up, readyz 503 naming bgpd once it is killed', async () => {
    const h = await http(sock(), 'GET', '/healthz');
    assert.equal(h.status, 200, JSON.stringify(h.json));
    const ready = await http(sock(), 'GET', '/readyz');
    assert.equal(ready.status, 200, JSON.stringify(ready.json));
    assert.deepEqual(ready.json['daemons'], ['zebra', 'bgpd', 'staticd', 'bfdd']);
    const health = await reloaderHealth(sock());
    assert.deepEqual([health.healthy, health.ready], [true, true]);

    await killDaemons(a, ['bgpd']);
    const notReady = await http(sock(), 'GET', '/readyz');
    assert.equal(notReady.status, 503);
    assert.equal(notReady.json['reason'], 'daemons not running: bgpd');
    assert.equal((await http(sock(), 'GET', '/healthz')).status, 200, 'vtysh still answers');
    const h2 = await reloaderHealth(sock());
    assert.deepEqual([h2.healthy, h2.ready, h2.reason], [true, false, 'daemons not running: bgpd']);
    // A config pushed meanwhile is refused (retriable 503) without touching FRR.
    const calls = reloads();
    const refused = await post(configA('10.1.0.0/24', '10.6.0.0/24'));
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.json, { error: 'frr-not-ready', message: 'FRR is not ready: bgpd not running' });
    assert.equal(reloads(), calls);

    // bgpd comes back empty: the reloader sees its new pid and re-applies the last good config.
    const restartsBefore = log.records.filter((r) => r['event'] === 'frr-restart-detected').length;
    await startDaemons(a, ['bgpd']);
    await waitFor('bgpd config re-applied', async () =>
      /^ {2}network 10\.5\.0\.0\/24$/m.test(await a.runningConfig()) ? true : undefined,
    );
    assert.equal(log.records.filter((r) => r['event'] === 'frr-restart-detected').length, restartsBefore + 1);
    assert.equal((await http(sock(), 'GET', '/readyz')).status, 200);
    await server!.idle();
    assert.deepEqual(server!.reapplyStatus().state, 'ok');
  });

  test('all daemons killed and restarted empty: the reloader re-applies the last good config by itself', async () => {
    const good = await readFile(stateFile(), 'utf8');
    const eventsFrom = log.records.length;
    await killDaemons(a, ['zebra', 'bgpd', 'staticd', 'bfdd']);
    const h = await http(sock(), 'GET', '/healthz');
    assert.equal(h.status, 503, 'vtysh cannot reach FRR');
    assert.match(String(h.json['reason']), /failed to connect to any daemons/);
    const t0 = Date.now();
    await startDaemons(a, ['zebra', 'bgpd', 'staticd', 'bfdd']);
    const running = await waitFor('last good config re-applied', async () => {
      const rc = await a.runningConfig();
      return /^ neighbor 192\.168\.77\.2 remote-as 64515$/m.test(rc) && /10\.5\.0\.0\/24/.test(rc)
        ? rc
        : undefined;
    });
    timings['restartToReapplied'] = Date.now() - t0;
    assert.match(running, /^ bgp router-id 10\.0\.0\.1$/m);
    await server!.idle();
    const reapplied = log.records.filter((r) => r['event'] === 'frr-reapply').at(-1);
    assert.equal(reapplied?.['result'], 'applied');
    timings['reapply'] = reapplied?.['timings'];
    const events = log.records.slice(eventsFrom).map((r) => `${r['event']}:${r['result'] ?? ''}`);
    const restarts = events.filter((e) => e.startsWith('frr-restart-detected')).length;
    timings['restartEvents'] = restarts;
    assert.ok(restarts >= 1, events.join(' '));
    assert.equal(events.filter((e) => e === 'frr-reapply:applied').length, restarts, events.join(' '));
    // FRR runs the last good config again: the same POST is a no-op.
    const calls = reloads();
    const r = await post(good);
    assert.deepEqual([r.status, r.json['applied']], [200, false]);
    assert.equal(reloads(), calls);
    await waitFor('BGP session back', async () =>
      (await neighbor(a, '192.168.77.2')).bgpState === 'Established' ? true : undefined,
    );
  });

  test('HTTP errors: 404, 405, 413, 415, 400', async () => {
    const nf = await http(sock(), 'GET', '/nope');
    assert.equal(nf.status, 404);
    const m1 = await http(sock(), 'GET', '/frr');
    assert.equal(m1.status, 405);
    assert.equal(m1.headers['allow'], 'POST');
    assert.equal((await http(sock(), 'POST', '/healthz', 'x')).status, 405);
    assert.equal((await http(sock(), 'DELETE', '/readyz')).status, 405);
    const calls = reloads();
    const big = Buffer.alloc(16 * 1024 * 1024 + 1, 'a');
    const tooBig = await post(big);
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.json['error'], 'too-large');
    assert.equal((await post('x', { 'content-type': 'application/json' })).status, 415);
    assert.equal((await post('  \n')).status, 400);
    assert.equal(reloads(), calls, 'none of these reached FRR');
    // The server is still fine afterwards.
    assert.equal((await http(sock(), 'GET', '/healthz')).status, 200);
  });

  test('a request log line per request, JSON-serialisable', () => {
    const reqs = log.records.filter((r) => r['event'] === 'request');
    assert.ok(reqs.length >= 10);
    for (const r of reqs) {
      assert.equal(typeof r['status'], 'number');
      assert.equal(typeof r['durationMs'], 'number');
      JSON.parse(JSON.stringify(r));
    }
    const applied = log.records.filter((r) => r['event'] === 'frr-apply' && r['result'] === 'applied');
    assert.ok(applied.every((r) => typeof (r['timings'] as { totalMs?: unknown }).totalMs === 'number'));
  });
});

describe('reloader client and subcommand against real FRR', gate(isRoot, hasFrr), () => {
  let c: FrrInstance;
  let dir = '';
  const servers: ReloaderServer[] = [];
  const conf = (net: string): string =>
    `hostname ${HOST}\n!\nrouter bgp 64520\n bgp router-id 10.20.0.1\n no bgp network import-check\n !\n address-family ipv4 unicast\n  network ${net}\n exit-address-family\nexit\n!\n`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oprt-reloader-cmd-'));
    c = await startFrr({ name: 'rl-client' });
  });
  after(async () => {
    for (const s of servers) await s.close();
    await stopAllFrr();
    await rm(dir, { recursive: true, force: true });
  });

  test('the client retries while the reloader is not listening yet, then succeeds', async () => {
    const path = join(dir, 'late', 'reloader.sock');
    const t0 = Date.now();
    const pending = applyFrrConfig(path, conf('10.20.1.0/24'), { retries: 8, backoffMs: 100 });
    await sleep(500);
    servers.push(
      await startReloaderServer({
        socketPath: path,
        stateFile: join(dir, 'late-state.conf'),
        target: { pathspace: c.ns, netns: c.ns },
        restartCheckIntervalMs: 0,
        logger: memoryLogger(),
      }),
    );
    const r = await pending;
    assert.equal(r.applied, true);
    assert.ok(r.attempts > 1, `attempts ${r.attempts}`);
    assert.ok(Date.now() - t0 >= 500);
    assert.match(await c.runningConfig(), /^ {2}network 10\.20\.1\.0\/24$/m);
    const again = await applyFrrConfig(path, conf('10.20.1.0/24'));
    assert.deepEqual([again.applied, again.attempts], [false, 1]);
  });

  test('the client does not retry a 422 and carries FRR’s message', async () => {
    const path = join(dir, 'late', 'reloader.sock');
    const t0 = Date.now();
    await assert.rejects(
      applyFrrConfig(path, conf('10.20.2.0/24').replace('!\nrouter', 'frobnicate\n!\nrouter'), {
        retries: 5,
        backoffMs: 2000,
      }),
      (e) => {
        assert.ok(e instanceof ReloaderError);
        assert.equal(e.kind, 'rejected');
        assert.equal(e.status, 422);
        assert.equal(e.attempts, 1);
        assert.match(e.frrMessage ?? '', /% Unknown command: frobnicate/);
        assert.match(e.message, /^FRR rejected the config: line 2: % Unknown command: frobnicate$/);
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 2000, 'no backoff wait');
  });

  test('FrrReload addresses FRR by explicit directories too (--vty_socket/--confdir/--rundir)', async () => {
    const frr = new FrrReload({
      target: { vtySocket: c.runDir, confDir: c.confDir, runDir: dir },
    });
    const t = await frr.test(conf('10.20.1.0/24'));
    assert.ok(t.ok, t.output);
    assert.deepEqual(t.changes, { toAdd: [], toDelete: [] });
    const r = await frr.apply(conf('10.20.3.0/24'));
    assert.ok(r.ok, JSON.stringify(r));
    assert.match(await c.runningConfig(), /^ {2}network 10\.20\.3\.0\/24$/m);
  });

  test('`reloader` subcommand: SIGTERM lets the running reload finish, then removes the socket', async () => {
    for (const s of servers.splice(0)) await s.close();
    const path = join(dir, 'cmd', 'reloader.sock');
    const state = join(dir, 'cmd-state', 'last-good.conf');
    const script = [
      "import { Command } from 'commander';",
      "import { registerReloaderCommand } from './dist/src/frr/reloader-command.js';",
      'const p = new Command();',
      'registerReloaderCommand(p);',
      'await p.parseAsync(process.argv.slice(1), { from: "user" });',
    ].join('\n');
    const args = ['reloader', '--socket', path, '--state-file', state, '--pathspace', c.ns, '--netns', c.ns];
    args.push('--restart-check-interval', '500', '--daemons', 'zebra,bgpd');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], {
      cwd: repoRoot(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await waitFor('the subcommand to listen', async () => (existsSync(path) ? true : undefined), 10_000);
      // Its restart watch sees the daemons up (after one debounce interval).
      await waitFor('frr-up', async () => (stderr.includes('"event":"frr-up"') ? true : undefined), 10_000);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      const ready = await reloaderHealth(path);
      assert.deepEqual([ready.healthy, ready.ready], [true, true], ready.reason);
      const pending = applyFrrConfig(path, conf('10.20.4.0/24'), { retries: 0 });
      await sleep(150); // the apply is under way (it takes ~1 s)
      child.kill('SIGTERM');
      const r = await pending;
      assert.equal(r.applied, true);
      assert.equal(await exited, 0, stderr);
      assert.equal(existsSync(path), false, 'socket removed');
      assert.equal(await readFile(state, 'utf8'), conf('10.20.4.0/24'));
      assert.match(await c.runningConfig(), /^ {2}network 10\.20\.4\.0\/24$/m);
      const events = stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogFields);
      const names = events.map((e) => e['event']);
      for (const e of ['listening', 'frr-up', 'frr-apply', 'signal', 'shutdown', 'stopped']) {
        assert.ok(names.includes(e), `log event ${e} in ${names.join(',')}`);
      }
      assert.ok(names.indexOf('frr-apply') < names.indexOf('stopped'));
      assert.ok(events.every((e) => typeof e['time'] === 'string' && typeof e['msg'] === 'string'));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
});
